"""Turn a :class:`~castoff.mcp.registry.ToolSpec` into an SDK tool.

This module is the MCP server's one error boundary: a
:class:`~castoff.errors.CastoffError` becomes a tool error carrying its clear
message; any other exception becomes ``internal error: …`` (with the traceback
logged to stderr) and the server stays up. Bad arguments (a wrong type, an
unknown enum value, a parameter the tool does not have) are refused before the
tool runs, as a tool error in one line (:mod:`castoff.mcp.arguments`). Every
tool error carries ``_meta`` ``castoff/error`` and ``castoff/exit_code``.

Every tool runs in a worker thread (the orchestrator and engines are blocking
code), so the server keeps answering while one works. Only the short
orchestrator calls marked ``inline`` in the registry run on the event loop, and
only on stdio (one client), where the thread hop would cost more than the call:
each is one small transaction that a cancellation cannot split. A cancelled
threaded call (``notifications/cancelled``) sets the call's stop flag, waits for
the thread to reach a safe point, and only then lets the cancellation through:
nothing is left half-written. Long tools take a :class:`Progress` parameter; it
forwards ``on_progress`` callbacks as progress notifications and raises
:class:`Cancelled` inside the engine once the call is cancelled.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import ValidationError

from castoff.errors import CastoffError, NotFound
from castoff.mcp.arguments import problem, strict
from castoff.mcp.results import ResultShape, error_result
from castoff.mcp.schema import input_schema, output_schema

if TYPE_CHECKING:
    from castoff.mcp.registry import ToolSpec
    from castoff.mcp.state import Runtime

logger = logging.getLogger("castoff.mcp")

T = TypeVar("T")

PROGRESS_INTERVAL = 0.05
"""Seconds between two progress notifications (the last one is always sent)."""

SendProgress = Callable[[float, float | None, str | None], Coroutine[Any, Any, None]]
"""Sends one progress notification (on the event loop)."""


class Cancelled(Exception):
    """The client cancelled the call; raised inside the engine at its next step."""


class Progress:
    """What a long tool gets to report progress and to notice cancellation.

    Call it as the engine's ``on_progress(done, total, message)`` callback. It runs
    in the tool's worker thread, sends throttled ``notifications/progress`` when
    the client gave a progress token, and raises :class:`Cancelled` once the call
    is cancelled, which stops the engine at that step.
    """

    def __init__(self, send: SendProgress | None, stop: threading.Event) -> None:
        self._send = send
        self._token = anyio.lowlevel.current_token() if send is not None else None
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
        if self._send is None:
            return
        now = time.monotonic()
        final = total is not None and done >= total
        with self._lock:
            if not final and now - self._last < PROGRESS_INTERVAL and self._last:
                return
            self._last = now
        anyio.from_thread.run(self._send, float(done), total, message, token=self._token)


class Caller:
    """Who is calling: the MCP connection (per-client state is keyed on it) and its name."""

    def __init__(self, runtime: Runtime, connection: Any, client: str | None) -> None:
        self.runtime = runtime
        self.connection = connection
        self.client = client

    @classmethod
    def of(cls, ctx: Context[Any, Any]) -> Caller:
        """The caller of the request ``ctx`` belongs to."""
        return cls.of_request(ctx.request_context)

    @classmethod
    def of_request(cls, request: ServerRequestContext[Any, Any]) -> Caller:
        """The caller of ``request``."""
        params = request.session.client_params
        client = params.client_info.name if params is not None else None
        # ServerSession is a per-request proxy; its connection is what lives as long as
        # the client's MCP session, so per-client state is keyed on it.
        connection = getattr(request.session, "_connection", request.session)
        return cls(cast("Runtime", request.lifespan_context), connection, client)


class ToolRunner:
    """One tool's argument check, execution and result shaping."""

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self.fn = spec.fn
        sig = inspect.signature(self.fn, eval_str=True)
        params = list(sig.parameters.values())[1:]  # the first receives the server state
        self.progress_name = next((p.name for p in params if p.annotation is Progress), None)
        if spec.inline and self.progress_name is not None:
            raise ValueError(f"{spec.name}: a tool that reports progress cannot run inline")
        self.public = [p for p in params if p.name != self.progress_name]
        self.result_type = sig.return_annotation
        self.shape = ResultShape(self.result_type)

        def signature_only() -> None:  # the arguments model is built from this signature
            """Arguments."""

        signature_only.__signature__ = sig.replace(parameters=self.public)  # type: ignore[attr-defined]
        signature_only.__name__ = spec.name
        model = strict(func_metadata(signature_only, structured_output=False).arg_model)
        self.arguments = FuncMetadata(arg_model=model)
        self.input_schema = input_schema(model.model_json_schema(by_alias=True))

    def parse(self, arguments: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """``(keyword arguments, {})``, or ``(None, the tool error refusing them)``."""
        try:
            return self.arguments.validate_arguments(arguments), {}
        except ValidationError as exc:
            message = problem(self.spec.name, exc, self.input_schema)
            logger.info("%s refused its arguments: %s", self.spec.name, message)
            return None, error_result(message, kind="UsageError", exit_code=2)

    async def call(self, request: ServerRequestContext[Any, Any], arguments: dict[str, Any]) -> Any:
        """Answer ``tools/call`` of this tool in ``request``: the result on the wire."""
        caller = Caller.of_request(request)
        meta = (request.params or {}).get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        send = request.session.report_progress if token is not None else None
        inline = self.spec.inline and caller.runtime.inline
        return await self.run(caller, arguments, send=send, stop=threading.Event(), inline=inline)

    async def run(
        self,
        caller: Caller,
        arguments: dict[str, Any],
        *,
        send: SendProgress | None,
        stop: threading.Event,
        inline: bool = False,
    ) -> dict[str, Any]:
        """Validate, run (in a worker thread unless ``inline``) and shape the result."""
        kwargs, refused = self.parse(arguments)
        if kwargs is None:
            return refused
        if self.progress_name is not None:
            kwargs[self.progress_name] = Progress(send, stop)
        spec, fn, shape = self.spec, self.fn, self.shape

        def job() -> dict[str, Any]:
            state = caller.runtime.state_for(caller.connection, caller.client)
            return shape.result(fn(state, **kwargs))

        try:
            return job() if inline else await run_in_thread(job, stop)
        except Cancelled:
            logger.info("%s stopped: cancelled by the client", spec.name)
            return error_result(f"{spec.name} was cancelled", kind="Cancelled")
        except CastoffError as exc:
            logger.info("%s refused: %s", spec.name, exc.message)
            return error_result(exc.message, kind=type(exc).__name__, exit_code=exc.exit_code)
        except Exception as exc:
            logger.exception("%s failed unexpectedly", spec.name)
            return error_result(
                f"internal error: {type(exc).__name__}: {exc}", kind="InternalError"
            )


class CastoffTool(Tool):
    """An SDK tool whose call goes straight to its :class:`ToolRunner`.

    The SDK's own argument validation (a pydantic dump, no ``_meta``, unknown
    parameters ignored) and result conversion are bypassed: ``fn`` receives the
    request context and the raw arguments. (On handshake-era connections
    :mod:`castoff.mcp.middleware` calls the runner before the SDK even looks.)
    """

    async def run(
        self,
        arguments: dict[str, Any],
        context: Any,
        convert_result: bool = False,  # noqa: ARG002 - results are already CallToolResults
    ) -> Any:
        return CallToolResult.model_validate(await self.fn(context, arguments))


def build_tool(spec: ToolSpec) -> tuple[Tool, ToolRunner]:
    """The SDK tool for ``spec`` (compact schemas, honest annotations) and its runner."""
    runner = ToolRunner(spec)

    async def call(ctx: Context[Any, Any], arguments: dict[str, Any]) -> Any:
        return await runner.call(ctx.request_context, arguments)

    tool = CastoffTool(
        fn=call,
        name=spec.name,
        title=spec.title,
        description=description(runner.fn),
        parameters=runner.input_schema,
        # Published, not re-validated per call: results are our own dataclasses, and
        # the schema comes from those very types (tests validate results against it).
        fn_metadata=FuncMetadata(
            arg_model=runner.arguments.arg_model, output_schema=output_schema(runner.result_type)
        ),
        is_async=True,
        context_kwarg=None,
        annotations=ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.idempotent,
            open_world_hint=spec.open_world,
        ),
    )
    return tool, runner


def description(fn: Callable[..., Any]) -> str:
    """The tool description: the function's docstring, paragraphs joined."""
    doc = inspect.getdoc(fn) or ""
    return " ".join(" ".join(part.split()) for part in doc.split("\n\n") if part.strip())


@contextmanager
def resource_errors() -> Iterator[None]:
    """Map castoff errors raised while reading a resource to the SDK's resource errors."""
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    except CastoffError as exc:
        raise ResourceError(exc.message) from exc


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
