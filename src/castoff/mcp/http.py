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
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from castoff.errors import UsageError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("castoff.mcp")

TOKEN_ENV = "CASTOFF_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MCP_PATH = "/mcp"


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
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.loopback_only = loopback_only
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)

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
        if self.token is not None and not self._token_ok(headers.get("authorization")):
            await _reply(
                send,
                401,
                "missing or wrong bearer token",
                [(b"www-authenticate", b'Bearer realm="castoff"')],
            )
            return
        await self.app(scope, receive, send)

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


def serve_http(
    server: MCPServer,
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_origins: Iterable[str] = (),
) -> None:
    """Serve ``server`` over streamable HTTP at ``http://host:port/mcp`` until interrupted."""
    import sys

    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    check_bind(host, token)
    # Host/Origin checks live in Guard (one place, same rules for every bind address).
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    guarded = Guard(
        app, token=token, loopback_only=is_loopback(host), allowed_origins=allowed_origins
    )
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"castoff: MCP over streamable HTTP on http://{shown}:{port}{MCP_PATH}"
        f"{' (bearer token required)' if token else ''}\n"
    )
    sys.stderr.flush()
    config = uvicorn.Config(
        guarded, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()
