"""Task, dependency and lease SQL. Functions over a ``Connection``; plain rows out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from castoff.store.prepared import Prepared
from castoff.store.schema import UTCDateTime, tasks
from castoff.store.schema import task_dependencies as deps

OPEN = ("pending", "in_progress", "blocked")

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
_DEPS_OF = (
    select(deps.c.task_id, deps.c.depends_on_id)
    .where(deps.c.task_id.in_(bindparam("ids", expanding=True)))
    .order_by(deps.c.task_id, deps.c.depends_on_id)
)
_DEP_STATES = (
    select(tasks.c.id, tasks.c.status, tasks.c.summary)
    .join(deps, deps.c.depends_on_id == tasks.c.id)
    .where(deps.c.task_id == bindparam("task_id"))
    .order_by(tasks.c.id)
)
_CLAIM = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("b_task_id"),
        or_(
            tasks.c.status == "pending",
            and_(
                tasks.c.status == "in_progress",
                or_(
                    tasks.c.lease_expires_at.is_(None),
                    tasks.c.lease_expires_at < bindparam("b_now"),
                    tasks.c.lease_owner == bindparam("b_worker"),
                ),
            ),
        ),
    )
    .values(
        status="in_progress",
        lease_owner=bindparam("b_worker"),
        lease_expires_at=bindparam("b_expires"),
        attempts=tasks.c.attempts + 1,
        error=None,
        updated_at=bindparam("b_now"),
    )
    .returning(*tasks.c)
)
_COMPLETE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_task_id"), tasks.c.status == "in_progress")
    .values(
        status="completed",
        summary=bindparam("b_summary"),
        detailed_work=bindparam("b_detailed_work"),
        next_action=bindparam("b_next_action"),
        lease_owner=None,
        lease_expires_at=None,
        completed_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
    .returning(*tasks.c)
)
_COMPLETE_AS = _COMPLETE.where(
    or_(
        tasks.c.lease_owner.is_(None),
        tasks.c.lease_owner == bindparam("b_worker"),
        tasks.c.lease_expires_at < bindparam("b_now"),
    )
)


@dataclass(frozen=True)
class TaskQuery:
    """Filters of ``query_tasks``; empty lists and None mean "any"."""

    session_id: str
    status: Sequence[str] = ()
    task_type: Sequence[str] = ()
    specialist_type: Sequence[str] = ()
    complexity: Sequence[str] = ()
    parent_task_id: str | None = None
    include_children: bool = False
    search_text: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ids: Sequence[str] = field(default_factory=tuple)


def insert_task(conn: Connection, values: Mapping[str, Any]) -> None:
    _P_INSERT.execute(conn, values)


def get(conn: Connection, task_id: str) -> dict[str, Any] | None:
    return _P_GET.one(conn, {"task_id": task_id})


def get_many(conn: Connection, ids: Iterable[str]) -> list[RowMapping]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(conn.execute(select(tasks).where(tasks.c.id.in_(wanted))).mappings())


def existing_ids(conn: Connection, session_id: str, ids: Iterable[str]) -> set[str]:
    wanted = list(ids)
    if not wanted:
        return set()
    rows = conn.execute(
        select(tasks.c.id).where(tasks.c.session_id == session_id, tasks.c.id.in_(wanted))
    )
    return {r[0] for r in rows}


def set_values(conn: Connection, task_id: str, values: Mapping[str, Any]) -> None:
    """Set the given columns of one task."""
    conn.execute(_UPDATE, {"b_task_id": task_id, **values})


def set_many(conn: Connection, ids: Sequence[str], values: Mapping[str, Any]) -> None:
    if ids:
        conn.execute(update(tasks).where(tasks.c.id.in_(list(ids))).values(**values))


def delete_many(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(tasks).where(tasks.c.id.in_(list(ids))))


# -- dependencies ---------------------------------------------------------
def add_dependencies(conn: Connection, task_id: str, depends_on: Iterable[str]) -> None:
    rows = [{"task_id": task_id, "depends_on_id": d} for d in depends_on]
    if rows:
        conn.execute(insert(deps), rows)


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
    for task_id, dep in conn.execute(_DEPS_OF, {"ids": wanted}):
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


# -- leases -----------------------------------------------------------------
def claim(
    conn: Connection, task_id: str, *, worker: str, now: datetime, expires_at: datetime
) -> dict[str, Any] | None:
    """Take the lease in one conditional UPDATE; the claimed row, or None if it lost.

    Claimable: pending, or in progress with an expired lease (or one this worker holds).
    """
    params = {"b_task_id": task_id, "b_worker": worker, "b_now": now, "b_expires": expires_at}
    return _P_CLAIM.one(conn, params)


def complete(
    conn: Connection,
    task_id: str,
    *,
    summary: str,
    detailed_work: str | None,
    next_action: str | None,
    now: datetime,
    worker: str | None,
) -> dict[str, Any] | None:
    """Complete an in-progress task (held by ``worker`` if given); the row, or None."""
    params = {
        "b_task_id": task_id,
        "b_summary": summary,
        "b_detailed_work": detailed_work,
        "b_next_action": next_action,
        "b_now": now,
    }
    if worker:
        params["b_worker"] = worker
    return (_P_COMPLETE_AS if worker else _P_COMPLETE).one(conn, params)


def extend_lease(
    conn: Connection, task_id: str, *, worker: str, now: datetime, expires_at: datetime
) -> bool:
    result = conn.execute(
        update(tasks)
        .where(
            tasks.c.id == task_id,
            tasks.c.status == "in_progress",
            tasks.c.lease_owner == worker,
        )
        .values(lease_expires_at=expires_at, updated_at=now)
    )
    return result.rowcount == 1


def reclaim_expired(conn: Connection, session_id: str | None, now: datetime) -> list[str]:
    """Put in-progress tasks whose lease has expired back to pending; their ids."""
    cond = [
        tasks.c.status == "in_progress",
        or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at < now),
    ]
    if session_id is not None:
        cond.append(tasks.c.session_id == session_id)
    rows = conn.execute(
        update(tasks)
        .where(*cond)
        .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=now)
        .returning(tasks.c.id)
    )
    return sorted(r[0] for r in rows)


_COUNT_EXPIRED = (
    select(func.count())
    .select_from(tasks)
    .where(
        tasks.c.session_id == bindparam("session_id"),
        tasks.c.status == "in_progress",
        tasks.c.lease_expires_at < bindparam("now", type_=UTCDateTime),
    )
)


def count_expired(conn: Connection, session_id: str, now: datetime) -> int:
    """In-progress tasks of the session whose lease has expired."""
    params = {"session_id": session_id, "now": now}
    return int(_P_COUNT_EXPIRED.tuples(conn, params)[0][0])


# -- queries ------------------------------------------------------------------
# Statements are built once per *shape* of query (which filters are present) and
# reused with bound values, so a query costs one cached compile, not a rebuild.
_LIST_FILTERS = ("status", "task_type", "specialist_type", "complexity")
_BRIEF = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.status,
    tasks.c.specialist_type,
    tasks.c.lease_owner,
    tasks.c.updated_at,
)


_Stmt = Select[Any] | Prepared


@lru_cache(maxsize=256)
def _query_statements(
    shape: frozenset[str],
) -> tuple[Select[Any] | Prepared, Select[Any] | Prepared]:
    """The page and count statements for one shape of filters.

    A list filter with one value is an equality (``name`` in ``shape``), with
    several an expanding ``IN`` (``name[]``); shapes without ``IN`` lists run as
    :class:`Prepared` statements.
    """
    cond: list[ColumnElement[bool]] = [tasks.c.session_id == bindparam("session_id")]
    for name in _LIST_FILTERS:
        if name in shape:
            cond.append(tasks.c[name] == bindparam(name))
        elif f"{name}[]" in shape:
            cond.append(tasks.c[name].in_(bindparam(f"{name}[]", expanding=True)))
    if "ids" in shape:
        cond.append(tasks.c.id.in_(bindparam("ids", expanding=True)))
    if "parent_task_id" in shape:
        cond.append(tasks.c.parent_task_id == bindparam("parent_task_id"))
    if "search_text" in shape:
        pattern: BindParameter[str] = bindparam("search_text")
        cond.append(
            or_(
                *(
                    func.lower(col).like(pattern, escape="\\")
                    for col in (tasks.c.title, tasks.c.description, tasks.c.summary)
                )
            )
        )
    if "created_after" in shape:
        cond.append(tasks.c.created_at >= bindparam("created_after", type_=UTCDateTime))
    if "created_before" in shape:
        cond.append(tasks.c.created_at < bindparam("created_before", type_=UTCDateTime))
    page = (
        select(tasks)
        .where(*cond)
        .order_by(tasks.c.created_at, tasks.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    count = select(func.count()).select_from(tasks).where(*cond)
    if any(name.endswith("[]") for name in shape) or "ids" in shape:
        return page, count
    return Prepared(page), Prepared(count)


def _params(conn: Connection, q: TaskQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"session_id": q.session_id}
    for name in _LIST_FILTERS:
        values = list(getattr(q, name))
        if len(values) == 1:
            params[name] = values[0]
        elif values:
            params[f"{name}[]"] = values
    ids = list(q.ids)
    if q.parent_task_id is not None:
        if q.include_children:
            below = descendants(conn, q.parent_task_id)
            ids = [i for i in ids if i in below] if ids else below
            params["ids"] = ids or [""]
        else:
            params["parent_task_id"] = q.parent_task_id
    elif ids:
        params["ids"] = ids
    if q.search_text:
        params["search_text"] = f"%{_escape_like(q.search_text.lower())}%"
    if q.created_after is not None:
        params["created_after"] = q.created_after
    if q.created_before is not None:
        params["created_before"] = q.created_before
    return params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query(
    conn: Connection, q: TaskQuery, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of matching tasks (oldest first) and the total number of matches."""
    params = _params(conn, q)
    page, count = _query_statements(frozenset(params) - {"session_id"})
    page_params = params | {"limit": limit, "offset": offset}
    if isinstance(page, Prepared):
        rows = page.all(conn, page_params)
    else:
        rows = [dict(r) for r in conn.execute(page, page_params).mappings()]
    if offset == 0 and len(rows) < limit:
        total = len(rows)
    elif isinstance(count, Prepared):
        total = int(count.tuples(conn, params)[0][0])
    else:
        total = int(conn.execute(count, params).scalar_one())
    return rows, total


