"""What tool calls share: the project root, the store, one orchestrator per client.

The lifespan starts opening the orchestrator store (migrating it and reclaiming
expired leases) in a thread when the server starts, and closes it at shutdown.
The server answers ``initialize`` and ``tools/list`` meanwhile; the first call
that needs the store waits for it (an error opening it is that call's error,
and every later one's). Each MCP session (a
stdio connection, or one HTTP client) then gets its own light orchestrator over
that same store: its own current session (``initialize_session`` /
``resume_session`` switch only the caller's) and its own lease-holder name, so
two agents never hold the same task.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from castoff import processes

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from mcp.server.mcpserver import MCPServer

    from castoff.orchestrator.service import Orchestrator

logger = logging.getLogger("castoff.mcp")

ACTOR = "mcp"
STORE_WAIT = 120.0
"""Seconds a call waits for the store to open (a PostgreSQL server may be slow to answer)."""


@dataclass(frozen=True)
class State:
    """What a tool function gets first: the project root and the caller's orchestrator."""

    root: Path
    orchestrator: Orchestrator


@dataclass
class Runtime:
    """The project root, the store once the server runs, and per-client views of it."""

    root: Path
    inline: bool = False
    """Run short tools on the event loop (stdio: one client, no thread hop)."""
    base: Orchestrator | None = None
    task_group: TaskGroup | None = None
    """Runs task-augmented tool calls in the background while the server runs."""
    opened: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None
    """Why the store could not be opened, if it could not."""
    _views: WeakKeyDictionary[Any, State] = field(default_factory=WeakKeyDictionary)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self) -> None:
        """Open the store (blocking: run it in a thread); sets :attr:`opened` either way."""
        from castoff.orchestrator.service import Orchestrator

        try:
            self.base = Orchestrator.open(self.root, actor=ACTOR)
            # Claims of castoff processes of this host that died (a killed MCP server,
            # release runner or worker) go back to pending at once, not at expiry.
            self.base.reclaim_dead_workers()
            logger.info("castoff MCP server ready on %s", self.root)
        except Exception as exc:  # reported to every call that needs the store
            logger.error("the store of %s could not be opened: %s", self.root, exc)
            self.failure = exc
        finally:
            self.opened.set()

    def require(self) -> State:
        """The server-wide state, once the store is open (blocking: waits for it)."""
        self.opened.wait(STORE_WAIT)
        if self.failure is not None:
            from castoff.errors import CastoffError, StoreError

            if isinstance(self.failure, CastoffError):
                raise self.failure
            raise StoreError(f"the store could not be opened: {self.failure}") from self.failure
        if self.base is None:
            raise RuntimeError("the castoff MCP server is not running")
        return State(self.root, self.base)

    def state_for(self, connection: Any, client: str | None = None) -> State:
        """The state of one MCP connection; made on its first call (blocking: call it
        in a worker thread), dropped with the connection."""
        with self._lock:
            found = self._views.get(connection)
            if found is not None:
                return found
            base = self.require().orchestrator
            view = type(base)(base.db, base.working_directory, actor=ACTOR)
            number = next(self._numbers)
            # Unique per server process and connection, and process-bound: a second
            # server (another window of the same client) never shares it, and a killed
            # server's claims are reclaimable at once (castoff.processes).
            view.worker = (
                f"{ACTOR}:{client or 'client'}#{number}:{processes.token()}@{socket.gethostname()}"
            )
            view.initialize_session()
            state = State(self.root, view)
            self._views[connection] = state
            return state


def lifespan_for(runtime: Runtime) -> Any:
    """A lifespan that opens the store at start (in a thread) and closes it at shutdown."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        import anyio
        import anyio.to_thread

        try:
            async with anyio.create_task_group() as group:
                runtime.task_group = group
                group.start_soon(anyio.to_thread.run_sync, runtime.open)
                yield runtime
                group.cancel_scope.cancel()  # running tasks stop at their next safe point
        finally:
            runtime.task_group = None
            await anyio.to_thread.run_sync(runtime.opened.wait)
            base, runtime.base = runtime.base, None
            if base is not None:
                base.close()

    return lifespan
