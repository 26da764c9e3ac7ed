"""castoff's answers to ``tools/call`` and ``tasks/*``, ahead of the SDK's dispatch.

The SDK's ``tools/call`` path dumps a tool's ``CallToolResult`` to a dict, then
validates and dumps it again against the protocol version's schema before the
transport encodes it: three more walks over a result that castoff already
built, in its wire form, from its own typed dataclasses (:mod:`castoff.mcp.results`).
For a page of 50 tasks that is about half a millisecond per call. So on
handshake-era connections (protocol 2024-11-05 … 2025-11-25) this server
middleware answers ``tools/call`` for castoff's own tools itself, with the very
same :class:`~castoff.mcp.adapter.ToolRunner` the SDK path uses; anything it
does not recognise (an unknown tool, malformed params, a request before
``initialize``) goes on to the SDK, which answers as usual. On 2026-07-28
connections every call goes through the SDK.

It also serves the 2025-11-25 task methods (:mod:`castoff.mcp.tasks`), which
the SDK does not route, and adds the ``tasks`` capability to ``initialize``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from castoff.mcp.adapter import Caller
from castoff.mcp.tasks import TASKS_VERSION, Tasks

if TYPE_CHECKING:
    from castoff.mcp.adapter import ToolRunner


class CastoffMiddleware:
    """Answers ``tools/call`` (plain or as a task) and ``tasks/*`` for castoff's tools."""

    def __init__(self, runners: dict[str, ToolRunner]) -> None:
        self.runners = runners
        self.tasks = Tasks()

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        method, version = ctx.method, ctx.protocol_version
        if method == "initialize":
            return self.tasks.declare(await call_next(ctx))
        if ctx.request_id is None or version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return await call_next(ctx)
        if not getattr(Caller.of_request(ctx).connection, "initialize_accepted", True):
            return await call_next(ctx)  # the SDK refuses requests before initialize
        params = ctx.params or {}
        if method == "tools/call":
            name = params.get("name")
            runner = self.runners.get(name) if isinstance(name, str) else None
            arguments = params.get("arguments") or {}
            if runner is None or not isinstance(arguments, dict):
                return await call_next(ctx)  # unknown tool or malformed call: the SDK's errors
            if params.get("task") is not None and version == TASKS_VERSION:
                return await self.tasks.create(ctx, runner, params)
            result: dict[str, Any] = await runner.call(ctx, arguments)
            return result
        if method in Tasks.METHODS and version == TASKS_VERSION:
            return await self.tasks.handle(ctx, method, params)
        return await call_next(ctx)
