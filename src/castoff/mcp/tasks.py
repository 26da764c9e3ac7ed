"""Task-augmented tool calls (MCP 2025-11-25 ``tasks``): call now, fetch the result later.

A client may send ``tools/call`` with ``params.task`` (``{"ttl": ms}``) for the
long tools (``execution.taskSupport: "optional"`` in tools/list: release
prepare/resume, validation, rollback, notes). The server then answers at once
with a ``CreateTaskResult`` and runs the call in the background; the client
follows it with ``tasks/get`` (status), ``tasks/result`` (blocks until the task
ends, then returns exactly the ``CallToolResult`` the plain call would have),
``tasks/list`` and ``tasks/cancel``. Status changes are also sent as
``notifications/tasks/status``, and ``notifications/progress`` keep flowing for
the call's progress token.

The SDK (2.3) ships the wire types but does not route ``tasks/*`` (they are
absent from its method tables, and a ``CreateTaskResult`` would fail its
``tools/call`` result check), so :mod:`castoff.mcp.middleware` hands these
requests to :class:`Tasks` before the SDK's lookup, validation and result
sieve. Only connections that negotiated 2025-11-25 get tasks; their
``initialize`` result declares the ``tasks`` capability.

Tasks live in the server's memory, bound to the MCP session (connection) that
created them: another client cannot see them, and a restart forgets them. What
they run is durable anyway: a release, rollback or notes run is recorded in the
orchestrator store, so a cancelled or lost task is finished with
``release_resume`` (or ``castoff release resume``). Task ids are random (128
bits). A task is kept ``ttl`` ms from its creation (default one hour, at most a
day); at most :data:`MAX_ACTIVE` tasks of one session run at once.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND

from castoff.mcp.adapter import Caller

if TYPE_CHECKING:
    from castoff.mcp.adapter import ToolRunner
    from castoff.mcp.state import Runtime

logger = logging.getLogger("castoff.mcp")

TASKS_VERSION = "2025-11-25"
"""The protocol version that defines tasks (2026-07-28 moved them to an extension)."""
RELATED_TASK = "io.modelcontextprotocol/related-task"
IMMEDIATE_RESPONSE = "io.modelcontextprotocol/model-immediate-response"
DEFAULT_TTL_MS = 3_600_000
MAX_TTL_MS = 86_400_000
POLL_INTERVAL_MS = 1_000
MAX_ACTIVE = 8
PAGE = 50
CANCEL_GRACE = 2.0
"""Seconds ``tasks/cancel`` waits for the call to stop at a safe point before answering."""
TERMINAL = frozenset({"completed", "failed", "cancelled"})
CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ToolTask:
    """One task-augmented tool call and, once it ended, its result."""

    id: str
    tool: str
    owner: weakref.ref[Any]
    ttl_ms: int
    status: str = "working"
    message: str | None = None
    created: datetime = field(default_factory=_now)
    updated: datetime = field(default_factory=_now)
    stop: threading.Event = field(default_factory=threading.Event)
    ended: anyio.Event = field(default_factory=anyio.Event)
    result: dict[str, Any] | None = None

    @property
    def expires(self) -> float:
        return self.created.timestamp() + self.ttl_ms / 1000

    def set(self, status: str, message: str | None) -> None:
        """Move to ``status``; a terminal status is final (only its message may change)."""
        if self.status not in TERMINAL:
            self.status = status
        self.message = message
        self.updated = _now()

    def wire(self) -> dict[str, Any]:
        """The task as ``Task`` on the wire."""
        data: dict[str, Any] = {
            "taskId": self.id,
            "status": self.status,
            "createdAt": _stamp(self.created),
            "lastUpdatedAt": _stamp(self.updated),
            "ttl": self.ttl_ms,
            "pollInterval": POLL_INTERVAL_MS,
        }
        if self.message:
            data["statusMessage"] = self.message
        return data


class TaskRegistry:
    """The server's tasks, by id; expired ones are dropped as they are met."""

    def __init__(self) -> None:
        self._tasks: dict[str, ToolTask] = {}

    def _purge(self) -> None:
        now = time.time()
        for task_id in [i for i, t in self._tasks.items() if t.expires <= now]:
            del self._tasks[task_id]

    def create(self, owner: Any, tool: str, ttl_ms: float | None) -> ToolTask:
        self._purge()
        active = sum(1 for t in self._tasks.values() if t.owner() is owner and not t.ended.is_set())
        if active >= MAX_ACTIVE:
            raise MCPError(
                code=INVALID_REQUEST,
                message=f"{active} tasks of this session are still running (at most {MAX_ACTIVE})",
            )
        ttl = DEFAULT_TTL_MS if ttl_ms is None else max(1_000, min(int(ttl_ms), MAX_TTL_MS))
        task = ToolTask(secrets.token_hex(16), tool, weakref.ref(owner), ttl)
        self._tasks[task.id] = task
        return task

    def get(self, owner: Any, task_id: Any) -> ToolTask:
        self._purge()
        task = self._tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or task.owner() is not owner:
            raise MCPError(code=INVALID_PARAMS, message=f"no task {task_id!r} (unknown or expired)")
        return task

    def of(self, owner: Any) -> list[ToolTask]:
        self._purge()
        return [t for t in self._tasks.values() if t.owner() is owner]


