"""Session SQL. Functions over a ``Connection``; plain rows out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from castoff.store.schema import sessions, tasks


def by_directory(conn: Connection, working_directory: str) -> RowMapping | None:
    return (
        conn.execute(select(sessions).where(sessions.c.working_directory == working_directory))
        .mappings()
        .first()
    )


def get(conn: Connection, session_id: str) -> RowMapping | None:
    return conn.execute(select(sessions).where(sessions.c.id == session_id)).mappings().first()


def insert_session(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(sessions), [dict(values)])


def set_values(conn: Connection, session_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


def list_with_counts(conn: Connection) -> list[tuple[RowMapping, int]]:
    """Every session (most recently updated first) with its number of tasks."""
    counts = (
        select(tasks.c.session_id, func.count().label("n")).group_by(tasks.c.session_id).subquery()
    )
    rows = conn.execute(
        select(sessions, func.coalesce(counts.c.n, 0).label("task_count"))
        .outerjoin(counts, counts.c.session_id == sessions.c.id)
        .order_by(sessions.c.updated_at.desc(), sessions.c.id)
    ).mappings()
    return [(row, int(row["task_count"])) for row in rows]


def lock_graph(conn: Connection, session_id: str) -> None:
    """Serialize changes to one session's task graph until this transaction ends.

    PostgreSQL (READ COMMITTED) locks the session row (``SELECT … FOR UPDATE``):
    a second transaction waits here, and once it holds the lock its statements
    see everything the first one committed, so checks made after this call
    (dependency cycles, parent loops) cannot race. SQLite needs nothing: every
    write transaction already holds the database's write lock (``BEGIN IMMEDIATE``).
    """
    if conn.dialect.name == "sqlite":
        return
    conn.execute(select(sessions.c.id).where(sessions.c.id == session_id).with_for_update())


def delete_many(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(sessions).where(sessions.c.id.in_(list(ids))))
