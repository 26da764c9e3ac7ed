"""The dashboard behind a token: bearer header, the one-time `?token=` and its cookie.

One server with CASTOFF_TOKEN on the light sample repository (nothing released).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import Server, serve

TOKEN = "s3cret-token"
BEARER = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def project(light_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the light sample repository, never released."""
    return Path(shutil.copytree(light_template, tmp_path_factory.mktemp("guarded") / "skyline"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    """``castoff serve`` with CASTOFF_TOKEN set."""
    running = serve(project, TOKEN)
    yield running
    running.stop()


def get(server: Server, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(server.base + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_pages_and_api_need_the_token(server: Server) -> None:
    """Without a token, or with a wrong one, every page and endpoint is 401."""
    for path in ("/", "/tasks", "/api/status", "/static/dashboard.css"):
        refused = get(server, path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "?token=" in refused.json()["error"]
    assert get(server, "/", headers={"authorization": "Bearer nope"}).status_code == 401


def test_bearer_header_opens_everything(server: Server) -> None:
    """`Authorization: Bearer <token>` works for pages and the API."""
    assert get(server, "/", headers=BEARER).status_code == 200
    assert get(server, "/api/status", headers=BEARER).json()["total"] == 0


def test_token_parameter_sets_a_strict_cookie(server: Server) -> None:
    """`?token=` once: an HttpOnly SameSite=Strict cookie (not the token itself) and a
    reload of the same page without the token; the cookie opens the pages from then on."""
    signed_in = get(server, "/tasks", params={"status": "pending", "token": TOKEN})
    assert signed_in.status_code == 200
    assert '<meta http-equiv="refresh" content="0;url=/tasks?status=pending">' in signed_in.text
    assert signed_in.headers["referrer-policy"] == "no-referrer"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert TOKEN not in cookie
    value = signed_in.cookies["castoff_token"]
    page = get(server, "/tasks?status=pending", cookies={"castoff_token": value})
    assert page.status_code == 200
    assert get(server, "/", cookies={"castoff_token": "forged"}).status_code == 401


def test_wrong_token_parameter_sets_nothing(server: Server) -> None:
    """A wrong `?token=` is 401 without a cookie."""
    refused = get(server, "/", params={"token": "guess"})
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers


def test_cookie_never_opens_mcp(server: Server) -> None:
    """The dashboard cookie is for pages: /mcp still needs the bearer header."""
    value = get(server, "/", params={"token": TOKEN}).cookies["castoff_token"]
    response = httpx.post(
        server.url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        cookies={"castoff_token": value},
        timeout=30,
    )
    assert response.status_code == 401
    assert get(server, "/mcp", params={"token": TOKEN}).status_code == 401


def test_sign_in_reload_stays_on_the_site(server: Server) -> None:
    """`//evil.example/x?token=` reloads a path here, never another host."""
    response = httpx.get(f"{server.base}//evil.example/x?token={TOKEN}", timeout=30)
    assert response.status_code == 200
    assert 'content="0;url=/evil.example/x"' in response.text
    tricky = get(server, "/", params={"q": '"><script>x</script>', "token": TOKEN})
    assert "<script>" not in tricky.text
    assert "0;url=/?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E" in tricky.text


def test_post_is_405_even_with_the_token(server: Server) -> None:
    """The dashboard is read-only: a signed-in POST is 405."""
    response = httpx.post(server.base + "/api/status", headers=BEARER, timeout=30)
    assert response.status_code == 405


def test_foreign_origin_is_403_before_the_token(server: Server) -> None:
    """Another site's page is refused even with the right token."""
    headers = {**BEARER, "origin": "http://evil.example"}
    assert get(server, "/api/status", headers=headers).status_code == 403


def test_release_view_without_a_release(server: Server) -> None:
    """No release yet: the page says so (200), the API answers 404 with the message."""
    page = get(server, "/release", headers=BEARER)
    assert page.status_code == 200
    assert "no release has been prepared here yet" in page.text
    api = get(server, "/api/release", headers=BEARER)
    assert api.status_code == 404
    assert api.json()["error"] == "no release has been prepared here yet"


def test_no_dashboard_serves_only_mcp(project: Path) -> None:
    """`--no-dashboard`: every path but /mcp is 404 (the MCP app's), nothing rendered."""
    bare = serve(project, None, "--no-dashboard")
    try:
        assert get(bare, "/").status_code == 404
        assert get(bare, "/api/status").status_code == 404
    finally:
        bare.stop()
