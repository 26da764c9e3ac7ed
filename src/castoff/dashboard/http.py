"""HTTP plumbing of the dashboard: read-only answers, security headers, errors, parameters.

- :class:`ReadOnly` answers GET and HEAD only (405 otherwise) and adds the
  security headers (:data:`HEADERS`) to every answer that does not set its own.
- :func:`http_status` is the one mapping of castoff's errors to HTTP statuses.
- :func:`json_response` writes JSON as the CLI's ``--json`` does.
- :func:`int_param` / :func:`bool_param` read query parameters (a bad one is a
  UsageError, so 400 with the reason).
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response

from castoff.errors import CastoffError, ConflictError, NotFound, StoreError, UsageError
from castoff.serialize import to_data

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD"})
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
RAW_CSP = "default-src 'none'; sandbox"
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def http_status(exc: CastoffError) -> int:
    """The HTTP status of an expected error (the one mapping, like the CLI's exit codes)."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, StoreError):
        return 503
    return 500


class ReadOnly:
    """ASGI: GET and HEAD only (405 otherwise), and the security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in READ_METHODS:
            response = json_response({"error": "the dashboard is read-only (GET only)"}, 405)
            response.headers["allow"] = "GET, HEAD"
            await response(scope, receive, partial(_with_headers, send))
            return
        await self.app(scope, receive, partial(_with_headers, send))


async def _with_headers(send: Send, message: Message) -> None:
    if message["type"] == "http.response.start":
        headers = MutableHeaders(scope=message)
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
    await send(message)


def json_response(data: Any, status_code: int = 200) -> Response:
    """JSON as the CLI's ``--json`` prints it."""
    body = json.dumps(to_data(data), indent=2, ensure_ascii=False) + "\n"
    return Response(body, status_code=status_code, media_type="application/json")


def int_param(request: Request, name: str, default: int | None) -> Any:
    """The whole number ``?name=`` (``default`` when absent or empty)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number (got {raw!r})") from None


def bool_param(request: Request, name: str, *, default: bool) -> bool:
    """``?name=true|false`` (also 1/0, yes/no, on/off)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{name} must be true or false (got {raw!r})")
