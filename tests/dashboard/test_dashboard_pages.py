"""The dashboard's pages and JSON API on a released sample repository (one server).

The store holds the light sample repository's release of v2.0.0 and one task
whose title, description, context and artifact carry HTML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard_helpers import Server, serve
from workflow_sample import Run, castoff_json

from castoff.orchestrator.models import ArtifactInput
from castoff.orchestrator.service import Orchestrator

XSS = "<script>alert(1)</script>"
HTML_ARTIFACT = "<html><script>alert('artifact')</script></html>\n"
BINARY = bytes(range(256))


@dataclass
class Site:
    """The running server, its project and the task with HTML in it."""

    server: Server
    repo: Path
    task_id: str
    html_sha: str
    binary_sha: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.server.base + path, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def site(released: tuple[Path, Run]) -> Iterator[Site]:
    """The released repository plus a task with HTML everywhere, served by ``castoff serve``."""
    repo, _run = released
    with Orchestrator.open(repo, actor="test") as orch:
        task = orch.plan_task(
            f"{XSS} deploy",
            description="<b>not bold</b>",
            context={"note": "<img src=x onerror=alert(2)>"},
        )
        orch.execute_task(task.id)
        done = orch.complete_task(
            task.id,
            "shipped <i>it</i>",
            artifacts=[
                ArtifactInput("page.html", HTML_ARTIFACT, "code"),
                ArtifactInput("blob.bin", BINARY),
            ],
        )
    shas = {a.name: a.sha256 for a in done.artifacts}
    server = serve(repo)
    yield Site(server, repo, task.id, shas["page.html"], shas["blob.bin"])
    server.stop()


def test_overview_shows_counts_progress_and_the_release(site: Site) -> None:
    """`/` has the counts per status (linked to the tree), the progress and the release."""
    page = site.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert 'href="/tasks?status=completed">9</a>' in page.text
    assert '<progress value="1.0" max="1">' in page.text
    assert "expired leases" in page.text
    assert "released v2.0.0" in page.text


def test_html_pages_carry_a_strict_policy(site: Site) -> None:
    """Every page forbids scripts, frames and foreign styles, and sniffing."""
    for path in ("/", "/tasks", f"/tasks/{site.task_id}", "/events", "/release"):
        headers = site.get(path).headers
        assert "script-src" not in headers["content-security-policy"]
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_task_tree_nests_the_steps_under_the_release(site: Site) -> None:
    """The tree lists the release first, its steps one level below, with durations."""
    page = site.get("/tasks")
    rows = re.findall(r'<td class="depth-(\d)"><a href="/tasks/[0-9a-f]+">([^<]*)</a>', page.text)
    assert rows[0] == ("0", "Release v2.0.0")
    assert rows[1:8] == [
        ("1", title)
        for title in (
            "Compute the next version",
            "Write the release notes",
            "Update version files and CHANGELOG; commit",
            "Pre-flight validation",
            "Plan and verify the rollback",
            "Draft the announcements",
            "Tag the release",
        )
    ]
    assert re.search(r'<td class="num">\d+\.\d\d s</td>', page.text)


def test_task_tree_filters_by_status(site: Site) -> None:
    """`?status=` keeps only those tasks (and ticks the box)."""
    page = site.get("/tasks", params={"status": "pending"})
    assert "no task matches" in page.text
    assert 'value="pending" checked' in page.text


def test_html_in_task_data_is_escaped(site: Site) -> None:
    """A title, description, summary and context with HTML are shown as text."""
    for path in ("/tasks", f"/tasks/{site.task_id}", "/"):
        text = site.get(path).text
        assert XSS not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt; deploy" in text, path
    page = site.get(f"/tasks/{site.task_id}").text
    assert "<b>not bold</b>" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "shipped &lt;i&gt;it&lt;/i&gt;" in page


def test_task_page_lists_fields_artifacts_and_events(site: Site) -> None:
    """The task page has its artifacts (view and raw links) and its events."""
    page = site.get(f"/tasks/{site.task_id}").text
    assert f'href="/tasks/{site.task_id}/artifacts/{site.html_sha}">page.html</a>' in page
    assert f'href="/api/tasks/{site.task_id}/artifacts/{site.html_sha}">raw</a>' in page
    for kind in ("task.planned", "task.in_progress", "task.completed"):
        assert f"<code>{kind}</code>" in page


def test_artifact_view_shows_content_as_text(site: Site) -> None:
    """An artifact page shows the content escaped inside <pre>."""
    page = site.get(f"/tasks/{site.task_id}/artifacts/{site.html_sha}")
    assert page.status_code == 200
    assert "<script>alert('artifact')</script>" not in page.text
    assert "&lt;script&gt;alert(&#39;artifact&#39;)&lt;/script&gt;" in page.text


def test_raw_artifact_is_plain_text_never_html(site: Site) -> None:
    """The raw content is text/plain, nosniff and sandboxed, byte for byte."""
    raw = site.get(f"/api/tasks/{site.task_id}/artifacts/{site.html_sha}")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in raw.headers["content-security-policy"]
    assert raw.text == HTML_ARTIFACT


def test_binary_artifact_is_a_download(site: Site) -> None:
    """Binary content is offered as an attachment, not shown."""
    page = site.get(f"/tasks/{site.task_id}/artifacts/{site.binary_sha}")
    assert "Binary content" in page.text
    raw = site.get(f"/api/tasks/{site.task_id}/artifacts/{site.binary_sha}")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"] == 'attachment; filename="blob.bin"'
    assert raw.content == BINARY


def test_unknown_ids_are_404(site: Site) -> None:
    """An unknown task, or an artifact of another task, is 404 (HTML and JSON)."""
    assert site.get("/tasks/nope").status_code == 404
    missing = site.get("/api/tasks/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "no task with id nope in this session"
    other = site.get(f"/api/tasks/{site.task_id}/artifacts/{'0' * 64}")
    assert other.status_code == 404
    assert site.get("/no/such/page").status_code == 404


def test_event_log_pages_with_before(site: Site) -> None:
    """The log is newest first; `before=` the last id of a page gives the next, no overlap."""
    first = site.get("/api/events", params={"limit": 10}).json()
    second = site.get("/api/events", params={"limit": 10, "before": first[-1]["id"]}).json()
    both = site.get("/api/events", params={"limit": 20}).json()
    assert [e["id"] for e in first + second] == [e["id"] for e in both]
    assert [e["id"] for e in both] == sorted((e["id"] for e in both), reverse=True)
    page = site.get("/events", params={"limit": 10})
    assert f'href="/events?limit=10&amp;before={first[-1]["id"]}" rel="next"' in page.text
    older = site.get("/events", params={"limit": 10, "before": first[-1]["id"]}).text
    assert f'<td class="num">{second[0]["id"]}</td>' in older
    assert f'<td class="num">{first[0]["id"]}</td>' not in older


def test_release_view_has_steps_durations_and_report(site: Site) -> None:
    """`/release`: the step tree with states and durations, and the report as HTML."""
    page = site.get("/release").text
    assert "Release v2.0.0" in page
    assert page.count('<td class="depth-1">') == 7
    assert re.search(r'<td class="num">\d+\.\d\d s</td>', page)
    assert "<h2>Release notes</h2>" in page  # the report's Markdown, rendered
    assert "<table>" in page
    assert "release-report.md (raw)" in page


def test_api_speaks_the_cli_json(site: Site) -> None:
    """/api/release is `castoff release status --json`; /api/status has get-status's fields."""
    cli_release = castoff_json("release", "status", "-C", str(site.repo))
    assert site.get("/api/release").json() == cli_release.data
    cli_status = castoff_json("orchestrator", "get-status", "-C", str(site.repo))
    api_status = site.get("/api/status").json()
    assert api_status.keys() == cli_status.data.keys()
    assert api_status["counts"] == cli_status.data["counts"]
    task = site.get(f"/api/tasks/{site.task_id}").json()
    assert task["title"] == f"{XSS} deploy"
    assert {a["name"] for a in task["artifacts"]} == {"page.html", "blob.bin"}


