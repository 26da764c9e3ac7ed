"""The event log: recording the caller's own events, reading them, task durations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from castoff.errors import UsageError
from castoff.orchestrator import rows, values
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import Event, Task, TaskStatus
from castoff.store import events as event_store

RESERVED_EVENT_KEYS = frozenset({"kind", "task_id", "session_id", "at"})


class EventOperations(OrchestratorCore):
    """record_event / events / durations."""

    def record_event(self, task_id: str | None, kind: str, data: Mapping[str, Any]) -> None:
        """Append an event of the caller's own ``kind`` (e.g. ``release.tagged``)."""
        kind = values.text(kind, "kind", required=True)

        def work(conn: Connection) -> None:
            if task_id is not None:
                self.task_row(conn, task_id)
            clash = sorted(set(data) & RESERVED_EVENT_KEYS)
            if clash:
                raise UsageError(f"event data may not use the reserved key(s) {', '.join(clash)}")
            self.event(conn, kind, task_id=task_id, **dict(data))

        self.db.write(work)

    def events(
        self,
        task_id: str | None = None,
        limit: int = 100,
        kind: str | None = None,
        before: int | None = None,
    ) -> list[Event]:
        """The session's newest events first (of one task, or one kind, if given).

        ``before``: only events older than the event with that id — pass the last
        id of a page to get the next one (stable while new events are appended).
        """
        limit, _ = values.page(limit, 0)
        if before is not None and (
            not isinstance(before, int) or isinstance(before, bool) or before < 1
        ):
            raise UsageError(f"before must be an event id, 1 or more (got {before!r})")
        found = self.db.read(
            lambda conn: event_store.recent(
                conn,
                session_id=self.session_id,
                task_id=task_id,
                kind=kind,
                limit=limit,
                before=before,
            )
        )
        return [rows.event(r) for r in found]

    def durations(self, tasks: Iterable[Task]) -> dict[str, float]:
        """Seconds each task's latest attempt took, from its last claim (``task.in_progress``)
        to its completion or failure, or until now while it is in progress.

        Tasks never claimed, and pending, blocked, cancelled or archived ones, are left out.
        One query for all of them.
        """
        timed = {
            t.id: t
            for t in tasks
            if t.status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.IN_PROGRESS)
        }
        started = self.db.read(
            lambda conn: event_store.last_of_kind(conn, list(timed), "task.in_progress")
        )
        now = self.now()
        out: dict[str, float] = {}
        for task_id, began in started.items():
            task = timed[task_id]
            ended = {
                TaskStatus.COMPLETED: task.completed_at,
                TaskStatus.FAILED: task.updated_at,
            }.get(task.status, now)
            if ended is not None:
                out[task_id] = round(max((ended - began).total_seconds(), 0.0), 3)
        return out
