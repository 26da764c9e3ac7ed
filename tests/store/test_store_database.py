"""Engines, pragmas, transactions and retries of the store (both dialects where it matters)."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import OperationalError

from castoff.errors import ConfigError, StoreError
from castoff.store import database
from castoff.store.database import Database, is_transient
from castoff.store.migrate import ensure_schema
from castoff.store.schema import sessions, utcnow

PG_ADMIN_URL = os.environ.get(
    "CASTOFF_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def db(db_url: str) -> Database:
    """A migrated store."""
    store = Database.open(db_url)
    ensure_schema(store)
    yield store
    store.close()


def _session_row(sid: str) -> dict[str, object]:
    now = utcnow()
    return {
        "id": sid,
        "working_directory": f"/tmp/{sid}",
        "name": sid,
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }


def _count(db: Database) -> int:
    return db.read(
        lambda c: int(c.execute(select(func.count()).select_from(sessions)).scalar_one())
    )


def test_sqlite_pragmas(tmp_path: Path) -> None:
    """SQLite runs in WAL with foreign keys and a busy timeout."""
    store = Database.open(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 10_000
    finally:
        store.close()


def test_failed_work_writes_nothing(db: Database) -> None:
    """An error in the middle of a transaction leaves no half-written rows."""

    def work(conn: Connection) -> None:
        conn.execute(insert(sessions), [_session_row("a")])
        raise ConfigError("stop")

    with pytest.raises(ConfigError):
        db.write(work)
    assert _count(db) == 0


def test_transient_error_is_retried(db: Database) -> None:
    """A 'database is locked' failure rolls back and runs the work again."""
    calls = []

    def work(conn: Connection) -> None:
        calls.append(1)
        conn.execute(insert(sessions), [_session_row(f"s{len(calls)}")])
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    db.write(work)
    assert len(calls) == 2
    assert _count(db) == 1


def test_permanent_error_becomes_store_error(db: Database) -> None:
    """A non-transient database error is a StoreError, not retried."""
    calls = []

    def work(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(StoreError, match="the store failed"):
        db.write(work)
    assert calls == [1]


def test_is_transient_classifies_sqlite_messages() -> None:
    """Locked / busy are transient; other SQLite errors are not."""
    locked = OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
    syntax = OperationalError("x", {}, sqlite3.OperationalError("near 'x': syntax error"))
    assert is_transient(locked)
    assert not is_transient(syntax)


def test_writer_waits_for_a_held_sqlite_lock(tmp_path: Path) -> None:
    """A writer queues behind another process's write lock instead of failing."""
    path = tmp_path / "x.db"
    store = Database.open(f"sqlite:///{path}")
    ensure_schema(store)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        store.write(lambda c: c.execute(insert(sessions), [_session_row("w")]))
    finally:
        timer.join()
        other.close()
    assert _count(store) == 1
    store.close()


def test_engine_is_shared_and_disposed_with_last_user(tmp_path: Path) -> None:
    """Two opens of one URL share an engine; it goes when both close."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    a, b = Database.open(url), Database.open(url)
    assert a.engine is b.engine
    a.close()
    assert url in database._engines
    b.close()
    assert url not in database._engines


def test_unsupported_url_is_config_error() -> None:
    """Only sqlite and postgresql URLs are accepted."""
    with pytest.raises(ConfigError, match="unsupported database URL"):
        Database.open("mysql://localhost/x")


def test_in_memory_sqlite_is_refused() -> None:
    """An in-memory SQLite store would not be shared; it is refused."""
    with pytest.raises(ConfigError):
        Database.open("sqlite://")


@pytest.mark.postgres
def test_dropped_postgres_connection_is_retried(pg_url: str) -> None:
    """A connection the server terminated is replaced and the work still commits."""
    import psycopg

    store = Database.open(pg_url)
    try:
        ensure_schema(store)
        store.write(lambda c: c.execute(insert(sessions), [_session_row("before")]))
        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        store.write(lambda c: c.execute(insert(sessions), [_session_row("after")]))
        assert _count(store) == 2
    finally:
        store.close()


def test_close_checkpoints_sqlite_off_the_callers_path(tmp_path: Path) -> None:
    """close() returns at once; a thread closes the connections, which checkpoints the
    WAL into the database file and removes it; the data is there either way."""
    url = f"sqlite:///{tmp_path / 'castoff.db'}"
    db = Database.open(url)
    ensure_schema(db)
    db.write(lambda c: c.execute(insert(sessions), [_session_row("s1")]))
    assert (tmp_path / "castoff.db-wal").exists()
    db.close()
    for thread in threading.enumerate():
        if thread.name == "castoff-store-close":
            thread.join(timeout=10)
    assert not (tmp_path / "castoff.db-wal").exists()
    with sqlite3.connect(tmp_path / "castoff.db") as raw:
        assert raw.execute("SELECT id FROM sessions").fetchall() == [("s1",)]
