"""What every part of the orchestrator shares: the store, the actor, the session.

:class:`OrchestratorCore` holds the open :class:`~castoff.store.database.Database`,
the content store and the current session, plus the helpers the operation
modules (``sessions``, ``tasks``, ``execution``, ``health``, ``maintenance``)
build on. :class:`castoff.orchestrator.service.Orchestrator` combines them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from castoff import processes
from castoff.errors import LeaseConflict, NotFound
from castoff.orchestrator import rows
from castoff.orchestrator.models import Session, Task
from castoff.store import artifacts as artifact_store
from castoff.store import events as event_store
from castoff.store import sessions as session_store
from castoff.store import tasks as task_store
from castoff.store.artifacts import BlobStore
from castoff.store.database import Database
from castoff.store.schema import new_id, utcnow

DEFAULT_LEASE_SECONDS = 600


def no_session(directory: Path) -> NotFound:
    """The error for a read-only command in a directory that has no session."""
    return NotFound(
        f"no castoff session in {directory} (run `castoff orchestrator initialize-session`)",
        working_directory=str(directory),
    )


def process_worker(actor: str) -> str:
    """``<actor>:<pid>.<start>@<host>``: a lease holder that lives exactly as long as this process.

    ``<pid>.<start>`` is :func:`castoff.processes.token` (the start time tells a
    reused pid apart; a zombie counts as gone).

    Leases of such holders are reclaimed at once when the process is gone
    (:meth:`reclaim_dead_workers`). Use it for processes that work while they
    hold a lease (the release runner, ``castoff worker``, ``rollback run``); a
    claim that must outlive its process (``castoff orchestrator execute-task``,
    an agent's claim over MCP) keeps the plain ``<actor>@<host>`` and waits for
    its lease to expire.
    """
    return f"{actor}:{processes.token()}@{socket.gethostname()}"


class OrchestratorCore:
    """The store, the actor and the current session."""

    def __init__(
        self,
        db: Database,
        working_directory: Path,
        *,
        actor: str,
        process_bound: bool = False,
        create: bool = True,
    ) -> None:
        self.db = db
        self.working_directory = working_directory
        self.actor = actor
        self.host = socket.gethostname()
        self.worker = process_worker(actor) if process_bound else f"{actor}@{self.host}"
        self.create = create
        sqlite_path = db.sqlite_path
        self.blobs = BlobStore(sqlite_path.parent / "artifacts" if sqlite_path else None)
        self._session_id: str | None = None
        self._looked_up = False
        self.startup_reclaimed: list[str] = []

    # -- time, ids and events ---------------------------------------------------
    @staticmethod
    def now() -> datetime:
        return utcnow()

    def event(
        self,
        conn: Connection,
        kind: str,
        *,
        task_id: str | None = None,
        session_id: str | None = None,
        at: datetime | None = None,
        **data: Any,
    ) -> None:
        """Append one event (in the caller's transaction)."""
        event_store.append(
            conn,
            session_id=session_id or self._session_id,
            task_id=task_id,
            kind=kind,
            actor=self.actor,
            data=data,
            at=at or self.now(),
        )

    # -- the current session ----------------------------------------------------
    @property
    def session_id(self) -> str:
        """The current session's id: the working directory's session.

        Made on first use, unless the orchestrator was opened with ``create=False``
        (read-only commands), which refuses a directory without a session instead.
        ``Orchestrator.open`` looks it up, so this never queries inside a transaction.
        """
        if self._session_id is None:
            sid = self.find_session_id()
            if sid is None:
                if not self.create:
                    raise no_session(self.working_directory)
                sid = self.db.write(
                    lambda conn: self.ensure_session(conn, self.working_directory, None)["id"]
                )
            self._session_id = sid
        return self._session_id

    def find_session_id(self) -> str | None:
        """The current session's id if it exists (looked up once; never creates one)."""
        if self._session_id is not None or self._looked_up:
            return self._session_id
        key = str(self.working_directory)
        row = self.db.read(lambda conn: session_store.by_directory(conn, key))
        self._looked_up = True
        if row is None:
            return None
        if row["host"] is None and self.create:  # made before sessions recorded their host
            self.db.write(
                lambda conn: session_store.set_values(conn, row["id"], {"host": self.host})
            )
        self._session_id = str(row["id"])
        return self._session_id

    def ensure_session(
        self, conn: Connection, directory: Path, name: str | None
    ) -> Mapping[Any, Any]:
        """The session of ``directory``, created if it has none."""
        key = str(directory)
        row = session_store.by_directory(conn, key)
        now = self.now()
        if row is None:
            sid = new_id()
            session_store.insert_session(
                conn,
                {
                    "id": sid,
                    "working_directory": key,
                    "name": name or directory.name or key,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                    "host": self.host,
                },
            )
            self.event(
                conn,
                "session.initialized",
                session_id=sid,
                working_directory=key,
                host=self.host,
                at=now,
            )
        elif (name and name != row["name"]) or row["host"] is None:
            values: dict[str, Any] = {"host": row["host"] or self.host}
            if name and name != row["name"]:
                values |= {"name": name, "updated_at": now}
            session_store.set_values(conn, row["id"], values)
        else:
            return row
        found = session_store.by_directory(conn, key)
        assert found is not None
        return found

    def session_row(self, conn: Connection, session_id: str | None = None) -> Mapping[Any, Any]:
        sid = session_id or self.session_id
        row = session_store.get(conn, sid)
        if row is None:
            raise NotFound(f"no session with id {sid}", session_id=sid)
        return row

    def session_model(self, conn: Connection, session_id: str | None = None) -> Session:
        return rows.session(self.session_row(conn, session_id))

    # -- tasks ------------------------------------------------------------------
    def task_row(self, conn: Connection, task_id: str, *, lock: bool = False) -> Mapping[Any, Any]:
        """The task ``task_id`` of the current session, or NotFound.

        ``lock``: read it for a status change (locked until the transaction
        ends, see :func:`castoff.store.tasks.get_locked`).
        """
        row = task_store.get_locked(conn, task_id) if lock else task_store.get(conn, task_id)
        if row is None or row["session_id"] != self.session_id:
            raise NotFound(f"no task with id {task_id} in this session", task_id=task_id)
        return row

    def tasks_from_rows(
        self, conn: Connection, task_rows: Sequence[Mapping[Any, Any]], *, with_artifacts: bool
    ) -> list[Task]:
        """Models for ``task_rows`` with their dependencies (and artifacts)."""
        ids = [r["id"] for r in task_rows]
        deps = task_store.dependencies_of(conn, ids)
        arts: dict[str, list[Any]] = {i: [] for i in ids}
        if with_artifacts:
            for a in artifact_store.for_tasks(conn, ids):
                arts[a["task_id"]].append(rows.artifact(a))
        return [rows.task(r, deps[r["id"]], arts[r["id"]]) for r in task_rows]

    def load_task(self, conn: Connection, task_id: str, *, with_artifacts: bool = True) -> Task:
        return self.tasks_from_rows(
            conn, [self.task_row(conn, task_id)], with_artifacts=with_artifacts
        )[0]

    def require_tasks(self, conn: Connection, ids: Iterable[str], what: str) -> None:
        """NotFound naming every id in ``ids`` that is not a task of this session."""
        wanted = list(ids)
        missing = sorted(set(wanted) - task_store.existing_ids(conn, self.session_id, wanted))
        if missing:
            raise NotFound(f"unknown {what}: {', '.join(missing)}", ids=missing)

    def worker_name(self, worker: str | None) -> str:
        """``worker``, or this orchestrator's own lease-holder identity."""
        return worker or self.worker

    @staticmethod
    def check_holder(row: Mapping[Any, Any], worker: str, now: datetime, *, hint: str) -> None:
        """LeaseConflict when a worker other than ``worker`` holds a live lease on ``row``."""
        owner, expires = row["lease_owner"], row["lease_expires_at"]
        if owner not in (None, worker) and expires is not None and expires >= now:
            raise LeaseConflict(
                f"task {row['id']} is leased by {owner} until "
                f"{expires.isoformat(timespec='seconds')}; {hint}",
                task_id=row["id"],
                lease_owner=owner,
            )