def test_api_tasks_takes_query_tasks_parameters(site: Site) -> None:
    """/api/tasks filters like query_tasks; a bad value is 400 with the message."""
    page = site.get("/api/tasks", params={"search_text": "deploy", "limit": 5}).json()
    assert [t["id"] for t in page["tasks"]] == [site.task_id]
    assert (page["total"], page["limit"], page["has_more"]) == (1, 5, False)
    bad = site.get("/api/tasks", params={"limit": 0})
    assert bad.status_code == 400
    assert bad.json()["error"] == "limit must be between 1 and 1000 (got 0)"
    assert site.get("/api/tasks", params={"status": "bogus"}).status_code == 400


def test_only_get_is_answered(site: Site) -> None:
    """POST, PUT and DELETE are 405 with Allow: GET, HEAD; HEAD works."""
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/", "/api/status", f"/api/tasks/{site.task_id}"):
            response = httpx.request(method, site.server.base + path, timeout=30)
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == "GET, HEAD"
    assert httpx.head(site.server.base + "/release", timeout=30).status_code == 200


def test_foreign_origin_is_refused(site: Site) -> None:
    """A page of another site cannot read the dashboard (403), a loopback one can."""
    assert site.get("/api/status", headers={"origin": "http://evil.example"}).status_code == 403
    assert site.get("/api/status", headers={"origin": "http://localhost:3000"}).status_code == 200
    assert site.get("/", headers={"host": "attacker.example"}).status_code == 421


def test_auto_refresh_is_a_meta_refresh_toggle(site: Site) -> None:
    """`?refresh=N` adds <meta refresh> and keeps it on the navigation links."""
    assert 'http-equiv="refresh"' not in site.get("/").text
    page = site.get("/", params={"refresh": 10}).text
    assert '<meta http-equiv="refresh" content="10">' in page
    assert 'href="/tasks?refresh=10"' in page
    assert 'href="/">auto-refresh on' not in page
    assert 'href="/" class="toggle on"' in page


def test_mcp_is_still_served_beside_the_pages(site: Site) -> None:
    """/mcp answers MCP (the dashboard takes every other path)."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    response = httpx.post(
        site.server.url,
        content=json.dumps(init),
        headers={
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert "castoff" in response.text


def test_release_of_an_unknown_package(site: Site) -> None:
    """`?package=` is `release status --package`: an unknown one is 400 (API) or said (page)."""
    api = site.get("/api/release", params={"package": "nope"})
    assert api.status_code == 400
    assert api.json()["error"] == "unknown package 'nope' (packages: none configured)"
    page = site.get("/release", params={"package": "a&b"})
    assert page.status_code == 200
    assert "unknown package &#39;a&amp;b&#39;" in page.text
    assert 'value="a&amp;b"' in page.text
