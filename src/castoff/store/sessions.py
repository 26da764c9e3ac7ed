"""Session SQL. Functions over a ``Connection``; plain rows out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select, text, update

from castoff.store import counters
from castoff.store.prepared import Prepared
from castoff.store.schema import sessions

_BY_DIRECTORY = Prepared(
    select(sessions).where(sessions.c.working_directory == bindparam("directory"))
)
_GET = Prepared(select(sessions).where(sessions.c.id == bindparam("session_id")))


def by_directory(conn: Connection, working_directory: str) -> dict[str, Any] | None:
    return _BY_DIRECTORY.one(conn, {"directory": working_directory})


def get(conn: Connection, session_id: str) -> dict[str, Any] | None:
    return _GET.one(conn, {"session_id": session_id})


def insert_session(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(sessions), [dict(values)])


def set_values(conn: Connection, session_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


def list_with_counts(conn: Connection) -> list[tuple[RowMapping, int]]:
    """Every session (most recently updated first) with its number of tasks (from the counters)."""
    totals = counters.totals(conn)
    rows = conn.execute(
        select(sessions).order_by(sessions.c.updated_at.desc(), sessions.c.id)
    ).mappings()
    return [(row, totals.get(row["id"], 0)) for row in rows]


#: Namespace of the graph locks (two-key advisory locks never meet the migration's).
GRAPH_LOCK_NAMESPACE = 0x0CA5


def lock_graph(conn: Connection, session_id: str) -> None:
    """Serialize changes to one session's task graph until this transaction ends.

    PostgreSQL (READ COMMITTED) takes a transaction-scoped advisory lock keyed
    by the session (``pg_advisory_xact_lock``): a second transaction waits here,
    and once it holds the lock its statements see everything the first one
    committed, so checks made after this call (dependency cycles, parent loops)
    cannot race. It locks no row, so inserts referring to the session (events,
    tasks) never wait on it. SQLite needs nothing: every write transaction
    already holds the database's write lock (``BEGIN IMMEDIATE``).
    """
    if conn.dialect.name == "sqlite":
        return
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:sid))"),
        {"namespace": GRAPH_LOCK_NAMESPACE, "sid": session_id},
    )


def delete_many(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(sessions).where(sessions.c.id.in_(list(ids))))
