"""Tasks per session and status: read in O(1), checked and repaired against a real count.

``task_counts`` is kept by triggers on ``tasks`` (migration 0003), in the same
transaction as every change they count, so reading it is exact. What this
module adds: reading it, counting the real way for comparison (maintenance's
``validate_structure``), and putting a session's counters right again
(``scan_cleanup``) without racing concurrent writers.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, func, select, update

from castoff.store.prepared import Prepared
from castoff.store.schema import task_counts, tasks

_READ = Prepared(
    select(task_counts.c.status, task_counts.c.n).where(
        task_counts.c.session_id == bindparam("session_id")
    )
)
_TOTALS = select(task_counts.c.session_id, func.sum(task_counts.c.n)).group_by(
    task_counts.c.session_id
)
_ACTUAL = (
    select(tasks.c.status, func.count())
    .where(tasks.c.session_id == bindparam("session_id"))
    .group_by(tasks.c.status)
)


def read(conn: Connection, session_id: str) -> dict[str, int]:
    """The session's task count per status (statuses with no task may be absent or 0)."""
    return {status: int(n) for status, n in _READ.tuples(conn, {"session_id": session_id})}


def totals(conn: Connection) -> dict[str, int]:
    """Every session's number of tasks, by session id."""
    return {sid: int(n or 0) for sid, n in conn.execute(_TOTALS)}


def actual(conn: Connection, session_id: str) -> dict[str, int]:
    """The session's task count per status, counted over its tasks (a scan)."""
    return {s: int(n) for s, n in conn.execute(_ACTUAL, {"session_id": session_id})}


def drift(conn: Connection, session_id: str) -> dict[str, tuple[int, int]]:
    """Statuses whose counter is wrong: status -> (counter, real count)."""
    stored, real = read(conn, session_id), actual(conn, session_id)
    return {
        s: (stored.get(s, 0), real.get(s, 0))
        for s in sorted(stored.keys() | real.keys())
        if stored.get(s, 0) != real.get(s, 0)
    }


def repair(
    conn: Connection, session_id: str, statuses: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """Set the session's counters to the real count; what was wrong (as :func:`drift`).

    ``statuses``: every status a task can have. A row for each is made first and
    all of them locked (in order), so a concurrent change either committed
    before the count (and is in it) or waits for this transaction and then
    adds its delta on top — never lost, never counted twice. (SQLite: the
    write transaction already excludes other writers.)
    """
    wanted = sorted(set(statuses))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(
            pg_insert(task_counts)
            .values([{"session_id": session_id, "status": s, "n": 0} for s in wanted])
            .on_conflict_do_nothing(index_elements=["session_id", "status"])
        )
        conn.execute(
            select(task_counts.c.status)
            .where(task_counts.c.session_id == session_id)
            .order_by(task_counts.c.status)
            .with_for_update()
        ).all()
    wrong = drift(conn, session_id)
    for status, (_, real) in wrong.items():
        changed = conn.execute(
            update(task_counts)
            .where(task_counts.c.session_id == session_id, task_counts.c.status == status)
            .values(n=real)
        ).rowcount
        if not changed:
            conn.execute(task_counts.insert().values(session_id=session_id, status=status, n=real))
    return wrong
