"""Task reads for reports: ``query_tasks`` pages, status counts, ready work, findings.

Statements are built once per *shape* of query (which filters are present) and
reused with bound values, so a query costs one cached compile, not a rebuild;
the ones without ``IN`` lists run as :class:`Prepared` statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, exists, func, or_, select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from castoff.store import counters
from castoff.store.prepared import Prepared, in_list, list_value
from castoff.store.schema import UTCDateTime, tasks
from castoff.store.schema import task_dependencies as deps
from castoff.store.tasks import descendants


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


_LIST_FILTERS = ("status", "task_type", "specialist_type", "complexity")
_COUNTED = frozenset({"status", "status_list"})  # query shapes whose total task_counts has
_BRIEF = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.status,
    tasks.c.specialist_type,
    tasks.c.lease_owner,
    tasks.c.updated_at,
)


@lru_cache(maxsize=256)
def _query_statements(shape: frozenset[str], dialect: str) -> tuple[Prepared, Prepared]:
    """The page and count statements for one shape of filters, prepared for ``dialect``.

    A list filter with one value is an equality (``name`` in ``shape``), with
    several a list bound as one parameter (``name_list``, see :func:`in_list`), so
    every shape compiles once and runs as a :class:`Prepared` statement.
    """
    cond: list[ColumnElement[bool]] = [tasks.c.session_id == bindparam("session_id")]
    for name in _LIST_FILTERS:
        if name in shape:
            cond.append(tasks.c[name] == bindparam(name))
        elif f"{name}_list" in shape:
            cond.append(in_list(tasks.c[name], f"{name}_list", dialect))
    if "ids" in shape:
        cond.append(in_list(tasks.c.id, "ids", dialect))
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
    return Prepared(page), Prepared(count)


def _params(conn: Connection, q: TaskQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"session_id": q.session_id}
    for name in _LIST_FILTERS:
        values = list(getattr(q, name))
        if len(values) == 1:
            params[name] = values[0]
        elif values:
            params[f"{name}_list"] = values
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
    shape = frozenset(params) - {"session_id"}
    dialect = conn.dialect.name
    page, count = _query_statements(shape, dialect)
    for name in shape:
        if name.endswith("_list") or name == "ids":
            params[name] = list_value(params[name], dialect)
    rows = page.all(conn, params | {"limit": limit, "offset": offset})
    if offset == 0 and len(rows) < limit:
        total = len(rows)
    elif shape <= _COUNTED:  # by status alone (or not at all): the counters know the total
        counted = counters.read(conn, q.session_id)
        wanted = q.status or counted.keys()
        total = sum(counted.get(s, 0) for s in set(wanted))
    else:
        total = int(count.tuples(conn, params)[0][0])
    return rows, total


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
    """Number of the session's tasks in each status (read from ``task_counts``, no scan)."""
    return counters.read(conn, session_id)


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


def with_closed_parent(
    conn: Connection, session_id: str, statuses: Sequence[str], closed: Sequence[str]
) -> list[str]:
    """Tasks in one of ``statuses`` whose parent is in one of ``closed`` (orphans)."""
    parent = tasks.alias("parent")
    rows = conn.execute(
        select(tasks.c.id)
        .join(parent, parent.c.id == tasks.c.parent_task_id)
        .where(
            tasks.c.session_id == session_id,
            tasks.c.status.in_(list(statuses)),
            parent.c.status.in_(list(closed)),
        )
    )
    return sorted(r[0] for r in rows)


def with_closed_dependency(
    conn: Connection, session_id: str, statuses: Sequence[str], closed: Sequence[str]
) -> list[tuple[str, str, str]]:
    """(task, dependency, its status) for tasks in ``statuses`` waiting on a ``closed`` one."""
    dep = tasks.alias("dep")
    rows = conn.execute(
        select(tasks.c.id, dep.c.id, dep.c.status)
        .join(deps, deps.c.task_id == tasks.c.id)
        .join(dep, dep.c.id == deps.c.depends_on_id)
        .where(
            tasks.c.session_id == session_id,
            tasks.c.status.in_(list(statuses)),
            dep.c.status.in_(list(closed)),
        )
        .order_by(tasks.c.id, dep.c.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


_P_OLDEST = Prepared(_OLDEST)
_P_NEWEST = Prepared(_NEWEST)
_P_READY = Prepared(_READY)
