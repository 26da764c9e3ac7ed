"""Bring a store's schema to the newest migration, safely under concurrency.

Opening a store checks the recorded Alembic revision with one query; only
when it is behind does it import Alembic and upgrade, holding a lock so two
processes starting at once never migrate together: ``pg_advisory_lock`` on
PostgreSQL, an exclusive ``flock`` beside the database file on SQLite.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from castoff.errors import StoreError
from castoff.store.database import Database

HEAD = "0001"
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x0CA5_70FF


def current_revision(db: Database) -> str | None:
    """The revision recorded in the store, or None for an empty store."""
    try:
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except DBAPIError:
        return None
    return None if row is None else str(row[0])


def ensure_schema(db: Database) -> str:
    """Upgrade the store to :data:`HEAD` if needed; return the revision."""
    if current_revision(db) == HEAD:
        return HEAD
    try:
        with _migration_lock(db) as conn:
            if current_revision(db) != HEAD:
                _upgrade(conn)
    except DBAPIError as exc:
        raise StoreError(f"could not migrate the store: {str(exc.orig).strip()}") from exc
    return HEAD


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    if conn.in_transaction():
        conn.commit()


@contextmanager
def _migration_lock(db: Database) -> Iterator[Connection]:
    path = db.sqlite_path
    if path is not None:
        with path.with_name(path.name + ".migrate-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                with db.engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            conn.commit()
