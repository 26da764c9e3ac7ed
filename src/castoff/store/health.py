"""What the store looks like: latency, journal / WAL state, locks, row counts."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, select, text

from castoff.store.schema import (
    artifacts,
    blobs,
    events,
    records,
    sessions,
    task_dependencies,
    tasks,
)


def latency_ms(conn: Connection) -> float:
    """Round-trip time of a trivial query, in milliseconds."""
    start = time.perf_counter()
    conn.execute(text("SELECT 1")).scalar_one()
    return round((time.perf_counter() - start) * 1000, 3)


def counts(conn: Connection) -> dict[str, int]:
    """Rows per table."""
    out = {}
    for table in (sessions, tasks, task_dependencies, events, artifacts, blobs, records):
        out[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    return out


def journal_mode(conn: Connection) -> str:
    """SQLite's journal mode (``wal``), or PostgreSQL's ``wal_level``."""
    if conn.dialect.name == "sqlite":
        return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    return str(conn.exec_driver_sql("SHOW wal_level").scalar_one())


def lock_state(conn: Connection) -> dict[str, Any]:
    """SQLite: WAL size and busy timeout. PostgreSQL: locks held and waited for."""
    if conn.dialect.name == "sqlite":
        wal_pages = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return {
            "busy_timeout_ms": int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()),
            "foreign_keys": bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one()),
            "wal_busy": bool(wal_pages[0]),
            "wal_frames": int(wal_pages[1]),
            "wal_checkpointed": int(wal_pages[2]),
        }
    row = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) "
            "FROM pg_locks WHERE database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"
        )
    ).one()
    version = conn.exec_driver_sql("SHOW server_version").scalar_one()
    return {"granted": int(row[0]), "waiting": int(row[1]), "server_version": str(version)}
