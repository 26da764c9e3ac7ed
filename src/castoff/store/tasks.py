"""Task rows, dependency edges and the task tree. Functions over a ``Connection``.

Leases live in :mod:`castoff.store.leases`; report queries (``query_tasks``,
status counts, ready work) in :mod:`castoff.store.queries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select, update

from castoff.store.prepared import PerDialect, Prepared, in_list
from castoff.store.schema import task_dependencies as deps
from castoff.store.schema import tasks

# Hot-path statements are built once; SQLAlchemy caches their compiled form.
_GET = select(tasks).where(tasks.c.id == bindparam("task_id"))
_INSERT = insert(tasks).values(
    {c.name: bindparam(c.name, value=None, required=False, type_=c.type) for c in tasks.c}
)
_UPDATE = update(tasks).where(tasks.c.id == bindparam("b_task_id"))
_DEP_IDS = (
    select(deps.c.depends_on_id)
    .where(deps.c.task_id == bindparam("task_id"))
    .order_by(deps.c.depends_on_id)
)
_DEPS_OF = PerDialect(
    lambda dialect: (
        select(deps.c.task_id, deps.c.depends_on_id)
        .where(in_list(deps.c.task_id, "ids", dialect))
        .order_by(deps.c.task_id, deps.c.depends_on_id)
    ),
    lists=["ids"],
)
_DEP_STATES = (
    select(tasks.c.id, tasks.c.status, tasks.c.summary)
    .join(deps, deps.c.depends_on_id == tasks.c.id)
    .where(deps.c.task_id == bindparam("task_id"))
    .order_by(tasks.c.id)
)


def insert_task(conn: Connection, values: Mapping[str, Any]) -> None:
    _P_INSERT.execute(conn, values)


def insert_tasks(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many tasks in one driver call, in the given order (parents first)."""
    _P_INSERT.executemany(conn, rows)


def get(conn: Connection, task_id: str) -> dict[str, Any] | None:
    return _P_GET.one(conn, {"task_id": task_id})


def get_locked(conn: Connection, task_id: str) -> dict[str, Any] | None:
    """``get`` for a status change: the row locked until the transaction ends.

    On PostgreSQL ``SELECT … FOR UPDATE``: a concurrent claim, completion or
    cancellation of this task waits for this transaction, and this read sees
    the latest committed status (READ COMMITTED re-reads a row after the lock
    wait), so a transition is never written over a status it did not check.
    SQLite takes the database's write lock at BEGIN IMMEDIATE already.
    """
    return _P_GET_LOCKED.one(conn, {"task_id": task_id})


def get_many_locked(conn: Connection, ids: Iterable[str]) -> list[RowMapping]:
    """``get_many`` with the rows locked (in id order, so lockers never deadlock)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    query = select(tasks).where(tasks.c.id.in_(wanted)).order_by(tasks.c.id).with_for_update()
    return list(conn.execute(query).mappings())


def get_many(conn: Connection, ids: Iterable[str]) -> list[RowMapping]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(conn.execute(select(tasks).where(tasks.c.id.in_(wanted))).mappings())


_EXISTING = PerDialect(
    lambda dialect: select(tasks.c.id).where(
        tasks.c.session_id == bindparam("session_id"), in_list(tasks.c.id, "ids", dialect)
    ),
    lists=["ids"],
)


def existing_ids(conn: Connection, session_id: str, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are tasks of the session."""
    wanted = list(ids)
    if not wanted:
        return set()
    return {r[0] for r in _EXISTING.tuples(conn, {"session_id": session_id, "ids": wanted})}


def set_values(conn: Connection, task_id: str, values: Mapping[str, Any]) -> None:
    """Set the given columns of one task."""
    conn.execute(_UPDATE, {"b_task_id": task_id, **values})


def set_many(conn: Connection, ids: Sequence[str], values: Mapping[str, Any]) -> None:
    if ids:
        conn.execute(update(tasks).where(tasks.c.id.in_(list(ids))).values(**values))


