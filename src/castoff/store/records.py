"""Keyed records of a session: read, and write by compare-and-set.

A record is a small JSON document under a key, with a ``version`` that goes up
by one on every write. A writer names the version it read (``expect``; None: the
record must not exist yet) and the write happens only if that is still the
version stored — one conditional statement, so of two writers that read the
same version exactly one wins, on both dialects (PostgreSQL re-checks the
condition once the first writer commits).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from castoff.store.schema import records


def get(conn: Connection, session_id: str, key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(records).where(records.c.session_id == session_id, records.c.key == key)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def put(
    conn: Connection,
    session_id: str,
    key: str,
    data: Mapping[str, Any],
    *,
    expect: int | None,
    at: datetime,
) -> int | None:
    """Write ``data`` under ``key`` if its stored version is ``expect`` (None: absent).

    Returns the new version, or None when another write got there first.
    """
    stmt: Any
    if expect is None:
        values = {
            "session_id": session_id,
            "key": key,
            "version": 1,
            "data": dict(data),
            "created_at": at,
            "updated_at": at,
        }
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert  # PostgreSQL only
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = (
            insert(records)
            .values(values)
            .on_conflict_do_nothing(index_elements=["session_id", "key"])
            .returning(records.c.version)
        )
    else:
        stmt = (
            update(records)
            .where(
                records.c.session_id == session_id,
                records.c.key == key,
                records.c.version == expect,
            )
            .values(version=expect + 1, data=dict(data), updated_at=at)
            .returning(records.c.version)
        )
    version = conn.execute(stmt).scalar()
    return None if version is None else int(version)
