"""Prepared statements: same results as SQLAlchemy's own execution, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, bindparam, insert, select

from castoff.store.database import Database
from castoff.store.migrate import ensure_schema
from castoff.store.prepared import Prepared
from castoff.store.schema import sessions


@pytest.fixture
def db(db_url: str) -> Database:
    """A migrated store."""
    store = Database.open(db_url)
    ensure_schema(store)
    yield store
    store.close()


def test_prepared_round_trip_matches_core(db: Database) -> None:
    """A row written and read through Prepared equals what Core reads back."""
    at = datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    write = Prepared(
        insert(sessions).values({c.name: bindparam(c.name, type_=c.type) for c in sessions.c})
    )
    read = Prepared(select(sessions).where(sessions.c.id == bindparam("sid")))
    row = {
        "id": "s1",
        "working_directory": "/w",
        "name": "n",
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "host": "h1",
    }
    db.write(lambda c: write.execute(c, row))
    assert db.read(lambda c: read.one(c, {"sid": "s1"})) == row
    core = db.read(lambda c: dict(c.execute(select(sessions)).mappings().one()))
    assert core == row


def test_prepared_refuses_expanding_in(db: Database) -> None:
    """Statements with expanding IN lists are not prepared."""
    stmt = Prepared(select(sessions).where(sessions.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        db.read(lambda c: stmt.all(c, {"ids": ["a"]}))


def test_prepared_driver_error_is_a_dbapi_error(db: Database) -> None:
    """A constraint violation surfaces as the store's StoreError, nothing written."""
    from castoff.errors import StoreError

    write = Prepared(
        insert(sessions).values({c.name: bindparam(c.name, type_=c.type) for c in sessions.c})
    )
    now = datetime.now(UTC)
    row = {
        "id": "dup",
        "working_directory": "/d",
        "name": "n",
        "status": "active",
        "created_at": now,
        "updated_at": now,
        "host": None,
    }
    db.write(lambda c: write.execute(c, row))
    with pytest.raises(StoreError):
        db.write(lambda c: write.execute(c, row | {"working_directory": "/other"}))


def test_task_rows_match_core_with_every_column_set(db: Database) -> None:
    """A task row with every column filled (context JSON, all datetimes, one written with
    an offset behind the store's back) reads the same through Prepared as through Core."""
    from sqlalchemy import text

    from castoff.store.schema import tasks

    at = datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    row = {
        "parent_task_id": None,
        "title": "t",
        "description": "d",
        "task_type": "standard",
        "specialist_type": "coder",
        "complexity": "moderate",
        "status": "in_progress",
        "estimated_effort": "1h",
        "due_date": at,
        "context": {"k": [1, "two"]},
        "summary": "s",
        "detailed_work": "w",
        "next_action": "n",
        "error": "e",
        "lease_owner": "me",
        "lease_expires_at": at,
        "attempts": 2,
        "created_at": at,
        "updated_at": at,
        "completed_at": at,
    }

    def work(conn: Connection) -> None:
        write_session(conn, "s1")
        conn.execute(insert(tasks), [row | {"id": f"t{i}", "session_id": "s1"} for i in range(2)])

    db.write(work)
    if db.dialect == "sqlite":  # text with an offset of its own still reads as UTC
        db.write(
            lambda c: c.execute(
                text("UPDATE tasks SET due_date = '2030-01-02 05:04:05.000006+02:00'")
            )
        )
    read = Prepared(
        select(tasks).where(tasks.c.session_id == bindparam("sid")).order_by(tasks.c.id)
    )
    prepared = db.read(lambda c: read.all(c, {"sid": "s1"}))
    core = db.read(
        lambda c: [dict(r) for r in c.execute(select(tasks).order_by(tasks.c.id)).mappings()]
    )
    assert prepared == core
    assert prepared[0]["due_date"] == at
    assert prepared[0]["context"] == {"k": [1, "two"]}


def test_list_parameters_take_any_number_of_ids(db: Database) -> None:
    """Dependencies and artifacts of thousands of tasks come back in one query each."""
    from castoff.store import artifacts, tasks

    ids = [f"t{i}" for i in range(3000)]
    assert db.read(lambda c: tasks.dependencies_of(c, ids)) == {i: [] for i in ids}
    assert db.read(lambda c: artifacts.for_tasks(c, ids)) == []


def write_session(conn: Connection, sid: str) -> None:
    now = datetime.now(UTC)
    Prepared(
        insert(sessions).values({c.name: bindparam(c.name, type_=c.type) for c in sessions.c})
    ).execute(
        conn,
        {
            "id": sid,
            "working_directory": f"/{sid}",
            "name": sid,
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "host": None,
        },
    )
