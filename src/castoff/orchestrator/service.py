"""The orchestrator's one API, used by the CLI, the MCP server and the release workflow.

::

    with Orchestrator.open(Path(".")) as orch:
        task = orch.plan_task("Write the release notes", specialist_type="release_notes")
        ctx = orch.execute_task(task.id)        # lease + role + inputs
        orch.complete_task(task.id, summary="Notes for 1.2.0 written")

Opening migrates the store if needed, finds (or creates) the working
directory's session and reclaims leases that expired while nobody was running.
The operations live in sibling modules, one family each; this class combines them.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from castoff import workspace
from castoff.errors import UsageError
from castoff.orchestrator.core import no_session
from castoff.orchestrator.execution import ExecutionOperations
from castoff.orchestrator.health import HealthOperations
from castoff.orchestrator.history import EventOperations
from castoff.orchestrator.maintenance import MaintenanceOperations
from castoff.orchestrator.planning import PlanningOperations
from castoff.orchestrator.records import RecordOperations
from castoff.orchestrator.sessions import SessionOperations
from castoff.orchestrator.tasks import TaskOperations
from castoff.store.database import Database, store_exists


class Orchestrator(
    MaintenanceOperations,
    SessionOperations,
    PlanningOperations,
    TaskOperations,
    EventOperations,
    ExecutionOperations,
    HealthOperations,
    RecordOperations,
):
    """Sessions, tasks, leases, artifacts, events, records, locks, health and maintenance."""

    @classmethod
    def open(
        cls,
        working_directory: Path | str | None = None,
        *,
        database_url: str | None = None,
        actor: str = "cli",
        process_bound: bool = False,
        create: bool = True,
    ) -> Orchestrator:
        """Open the store for ``working_directory`` (migrating it) and its session.

        ``process_bound``: this process's claims are its own (``<actor>:<pid>@<host>``),
        reclaimed as soon as it is gone; see :func:`~castoff.orchestrator.core.process_worker`.
        ``create=False`` (read-only use) never creates a store or a session: an
        embedded store that does not exist is refused (NotFound, "no castoff
        session in DIR"), and so is, on first use, a directory without a session.
        """
        root = Path(working_directory or Path.cwd()).resolve()
        if not root.is_dir():
            raise UsageError(f"the working directory {root} does not exist")
        url = database_url or workspace.database_url(root)
        if not create and not store_exists(url):
            raise no_session(root)
        db = Database.open(url)
        try:
            orch = cls(db, root, actor=actor, process_bound=process_bound, create=create)
            orch.startup_reclaimed = orch.start()
        except BaseException:
            db.close()
            raise
        return orch

    def close(self) -> None:
        """Release the store (the engine is disposed when its last user closes)."""
        self.db.close()

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
