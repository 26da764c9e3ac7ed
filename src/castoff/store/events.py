"""The append-only event log: insert and read, never update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select

from castoff.store.prepared import Prepared
from castoff.store.schema import events

_APPEND = Prepared(
    insert(events).values(
        {c.name: bindparam(c.name, type_=c.type) for c in events.c if c.name != "id"}
    )
)


def append(
    conn: Connection,
    *,
    session_id: str | None,
    task_id: str | None,
    kind: str,
    actor: str,
    data: Mapping[str, Any],
    at: datetime,
) -> None:
    _APPEND.execute(
        conn,
        {
            "session_id": session_id,
            "task_id": task_id,
            "kind": kind,
            "actor": actor,
            "data": dict(data),
            "created_at": at,
        },
    )


def append_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append many events in one driver call; each row has every column but ``id``."""
    _APPEND.executemany(conn, [dict(r, data=dict(r["data"])) for r in rows])


def recent(
    conn: Connection,
    *,
    session_id: str | None,
    task_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[RowMapping]:
    """The newest events first, filtered by session, task and kind; ``before``: only
    events older than the event with that id (the next page of the log)."""
    stmt = select(events)
    if before is not None:
        stmt = stmt.where(events.c.id < before)
    if session_id is not None:
        stmt = stmt.where(events.c.session_id == session_id)
    if task_id is not None:
        stmt = stmt.where(events.c.task_id == task_id)
    if kind is not None:
        stmt = stmt.where(events.c.kind == kind)
    return list(conn.execute(stmt.order_by(events.c.id.desc()).limit(limit)).mappings())


def last_of_kind(conn: Connection, task_ids: list[str], kind: str) -> dict[str, datetime]:
    """When each of ``task_ids`` last had an event of ``kind`` (tasks without one are absent)."""
    if not task_ids:
        return {}
    stmt = (
        select(events.c.task_id, func.max(events.c.created_at))
        .where(events.c.task_id.in_(task_ids), events.c.kind == kind)
        .group_by(events.c.task_id)
    )
    return {str(task_id): at for task_id, at in conn.execute(stmt)}
