"""Bring a store's schema to the newest migration, safely under concurrency.

Opening a store checks the recorded Alembic revision with one query; only
when it is behind does it import Alembic and upgrade, holding a lock so two
processes starting at once never migrate together: ``pg_advisory_lock`` on
PostgreSQL, an exclusive ``flock`` beside the database file on SQLite.

Errors say what is wrong in one line: a store that cannot be reached
(``StoreError``, exit 1), a store written by a newer castoff (``ConfigError``,
exit 2), a migration that failed (``StoreError``).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from castoff.errors import ConfigError, StoreError
from castoff.store.database import Database, reason

#: Every revision this castoff knows, oldest first (``migrations/versions``).
REVISIONS = ("0001", "0002", "0003", "0004")
HEAD = REVISIONS[-1]
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x0CA5_70FF
_UNDEFINED_TABLE = "42P01"


def _connect(db: Database) -> Connection:
    try:
        return db.engine.connect()
    except DBAPIError as exc:
        raise StoreError(f"cannot connect to the store at {db.safe_url}: {reason(exc)}") from exc


def _missing_table(exc: DBAPIError) -> bool:
    """True when ``exc`` says the table does not exist (an empty store)."""
    if getattr(exc.orig, "sqlstate", None) == _UNDEFINED_TABLE:
        return True
    return "no such table" in str(exc.orig)


def current_revision(db: Database) -> str | None:
    """The revision recorded in the store, or None for an empty store.

    A store that cannot be reached is a StoreError, never "empty".
    """
    with _connect(db) as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except DBAPIError as exc:
            if _missing_table(exc):
                return None
            raise StoreError(f"cannot read the store at {db.safe_url}: {reason(exc)}") from exc
    return None if row is None else str(row[0])


def revision_in(conn: Connection) -> str | None:
    """The revision recorded in the store, read in ``conn``'s transaction (None: empty).

    Never fails on an empty store, so the transaction goes on (a failed statement
    would end it on PostgreSQL): ``Orchestrator.open`` reads the revision, the
    session and its expired leases in one transaction. Run on the driver's
    cursor: it is part of every command's start-up.
    """
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    else:
        exists = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
    read = "SELECT version_num FROM alembic_version"
    dbapi = conn.dialect.loaded_dbapi
    try:
        row = driver.execute(read).fetchone() if driver.execute(exists).fetchone() else None
    except dbapi.Error as exc:  # as SQLAlchemy would raise it (Database retries or reports it)
        raise DBAPIError.instance(read, (), exc, dbapi.Error, dialect=conn.dialect) from exc
    return None if row is None else str(row[0])


def _check_known(db: Database, revision: str | None) -> None:
    if revision is None or revision in REVISIONS:
        return
    raise ConfigError(
        f"the store at {db.safe_url} is at revision {revision}, newer than this castoff "
        f"({HEAD}); upgrade castoff"
    )


def ensure_schema(db: Database) -> str:
    """Upgrade the store to :data:`HEAD` if needed; return the revision.

    A store at a revision this castoff does not know (written by a newer one)
    is refused, never touched.
    """
    revision = current_revision(db)
    if revision == HEAD:
        return HEAD
    _check_known(db, revision)
    try:
        with _migration_lock(db) as conn:
            revision = current_revision(db)
            _check_known(db, revision)
            if revision != HEAD:
                upgrade(conn)
    except DBAPIError as exc:
        raise StoreError(f"could not migrate the store at {db.safe_url}: {reason(exc)}") from exc
    return HEAD


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the store on ``conn`` to ``revision`` (the newest by default), committed.

    Callers hold the migration lock (:func:`ensure_schema`); tests use it to
    build a store at an older revision.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    try:
        if conn.dialect.name == "sqlite":
            # The driver runs in autocommit mode (see database._sqlite_engine), so
            # SQLAlchemy's begin() would not start a transaction and every DDL
            # statement would commit on its own: a process killed mid-upgrade
            # would leave tables without their revision ("table sessions already
            # exists" ever after). SQLite's DDL is transactional: the whole
            # upgrade, revision stamp included, is one transaction that Alembic
            # joins as an external one.
            with conn.begin():
                conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
                command.upgrade(config, revision)
        else:
            command.upgrade(config, revision)
    except CommandError as exc:
        raise StoreError(f"could not migrate the store: {exc}") from exc
    if conn.in_transaction():
        conn.commit()


@contextmanager
def _migration_lock(db: Database) -> Iterator[Connection]:
    path = db.sqlite_path
    if path is not None:
        with path.with_name(path.name + ".migrate-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                with _connect(db) as conn:
                    yield conn
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with _connect(db) as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            conn.commit()