_STATUS_COUNTS = (
    select(tasks.c.status, func.count())
    .where(tasks.c.session_id == bindparam("session_id"))
    .group_by(tasks.c.status)
)
_OLDEST = (
    select(*_BRIEF)
    .where(tasks.c.session_id == bindparam("session_id"), tasks.c.status == bindparam("status"))
    .order_by(tasks.c.created_at, tasks.c.id)
    .limit(bindparam("limit"))
)
_NEWEST = (
    select(*_BRIEF)
    .where(tasks.c.session_id == bindparam("session_id"), tasks.c.status == bindparam("status"))
    .order_by(tasks.c.updated_at.desc())
    .limit(bindparam("limit"))
)
_dep = tasks.alias("dep")
_READY = (
    select(*_BRIEF)
    .where(
        tasks.c.session_id == bindparam("session_id"),
        tasks.c.status == "pending",
        ~exists(
            select(deps.c.task_id)
            .join(_dep, _dep.c.id == deps.c.depends_on_id)
            .where(deps.c.task_id == tasks.c.id, _dep.c.status != "completed")
        ),
    )
    .order_by(tasks.c.created_at, tasks.c.id)
    .limit(bindparam("limit"))
)


def status_counts(conn: Connection, session_id: str) -> dict[str, int]:
    """Number of the session's tasks in each status (one GROUP BY over an index)."""
    rows = _P_STATUS_COUNTS.tuples(conn, {"session_id": session_id})
    return {r[0]: int(r[1]) for r in rows}


