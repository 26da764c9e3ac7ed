"""Turn a :class:`~castoff.mcp.registry.ToolSpec` into an SDK tool.

This module is the MCP server's one error boundary: a
:class:`~castoff.errors.CastoffError` becomes a tool error carrying its clear
message; any other exception becomes ``internal error: …`` (with the traceback
logged to stderr) and the server stays up. Bad arguments are refused by the SDK's
argument validation before a tool runs, also as a tool error.

Tools run in a worker thread (the orchestrator and engines are blocking code),
except short orchestrator calls on stdio, where one client is served and the
thread hop would cost more than the call: they run inline, as one transaction
that a cancellation cannot split. A cancelled threaded call
(``notifications/cancelled``) sets the tool's stop flag, waits for the thread to
reach a safe point, and only then lets the cancellation through: nothing is
left half-written. Long tools take a :class:`Progress`
parameter; it forwards ``on_progress`` callbacks as progress notifications and
raises :class:`Cancelled` inside the engine once the call is cancelled.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from castoff.errors import CastoffError, NotFound
from castoff.mcp.schema import input_schema, output_schema
from castoff.mcp.text import describe
from castoff.serialize import to_data

if TYPE_CHECKING:
    from castoff.mcp.registry import ToolSpec
    from castoff.mcp.state import Runtime

logger = logging.getLogger("castoff.mcp")

T = TypeVar("T")

PROGRESS_INTERVAL = 0.05
"""Seconds between two progress notifications (the last one is always sent)."""


class Cancelled(Exception):
    """The client cancelled the call; raised inside the engine at its next step."""


class Progress:
    """What a long tool gets to report progress and to notice cancellation.

    Call it as the engine's ``on_progress(done, total, message)`` callback. It runs
    in the tool's worker thread, sends throttled ``notifications/progress`` when
    the client gave a progress token, and raises :class:`Cancelled` once the call
    is cancelled, which stops the engine at that step.
    """

    def __init__(self, ctx: Context | None, stop: threading.Event) -> None:
        self._ctx = ctx
        self._token = anyio.lowlevel.current_token() if ctx is not None else None
        self._lock = threading.Lock()  # engines may report from several threads at once
        self.stop = stop
        self._last = 0.0
        self._steps = 0

    def check(self) -> None:
        """Raise :class:`Cancelled` if the client cancelled this call."""
        if self.stop.is_set():
            raise Cancelled

    def step(self, message: str) -> None:
        """One more step done (for engines that report steps, not fractions)."""
        with self._lock:
            self._steps += 1
            done = self._steps
        self(done, None, message)

    def __call__(self, done: float, total: float | None = None, message: str | None = None) -> None:
        self.check()
        if self._ctx is None:
            return
        now = time.monotonic()
        final = total is not None and done >= total
        with self._lock:
            if not final and now - self._last < PROGRESS_INTERVAL and self._last:
                return
            self._last = now
        anyio.from_thread.run(
            self._ctx.report_progress, float(done), total, message, token=self._token
        )


def build_tool(spec: ToolSpec) -> Tool:
    """The SDK tool for ``spec``: schema from the signature, compact, annotated."""
    sig = inspect.signature(spec.fn, eval_str=True)
    params = list(sig.parameters.values())[1:]  # the first parameter receives the server state
    progress_name = next((p.name for p in params if p.annotation is Progress), None)
    public = [p for p in params if p.name != progress_name]
    output_type = sig.return_annotation

    async def call(ctx: Context, **arguments: Any) -> CallToolResult:
        request = ctx.request_context
        params = request.session.client_params
        client = params.client_info.name if params is not None else None
        runtime = cast("Runtime", request.lifespan_context)
        # ServerSession is a per-request proxy; its connection is what lives as long as
        # the client's MCP session, so per-client state is keyed on it.
        connection = getattr(request.session, "_connection", request.session)
        stop = threading.Event()
        if progress_name is not None:
            arguments[progress_name] = Progress(ctx, stop)

        def job() -> Any:
            return spec.fn(runtime.state_for(connection, client), **arguments)

        inline = runtime.inline and progress_name is None
        return await invoke(spec, job, stop, inline=inline)

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    call.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*public, ctx_param], return_annotation=CallToolResult
    )
    call.__annotations__ = {p.name: p.annotation for p in public} | {
        "ctx": Context,
        "return": CallToolResult,
    }
    call.__name__ = spec.name
    tool = Tool.from_function(
        call,
        name=spec.name,
        title=spec.title,
        description=description(spec.fn),
        annotations=ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.idempotent,
            open_world_hint=spec.open_world,
        ),
        structured_output=False,
    )
    tool.parameters = input_schema(tool.parameters)
    # Published, not re-validated per call: results are our own dataclasses, and the
    # schema comes from those very types (tests validate results against it).
    tool.fn_metadata.output_schema = output_schema(output_type)
    return tool


def description(fn: Callable[..., Any]) -> str:
    """The tool description: the function's docstring, paragraphs joined."""
    doc = inspect.getdoc(fn) or ""
    return " ".join(" ".join(part.split()) for part in doc.split("\n\n") if part.strip())


async def invoke(
    spec: ToolSpec, job: Callable[[], Any], stop: threading.Event, *, inline: bool = False
) -> CallToolResult:
    """Run ``job`` (in a worker thread unless ``inline``) and shape its result or error."""
    try:
        result = job() if inline else await run_in_thread(job, stop)
    except CastoffError as exc:
        logger.info("%s refused: %s", spec.name, exc.message)
        return error_result(exc.message, kind=type(exc).__name__, exit_code=exc.exit_code)
    except Exception as exc:
        logger.exception("%s failed unexpectedly", spec.name)
        return error_result(f"internal error: {type(exc).__name__}: {exc}", kind="InternalError")
    data = to_data(result)
    text = f"{describe(result)}\n{json.dumps(data, separators=(',', ':'), ensure_ascii=False)}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


@contextmanager
def resource_errors() -> Iterator[None]:
    """Map castoff errors raised while reading a resource to the SDK's resource errors."""
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    except CastoffError as exc:
        raise ResourceError(exc.message) from exc


def error_result(message: str, *, kind: str, exit_code: int = 1) -> CallToolResult:
    """A tool error the model can read and act on."""
    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        is_error=True,
        _meta={"castoff/error": kind, "castoff/exit_code": exit_code},
    )


async def run_in_thread(job: Callable[[], T], stop: threading.Event) -> T:
    """Run ``job`` in a thread; on cancellation set ``stop`` and wait for it to finish."""
    finished = threading.Event()
    gate = threading.Lock()
    started = False

    def guarded() -> T:
        nonlocal started
        with gate:
            if stop.is_set():  # cancelled before the thread got to run: do nothing at all
                raise Cancelled
            started = True
        try:
            return job()
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(guarded, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        with gate:
            stop.set()
            running = started
        if running:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(finished.wait)
        logger.info("call cancelled by the client; its step stopped cleanly")
        raise
