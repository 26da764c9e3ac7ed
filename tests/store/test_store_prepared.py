"""Prepared statements: same results as SQLAlchemy's own execution, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select

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