class Tasks:
    """``tasks/*`` and task-augmented ``tools/call`` of one server (see the module docstring)."""

    METHODS = frozenset({"tasks/get", "tasks/result", "tasks/list", "tasks/cancel"})

    def __init__(self) -> None:
        self.registry = TaskRegistry()

    @staticmethod
    def declare(result: HandlerResult) -> HandlerResult:
        """Add the ``tasks`` capability to an ``initialize`` result that negotiated tasks."""
        if isinstance(result, dict) and result.get("protocolVersion") == TASKS_VERSION:
            capabilities = dict(result.get("capabilities") or {})
            capabilities["tasks"] = CAPABILITY
            return {**result, "capabilities": capabilities}
        return result

    async def handle(
        self, ctx: ServerRequestContext[Any, Any], method: str, params: Any
    ) -> dict[str, Any]:
        """Answer one of :attr:`METHODS`."""
        task_id = params.get("taskId")
        if method == "tasks/list":
            return self._list(Caller.of_request(ctx).connection, params.get("cursor"))
        task = self.registry.get(Caller.of_request(ctx).connection, task_id)
        if method == "tasks/get":
            return task.wire()
        if method == "tasks/result":
            await task.ended.wait()
            result = dict(task.result or {})
            result["_meta"] = {**(result.get("_meta") or {}), RELATED_TASK: {"taskId": task.id}}
            return result
        return await self._cancel(Caller.of_request(ctx).connection, task)

    async def create(
        self, ctx: ServerRequestContext[Any, Any], runner: ToolRunner, params: Any
    ) -> dict[str, Any]:
        """Start ``runner``'s tool as a task; the ``CreateTaskResult``."""
        name = runner.spec.name
        if not runner.spec.long:
            raise MCPError(
                code=METHOD_NOT_FOUND,
                message=f"{name} does not run as a task (execution.taskSupport is forbidden); "
                "call it without task",
            )
        arguments = params.get("arguments") or {}
        request = params.get("task")
        if not isinstance(request, dict):
            raise MCPError(code=INVALID_PARAMS, message="task must be an object")
        ttl = request.get("ttl")
        if ttl is not None and not isinstance(ttl, int | float):
            raise MCPError(code=INVALID_PARAMS, message="task.ttl must be a number of milliseconds")
        caller = Caller.of_request(ctx)
        runtime: Runtime = caller.runtime
        if runtime.task_group is None:
            raise MCPError(code=INTERNAL_ERROR, message="the server is not running")
        task = self.registry.create(caller.connection, name, ttl)
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        runtime.task_group.start_soon(self._run, task, runner, caller, arguments, token)
        logger.info("%s runs as task %s", name, task.id)
        return {
            "task": task.wire(),
            "_meta": {
                IMMEDIATE_RESPONSE: f"{name} is running as task {task.id}; "
                "its result comes with tasks/result."
            },
        }

    async def _run(
        self,
        task: ToolTask,
        runner: ToolRunner,
        caller: Caller,
        arguments: dict[str, Any],
        token: Any,
    ) -> None:
        connection = caller.connection

        async def send(progress: float, total: float | None, message: str | None) -> None:
            note: dict[str, Any] = {"progressToken": token, "progress": progress}
            if total is not None:
                note["total"] = total
            if message is not None:
                note["message"] = message
            note["_meta"] = {RELATED_TASK: {"taskId": task.id}}
            await connection.notify("notifications/progress", note)

        result: dict[str, Any] | None = None
        try:
            result = await runner.run(
                caller, arguments, send=send if token is not None else None, stop=task.stop
            )
        finally:
            if result is None:  # the server is shutting down
                task.set("cancelled", "the server stopped before the call ended")
            else:
                task.result = result
                self._finish(task, result)
            task.ended.set()
            with anyio.CancelScope(shield=True):
                await self._notify(connection, task)

    @staticmethod
    def _finish(task: ToolTask, result: dict[str, Any]) -> None:
        content = result.get("content") or [{}]
        line = str(content[0].get("text", "")).partition("\n")[0]
        if task.status == "cancelled":
            task.set("cancelled", f"cancelled; the call stopped cleanly: {line}")
        elif result.get("isError"):
            task.set("failed", line)
        else:
            task.set("completed", line)

    @staticmethod
    async def _notify(connection: Any, task: ToolTask) -> None:
        notify = getattr(connection, "notify", None)
        if notify is not None:
            await notify("notifications/tasks/status", task.wire())

    def _list(self, owner: Any, cursor: Any) -> dict[str, Any]:
        tasks = self.registry.of(owner)
        start = 0
        if cursor is not None:
            ids = [t.id for t in tasks]
            if cursor not in ids:
                raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor {cursor!r}")
            start = ids.index(cursor)
        page = tasks[start : start + PAGE]
        listed: dict[str, Any] = {"tasks": [t.wire() for t in page]}
        if start + PAGE < len(tasks):
            listed["nextCursor"] = tasks[start + PAGE].id
        return listed

    async def _cancel(self, owner: Any, task: ToolTask) -> dict[str, Any]:
        if task.status in TERMINAL:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Cannot cancel task: already in terminal status {task.status!r}",
            )
        task.stop.set()
        task.set("cancelled", "cancelled; stopping at the next safe point (nothing half-written)")
        with anyio.move_on_after(CANCEL_GRACE):
            await task.ended.wait()
        if not task.ended.is_set():
            await self._notify(owner, task)
        return task.wire()
