"""What tool calls share: the project root, the store, one orchestrator per client.

The lifespan opens the orchestrator store when the server starts (migrating it
and reclaiming expired leases) and closes it at shutdown. Each MCP session (a
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

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from mcp.server.mcpserver import MCPServer

    from castoff.orchestrator.service import Orchestrator

logger = logging.getLogger("castoff.mcp")

ACTOR = "mcp"


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
    _views: WeakKeyDictionary[Any, State] = field(default_factory=WeakKeyDictionary)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def require(self) -> State:
        """The server-wide state (resources and prompts); only while the server runs."""
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
            view.worker = f"{ACTOR}:{client or 'client'}#{number}@{socket.gethostname()}"
            view.initialize_session()
            state = State(self.root, view)
            self._views[connection] = state
            return state


def lifespan_for(runtime: Runtime) -> Any:
    """A lifespan that opens the store at start and closes it at shutdown."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        import anyio
        import anyio.to_thread

        from castoff.orchestrator.service import Orchestrator

        root = runtime.root
        runtime.base = await anyio.to_thread.run_sync(lambda: Orchestrator.open(root, actor=ACTOR))
        logger.info("castoff MCP server ready on %s", root)
        try:
            async with anyio.create_task_group() as group:
                runtime.task_group = group
                yield runtime
                group.cancel_scope.cancel()  # running tasks stop at their next safe point
        finally:
            runtime.task_group = None
            base, runtime.base = runtime.base, None
            base.close()

    return lifespan