def children(conn: Connection, parent_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(tasks)
            .where(tasks.c.parent_task_id == parent_id)
            .order_by(tasks.c.created_at, tasks.c.id)
        ).mappings()
    )


def briefs_by_status(
    conn: Connection, session_id: str, status: str, *, limit: int, newest_first: bool = False
) -> list[dict[str, Any]]:
    """Short rows (id, title, status, specialist, lease owner, updated) in one status."""
    stmt = _P_NEWEST if newest_first else _P_OLDEST
    return stmt.all(conn, {"session_id": session_id, "status": status, "limit": limit})


def by_status(conn: Connection, session_id: str, status: str, *, limit: int) -> list[RowMapping]:
    """Full rows in one status, oldest first."""
    return list(
        conn.execute(
            select(tasks)
            .where(tasks.c.session_id == session_id, tasks.c.status == status)
            .order_by(tasks.c.created_at, tasks.c.id)
            .limit(limit)
        ).mappings()
    )


def ready(conn: Connection, session_id: str, *, limit: int) -> list[dict[str, Any]]:
    """Short rows of pending tasks whose dependencies are all completed, oldest first."""
    return _P_READY.all(conn, {"session_id": session_id, "limit": limit})


def open_with_closed_parent(conn: Connection, session_id: str) -> list[str]:
    """Open tasks whose parent is cancelled or archived (orphans)."""
    parent = tasks.alias("parent")
    rows = conn.execute(
        select(tasks.c.id)
        .join(parent, parent.c.id == tasks.c.parent_task_id)
        .where(
            tasks.c.session_id == session_id,
            tasks.c.status.in_(OPEN),
            parent.c.status.in_(("cancelled", "archived")),
        )
    )
    return sorted(r[0] for r in rows)


_P_GET = Prepared(_GET)
_P_INSERT = Prepared(_INSERT)
_P_DEP_IDS = Prepared(_DEP_IDS)
_P_DEP_STATES = Prepared(_DEP_STATES)
_P_CLAIM = Prepared(_CLAIM)
_P_COMPLETE = Prepared(_COMPLETE)
_P_COMPLETE_AS = Prepared(_COMPLETE_AS)
_P_COUNT_EXPIRED = Prepared(_COUNT_EXPIRED)
_P_STATUS_COUNTS = Prepared(_STATUS_COUNTS)
_P_OLDEST = Prepared(_OLDEST)
_P_NEWEST = Prepared(_NEWEST)
_P_READY = Prepared(_READY)