def set_if_status(
    conn: Connection, ids: Sequence[str], status: str, values: Mapping[str, Any]
) -> list[str]:
    """Set ``values`` on those of ``ids`` still in ``status``; the ids changed."""
    if not ids:
        return []
    rows = conn.execute(
        update(tasks)
        .where(tasks.c.id.in_(list(ids)), tasks.c.status == status)
        .values(**values)
        .returning(tasks.c.id)
    )
    return sorted(r[0] for r in rows)


def delete_many(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(tasks).where(tasks.c.id.in_(list(ids))))


# -- dependencies ---------------------------------------------------------
def add_dependencies(conn: Connection, task_id: str, depends_on: Iterable[str]) -> None:
    add_edges(conn, [(task_id, d) for d in depends_on])


def add_edges(conn: Connection, edges: Sequence[tuple[str, str]]) -> None:
    """Insert (task, depends_on) edges in one driver call."""
    _P_ADD_EDGE.executemany(conn, [{"task_id": t, "depends_on_id": d} for t, d in edges])


def replace_dependencies(conn: Connection, task_id: str, depends_on: Iterable[str]) -> None:
    conn.execute(delete(deps).where(deps.c.task_id == task_id))
    add_dependencies(conn, task_id, depends_on)


def dependency_ids(conn: Connection, task_id: str) -> list[str]:
    """One task's dependency ids, sorted."""
    return [r[0] for r in _P_DEP_IDS.tuples(conn, {"task_id": task_id})]


def dependencies_of(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    """Each task's dependency ids (sorted), for the given tasks."""
    wanted = list(ids)
    out: dict[str, list[str]] = {i: [] for i in wanted}
    if not wanted:
        return out
    for task_id, dep in _DEPS_OF.tuples(conn, {"ids": wanted}):
        out[task_id].append(dep)
    return out


def dependents_of(conn: Connection, task_id: str) -> list[str]:
    rows = conn.execute(select(deps.c.task_id).where(deps.c.depends_on_id == task_id))
    return sorted(r[0] for r in rows)


def dependency_states(conn: Connection, task_id: str) -> list[tuple[str, str, str | None]]:
    """(id, status, summary) of each of the task's dependencies, by id."""
    return [(r[0], r[1], r[2]) for r in _P_DEP_STATES.tuples(conn, {"task_id": task_id})]


def session_edges(conn: Connection, session_id: str) -> list[tuple[str, str]]:
    """Every (task, depends_on) edge among a session's tasks."""
    rows = conn.execute(
        select(deps.c.task_id, deps.c.depends_on_id)
        .join(tasks, tasks.c.id == deps.c.task_id)
        .where(tasks.c.session_id == session_id)
    )
    return [(r[0], r[1]) for r in rows]


def session_parents(conn: Connection, session_id: str) -> list[tuple[str, str | None, str]]:
    """(id, parent_task_id, status) of every task in a session."""
    rows = conn.execute(
        select(tasks.c.id, tasks.c.parent_task_id, tasks.c.status).where(
            tasks.c.session_id == session_id
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


# -- tree -------------------------------------------------------------------
def descendants(conn: Connection, task_id: str) -> list[str]:
    """Ids of every task below ``task_id`` (children, their children, ...)."""
    tree = select(tasks.c.id).where(tasks.c.parent_task_id == task_id).cte(recursive=True)
    tree = tree.union_all(select(tasks.c.id).where(tasks.c.parent_task_id == tree.c.id))
    return [r[0] for r in conn.execute(select(tree.c.id))]


_CHILDREN = (
    select(tasks)
    .where(tasks.c.parent_task_id == bindparam("parent_id"))
    .order_by(tasks.c.created_at, tasks.c.id)
)


def children(conn: Connection, parent_id: str) -> list[dict[str, Any]]:
    """The direct subtasks of a task, oldest first."""
    return _P_CHILDREN.all(conn, {"parent_id": parent_id})


_P_GET = Prepared(_GET)
_P_GET_LOCKED = Prepared(_GET.with_for_update())
_P_CHILDREN = Prepared(_CHILDREN)
_P_ADD_EDGE = Prepared(
    insert(deps).values(task_id=bindparam("task_id"), depends_on_id=bindparam("depends_on_id"))
)
_P_INSERT = Prepared(_INSERT)
_P_DEP_IDS = Prepared(_DEP_IDS)
_P_DEP_STATES = Prepared(_DEP_STATES)
