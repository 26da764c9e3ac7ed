"""Streamable HTTP transport: the request guard and the uvicorn runner.

:class:`Guard` wraps the SDK's ASGI app and checks every HTTP request before
the MCP layer sees it:

- ``Origin`` (when a browser sends one) must be a loopback origin or one given
  with ``--allow-origin``: 403 otherwise. This is the MCP spec's defence against
  DNS rebinding.
- ``Host`` must name a loopback address when the server listens on loopback:
  421 otherwise (same defence, for requests without an Origin).
- With a token (``CASTOFF_TOKEN``), ``Authorization: Bearer <token>`` is required
  on every request: 401 otherwise. Binding a non-loopback address without a
  token is refused before the server starts.
- With the dashboard (``browser_login``), a browser may instead open any page
  other than ``/mcp`` once with ``?token=<token>``: the answer sets an
  ``HttpOnly; SameSite=Strict`` cookie and reloads the same address without the
  token; the cookie opens the dashboard's pages (never ``/mcp``) from then on. It
  holds an HMAC of the token, not the token.

:func:`serve_http` serves the MCP app at ``/mcp`` and, when given, the dashboard
(``site``) at every other path, behind one Guard.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import logging
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from castoff.errors import UsageError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("castoff.mcp")

TOKEN_ENV = "CASTOFF_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MCP_PATH = "/mcp"
COOKIE = "castoff_token"
TOKEN_PARAM = "token"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a bearer token."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"listening on {host} exposes the orchestrator to the network; "
            f"set {TOKEN_ENV} to require a bearer token, or bind 127.0.0.1"
        )


class Guard:
    """ASGI middleware: Origin / Host validation and the bearer token check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        loopback_only: bool,
        allowed_origins: Iterable[str] = (),
        browser_login: bool = False,
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.loopback_only = loopback_only
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self.browser_login = browser_login
        self.cookie = (
            hmac.new(self.token, b"castoff dashboard cookie", hashlib.sha256).hexdigest()
            if self.token
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is not None and not self._origin_ok(origin):
            logger.warning("refused request from origin %r", origin)
            await _reply(send, 403, "origin not allowed")
            return
        if self.loopback_only and not _host_ok(headers.get("host")):
            logger.warning("refused request for host %r", headers.get("host"))
            await _reply(send, 421, "host not allowed")
            return
        if self.token is not None:
            browser = self.browser_login and not is_mcp_path(scope["path"])
            query = parse_qsl(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            )
            if browser and any(name == TOKEN_PARAM for name, _ in query):
                await self._login(scope, send, query)
                return
            if not (
                self._token_ok(headers.get("authorization"))
                or (browser and self._cookie_ok(headers.get("cookie")))
            ):
                hint = (
                    f"; in a browser, open this page once with ?{TOKEN_PARAM}=…" if browser else ""
                )
                await _reply(
                    send,
                    401,
                    f"missing or wrong bearer token{hint}",
                    [(b"www-authenticate", b'Bearer realm="castoff"')],
                )
                return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, send: Send, query: list[tuple[str, str]]) -> None:
        """``?token=``: the right one sets the cookie, then the page reloads without it.

        The reload is a ``<meta refresh>`` of this (same-site) page rather than a
        redirect: a browser does not send a SameSite=Strict cookie along a redirect
        chain that another site's link started, so the page would be refused once.
        """
        given = next(value for name, value in query if name == TOKEN_PARAM)
        if self.token is None or not hmac.compare_digest(given.encode(), self.token):
            await _reply(send, 401, "wrong token")
            return
        rest = urlencode([(name, value) for name, value in query if name != TOKEN_PARAM])
        # one leading slash: "//host" would send the browser to another site
        target = "/" + quote(scope["path"]).lstrip("/") + (f"?{rest}" if rest else "")
        shown = html.escape(target, quote=True)
        body = (
            '<!doctype html><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={shown}">'
            f'<title>castoff</title><p>Signed in. <a href="{shown}">Continue</a>.</p>\n'
        ).encode()
        cookie = f"{COOKIE}={self.cookie}; Path=/; HttpOnly; SameSite=Strict"
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"set-cookie", cookie.encode("latin-1")),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _origin_ok(self, origin: str) -> bool:
        if origin.rstrip("/") in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")

    def _token_ok(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "bearer" or self.token is None:
            return False
        return hmac.compare_digest(value.strip().encode(), self.token)

    def _cookie_ok(self, header: str | None) -> bool:
        if not header or self.cookie is None:
            return False
        try:
            morsel = SimpleCookie(header).get(COOKIE)
        except CookieError:
            return False
        return morsel is not None and hmac.compare_digest(
            morsel.value.encode(), self.cookie.encode()
        )


def is_mcp_path(path: str) -> bool:
    """True for ``/mcp`` and the paths below it (the MCP endpoint; everything else is pages)."""
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")


def _host_ok(host: str | None) -> bool:
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return is_loopback(name)


async def _reply(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


class PathRouter:
    """ASGI: ``/mcp`` (and lifespan events) to the MCP app, every other path to ``site``."""

    def __init__(self, mcp_app: ASGIApp, site: ASGIApp) -> None:
        self.mcp_app = mcp_app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not is_mcp_path(scope["path"]):
            await self.site(scope, receive, send)
        else:
            await self.mcp_app(scope, receive, send)


def serve_http(
    server: MCPServer,
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_origins: Iterable[str] = (),
    site: ASGIApp | None = None,
) -> None:
    """Serve ``server`` over streamable HTTP at ``http://host:port/mcp`` until interrupted;
    ``site`` (the dashboard), when given, at every other path."""
    import sys

    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    check_bind(host, token)
    # Host/Origin checks live in Guard (one place, same rules for every bind address).
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if site is not None:
        app = PathRouter(app, site)
    guarded = Guard(
        app,
        token=token,
        loopback_only=is_loopback(host),
        allowed_origins=allowed_origins,
        browser_login=site is not None,
    )
    shown = f"[{host}]" if ":" in host else host
    lines = [
        f"castoff: MCP over streamable HTTP on http://{shown}:{port}{MCP_PATH}"
        f"{' (bearer token required)' if token else ''}"
    ]
    if site is not None:
        login = f" (in a browser, open it once with ?{TOKEN_PARAM}=<${TOKEN_ENV}>)" if token else ""
        lines.append(f"castoff: read-only dashboard on http://{shown}:{port}/{login}")
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()
    config = uvicorn.Config(
        guarded, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()
