"""Lease SQL: claim, renew, complete and reclaim tasks. Functions over a ``Connection``.

Every lease change is one conditional ``UPDATE … RETURNING``, so two workers can
never both win a task; the hot ones run as :class:`Prepared` statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from castoff.store.prepared import Prepared
from castoff.store.schema import UTCDateTime, tasks

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
_RENEW = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("b_task_id"),
        tasks.c.status == "in_progress",
        tasks.c.lease_owner == bindparam("b_worker"),
    )
    .values(lease_expires_at=bindparam("b_expires"), updated_at=bindparam("b_now"))
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
_COUNT_EXPIRED = (
    select(func.count())
    .select_from(tasks)
    .where(
        tasks.c.session_id == bindparam("session_id"),
        tasks.c.status == "in_progress",
        tasks.c.lease_expires_at < bindparam("now", type_=UTCDateTime),
    )
)


def claim(
    conn: Connection, task_id: str, *, worker: str, now: datetime, expires_at: datetime
) -> dict[str, Any] | None:
    """Take the lease in one conditional UPDATE; the claimed row, or None if it lost.

    Claimable: pending, or in progress with an expired lease (or one this worker holds).
    """
    params = {"b_task_id": task_id, "b_worker": worker, "b_now": now, "b_expires": expires_at}
    return _P_CLAIM.one(conn, params)


def renew(
    conn: Connection, task_id: str, *, worker: str, now: datetime, expires_at: datetime
) -> dict[str, Any] | None:
    """Move the expiry of the lease ``worker`` holds; the row, or None if it holds none."""
    params = {"b_task_id": task_id, "b_worker": worker, "b_now": now, "b_expires": expires_at}
    return _P_RENEW.one(conn, params)


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


def reclaim_held(conn: Connection, holders: Mapping[str, str], now: datetime) -> list[str]:
    """Put back to pending the tasks of ``holders`` (task id -> lease owner) still in
    progress under that owner; their ids. A task claimed, completed or taken over
    since the caller looked is left alone."""
    reclaimed = []
    for task_id, owner in holders.items():
        rows = conn.execute(
            update(tasks)
            .where(
                tasks.c.id == task_id,
                tasks.c.status == "in_progress",
                tasks.c.lease_owner == owner,
            )
            .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=now)
            .returning(tasks.c.id)
        )
        reclaimed += [r[0] for r in rows]
    return sorted(reclaimed)


def count_expired(conn: Connection, session_id: str, now: datetime) -> int:
    """In-progress tasks of the session whose lease has expired."""
    params = {"session_id": session_id, "now": now}
    return int(_P_COUNT_EXPIRED.tuples(conn, params)[0][0])


_P_CLAIM = Prepared(_CLAIM)
_P_RENEW = Prepared(_RENEW)
_P_COMPLETE = Prepared(_COMPLETE)
_P_COMPLETE_AS = Prepared(_COMPLETE_AS)
_P_COUNT_EXPIRED = Prepared(_COUNT_EXPIRED)
