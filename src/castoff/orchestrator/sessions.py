"""Sessions, status reports and start-up recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from castoff import processes
from castoff.errors import NotFound, UsageError
from castoff.orchestrator import rows
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import (
    CleanupResult,
    RestartStatus,
    Session,
    Status,
    TaskStatus,
)
from castoff.store import events as event_store
from castoff.store import leases as lease_store
from castoff.store import queries as query_store
from castoff.store import sessions as session_store
from castoff.store.migrate import HEAD, ensure_schema, revision_in

BRIEF_LIMIT = 20
RECENT_LIMIT = 10
RECOVERED = "orchestrator.recovered"


class SessionOperations(OrchestratorCore):
    """initialize / list / resume / status / cleanup sessions; restart recovery."""

    def initialize_session(
        self, working_directory: Path | str | None = None, name: str | None = None
    ) -> Session:
        """The session of ``working_directory`` (default: the opened one), created if new.

        It becomes the current session of this orchestrator.
        """
        directory = (
            Path(working_directory).resolve() if working_directory else self.working_directory
        )
        if not directory.is_dir():
            raise UsageError(f"the working directory {directory} does not exist")
        row = self.db.write(lambda conn: self.ensure_session(conn, directory, name))
        self._session_id = row["id"]
        self.working_directory = directory
        return rows.session(row)

    def list_sessions(self) -> list[Session]:
        """Every session in the store, most recently active first."""
        found = self.db.read(session_store.list_with_counts)
        return [rows.session(r, n) for r, n in found]

    def resume_session(self, session_id: str | None = None) -> Status:
        """Make a session current again: reclaim its expired leases, report its status."""

        def work(conn: Connection) -> str:
            row = self.session_row(conn, session_id)
            now = self.now()
            session_store.set_values(conn, row["id"], {"status": "active", "updated_at": now})
            self._reclaim(conn, row["id"], reason="resume")
            return str(row["working_directory"])

        directory = self.db.write(work)
        if session_id:
            self._session_id = session_id
            self.working_directory = Path(directory)
        return self.get_status()

    def session_status(self, session_id: str | None = None) -> Status:
        """The status of a session (default: the current one)."""
        return self.db.read(lambda conn: self._status(conn, session_id or self.session_id, True))

    def get_status(self, include_completed: bool = True) -> Status:
        """The current session's progress: counts, running, ready next, recently done."""
        return self.db.read(lambda conn: self._status(conn, self.session_id, include_completed))

    def _status(self, conn: Connection, session_id: str, include_completed: bool) -> Status:
        session = self.session_row(conn, session_id)
        counts = {s.value: 0 for s in TaskStatus}
        counts.update(query_store.status_counts(conn, session_id))
        total = sum(counts.values())
        considered = total - counts["cancelled"] - counts["archived"]
        running = query_store.briefs_by_status(conn, session_id, "in_progress", limit=BRIEF_LIMIT)
        recent = (
            query_store.briefs_by_status(
                conn, session_id, "completed", limit=RECENT_LIMIT, newest_first=True
            )
            if include_completed
            else []
        )
        return Status(
            session=rows.session(session, total),
            counts=counts,
            total=total,
            progress=round(counts["completed"] / considered, 4) if considered else 0.0,
            in_progress=[rows.brief(r) for r in running],
            ready=[rows.brief(r) for r in query_store.ready(conn, session_id, limit=BRIEF_LIMIT)],
            recently_completed=[rows.brief(r) for r in recent],
            expired_leases=lease_store.count_expired(conn, session_id, self.now())
            if running
            else 0,
        )

    def cleanup_sessions(self, dry_run: bool = False, all_hosts: bool = False) -> CleanupResult:
        """Remove this host's sessions whose working directory no longer exists.

        A session made on another machine (a shared PostgreSQL store) cannot be
        checked from here: it is reported in ``skipped`` and left alone, unless
        ``all_hosts`` says to judge every session by this machine's file system.
        On the embedded SQLite store a session without a recorded host counts
        as this host's (the file lives on this machine); on PostgreSQL as unknown.
        """
        local_unknown = self.db.dialect == "sqlite"

        def work(conn: Connection) -> CleanupResult:
            gone: list[Session] = []
            skipped: list[Session] = []
            for r, n in session_store.list_with_counts(conn):
                if Path(r["working_directory"]).is_dir():
                    continue
                ours = r["host"] == self.host or (r["host"] is None and local_unknown)
                (gone if ours or all_hosts else skipped).append(rows.session(r, n))
            if not dry_run:
                removed = {s.id for s in gone}
                session_store.delete_many(conn, sorted(removed))
                # logged in the current session, or in none if it is among the removed
                current = None if self._session_id in removed else self._session_id
                for s in gone:
                    event_store.append(
                        conn,
                        session_id=current,
                        task_id=None,
                        kind="session.removed",
                        actor=self.actor,
                        data={
                            "removed_session": s.id,
                            "working_directory": s.working_directory,
                            "host": s.host,
                        },
                        at=self.now(),
                    )
            return CleanupResult(
                dry_run=dry_run,
                sessions=gone,
                removed=0 if dry_run else len(gone),
                skipped=skipped,
            )

        result = self.db.read(work) if dry_run else self.db.write(work)
        if self._session_id in {s.id for s in result.sessions} and not dry_run:
            self._session_id, self._looked_up = None, False  # made afresh if used again
        return result

    # -- recovery ------------------------------------------------------------------
    def start(self) -> list[str]:
        """What opening does; the task ids whose expired leases it reclaimed.

        One read transaction checks the schema revision, finds the working
        directory's session and counts its expired leases. Only what needs it
        writes: a store that is behind is migrated (``ensure_schema``), a missing
        session is made (unless opened with ``create=False``), a session from
        before hosts were recorded gets this host, and expired leases go back
        to pending (with their events).
        """
        key = str(self.working_directory)
        now = self.now()

        def look(conn: Connection) -> tuple[str | None, dict[str, Any] | None, int]:
            revision = revision_in(conn)
            if revision != HEAD:
                return revision, None, 0
            row = session_store.by_directory(conn, key)
            expired = 0 if row is None else lease_store.count_expired(conn, row["id"], now)
            return revision, row, expired

        revision, row, expired = self.db.read(look)
        if revision != HEAD:
            ensure_schema(self.db)  # migrates, or refuses a store of a newer castoff
            revision, row, expired = self.db.read(look)
        self._looked_up = True
        if row is None:
            if not self.create:
                return []
            sid = self.session_id  # made now
        else:
            sid = self._session_id = str(row["id"])
            if row["host"] is None and self.create:  # made before sessions recorded their host
                self.db.write(lambda conn: session_store.set_values(conn, sid, {"host": self.host}))
        if not expired:
            return []
        return self.db.write(lambda conn: self._reclaim(conn, sid, reason="start"))

    def _reclaim(self, conn: Connection, session_id: str, *, reason: str) -> list[str]:
        now = self.now()
        reclaimed = lease_store.reclaim_expired(conn, session_id, now)
        if not reclaimed:
            return []
        for task_id in reclaimed:
            self.event(
                conn,
                "task.pending",
                task_id=task_id,
                session_id=session_id,
                at=now,
                reason="lease expired",
                **{"from": "in_progress"},
            )
        running = query_store.briefs_by_status(conn, session_id, "in_progress", limit=1000)
        dead = [r["id"] for r in running if _holder_is_dead(r["lease_owner"], self.host)]
        self.event(
            conn,
            RECOVERED,
            session_id=session_id,
            at=now,
            reason=reason,
            reclaimed=reclaimed,
            interrupted=sorted([*reclaimed, *dead]),
        )
        return reclaimed

    def reclaim_dead_workers(self) -> list[str]:
        """Reclaim leases held by processes of this host that are gone; the task ids.

        Workers name themselves ``<actor>:<pid>@<host>``; a lease whose holder
        runs on this host and whose pid no longer exists was left by a crash
        (``kill -9``), so it need not wait for its expiry.
        """
        sid = self.session_id

        def work(conn: Connection) -> list[str]:
            running = query_store.briefs_by_status(conn, sid, "in_progress", limit=1000)
            holders = {
                r["id"]: r["lease_owner"]
                for r in running
                if _holder_is_dead(r["lease_owner"], self.host)
            }
            if not holders:
                return []
            now = self.now()
            # Only what is still held by the dead holder: a task claimed or finished
            # by someone else since the look-up above is left as it is.
            dead = lease_store.reclaim_held(conn, holders, now)
            if not dead:
                return []
            for task_id in dead:
                self.event(
                    conn,
                    "task.pending",
                    task_id=task_id,
                    at=now,
                    reason="lease holder died",
                    **{"from": "in_progress"},
                )
            self.event(
                conn,
                RECOVERED,
                session_id=sid,
                at=now,
                reason="dead worker",
                reclaimed=dead,
                interrupted=dead,
            )
            return dead

        return self.db.write(work)

    def restart_status(self) -> RestartStatus:
        """What the last recovery found and reclaimed, and what is running or expired now."""

        def work(conn: Connection) -> RestartStatus:
            sid = self.session_id
            last = event_store.recent(conn, session_id=sid, kind=RECOVERED, limit=1)
            running = query_store.briefs_by_status(conn, sid, "in_progress", limit=1000)
            data = dict(last[0]["data"]) if last else {}
            reclaimed = list(data.get("reclaimed", []))
            return RestartStatus(
                session_id=sid,
                recovered_at=last[0]["created_at"] if last else None,
                reclaimed=reclaimed,
                interrupted=sorted({*reclaimed, *data.get("interrupted", [])}),
                expired_now=lease_store.count_expired(conn, sid, self.now()),
                in_progress=[r["id"] for r in running],
            )

        return self.db.read(work)

    def find_session(self, session_id: str) -> Session:
        """One session by id."""

        def work(conn: Connection) -> Session:
            row = session_store.get(conn, session_id)
            if row is None:
                raise NotFound(f"no session with id {session_id}")
            return rows.session(row)

        return self.db.read(work)


def _holder_is_dead(owner: str | None, host: str) -> bool:
    """True when ``owner`` (``<actor>:<token>@<host>``) is a process of ``host`` that is gone.

    Gone includes a killed process not yet reaped by its parent (a zombie) and
    a pid now used by another process (:mod:`castoff.processes`).
    """
    if not owner or "@" not in owner:
        return False
    who, _, where = owner.rpartition("@")
    _, sep, token = who.rpartition(":")
    return where == host and bool(sep) and processes.token_is_gone(token)
