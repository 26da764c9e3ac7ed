"""Migrations: created schema equals the metadata; concurrent starts are safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from castoff.errors import ConfigError, StoreError
from castoff.store.database import Database
from castoff.store.migrate import (
    HEAD,
    MIGRATIONS,
    current_revision,
    ensure_schema,
    upgrade,
)
from castoff.store.schema import metadata


def test_migrations_create_exactly_the_schema(db_url: str) -> None:
    """After upgrading, Alembic sees no difference from schema.py."""
    db = Database.open(db_url)
    try:
        ensure_schema(db)
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        db.close()


def test_head_constant_matches_the_scripts() -> None:
    """HEAD names the newest migration script."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_ensure_schema_is_idempotent(db_url: str) -> None:
    """Running it again changes nothing."""
    db = Database.open(db_url)
    try:
        assert ensure_schema(db) == HEAD
        assert ensure_schema(db) == HEAD
        assert current_revision(db) == HEAD
    finally:
        db.close()


@pytest.mark.slow
def test_concurrent_starts_migrate_once(db_url: str, tmp_path: Path) -> None:
    """Four processes opening a fresh store at once all succeed."""
    code = (
        "import sys; from pathlib import Path\n"
        "from castoff.orchestrator.service import Orchestrator\n"
        "with Orchestrator.open(Path(sys.argv[1]), database_url=sys.argv[2]) as o:\n"
        "    o.plan_task('x')\n"
    )
    procs = []
    for i in range(4):
        work = tmp_path / f"w{i}"
        work.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, str(work), db_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results
    db = Database.open(db_url)
    try:
        assert current_revision(db) == HEAD
    finally:
        db.close()


KILL_MID_MIGRATION = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from castoff.store.database import Database
from castoff.store.migrate import ensure_schema

created = []

@event.listens_for(Engine, "after_cursor_execute")
def _kill(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith("CREATE TABLE"):
        created.append(statement)
        if len(created) == 3:  # sessions, tasks and one more exist by now
            os.kill(os.getpid(), signal.SIGKILL)

ensure_schema(Database.open(sys.argv[1]))
"""


def test_a_store_killed_while_it_is_created_is_created_by_the_next_open(db_url: str) -> None:
    """SIGKILL in the middle of the first migration leaves nothing half-made: the
    upgrade is one transaction (on SQLite too, whose driver runs in autocommit
    mode), so the next open finds an empty store and creates all of it."""
    out = subprocess.run(
        [sys.executable, "-c", KILL_MID_MIGRATION, db_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == -9, out.stderr[-2000:]
    db = Database.open(db_url)
    try:
        assert current_revision(db) is None
        assert ensure_schema(db) == HEAD
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        db.close()


def test_upgrade_from_0001_keeps_sessions(db_url: str) -> None:
    """A store at 0001 with data is brought to HEAD; old sessions have no host."""
    from sqlalchemy import text

    db = Database.open(db_url)
    try:
        with db.engine.connect() as conn:
            upgrade(conn, "0001")
            conn.execute(
                text(
                    "INSERT INTO sessions (id, working_directory, name, status, created_at, "
                    "updated_at) VALUES ('s0', '/old', 'old', 'active', :t, :t)"
                ),
                {"t": "2024-01-01 00:00:00"},
            )
            conn.commit()
        assert current_revision(db) == "0001"
        assert ensure_schema(db) == HEAD
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT id, host FROM sessions")).one()
        assert tuple(row) == ("s0", None)
    finally:
        db.close()


def test_upgrade_from_0003_adds_an_empty_records_table(db_url: str) -> None:
    """0004 adds ``records`` and backfills nothing; the sessions stay, and records work."""
    from sqlalchemy import text

    from castoff.store import records
    from castoff.store.schema import utcnow

    db = Database.open(db_url)
    try:
        with db.engine.connect() as conn:
            upgrade(conn, "0003")
            conn.execute(
                text(
                    "INSERT INTO sessions (id, working_directory, name, status, created_at, "
                    "updated_at, host) VALUES ('s0', '/old', 'old', 'active', :t, :t, 'vm')"
                ),
                {"t": "2024-01-01 00:00:00"},
            )
            conn.commit()
        assert ensure_schema(db) == HEAD
        version = db.write(
            lambda conn: records.put(conn, "s0", "k", {"a": 1}, expect=None, at=utcnow())
        )
        assert version == 1
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM records")).scalar() == 1
            assert conn.execute(text("SELECT id FROM sessions")).scalar() == "s0"
    finally:
        db.close()


def _set_revision(db: Database, revision: str) -> None:
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_store_of_a_newer_castoff_is_refused_untouched(db_url: str) -> None:
    """A revision this castoff does not know says: upgrade castoff (exit 2)."""
    db = Database.open(db_url)
    try:
        ensure_schema(db)
        _set_revision(db, "0099")
        with pytest.raises(ConfigError) as info:
            ensure_schema(db)
        assert info.value.exit_code == 2
        assert "is at revision 0099, newer than this castoff" in info.value.message
        assert info.value.message.endswith("upgrade castoff")
        assert current_revision(db) == "0099"
    finally:
        db.close()


def test_malformed_url_is_one_clear_configuration_error() -> None:
    """'not a url' is a ConfigError naming the accepted forms, not a SQLAlchemy traceback."""
    with pytest.raises(ConfigError, match=r"malformed database URL 'not a url': use sqlite"):
        Database.open("not a url")


def test_malformed_url_hides_its_password() -> None:
    """A URL that does not parse is shown without the password."""
    with pytest.raises(ConfigError) as info:
        Database.open("postgresql://me:hunter2@host:notaport/db")
    assert "hunter2" not in info.value.message


def test_unreachable_server_says_cannot_connect() -> None:
    """An unreachable PostgreSQL is 'cannot connect to the store at URL: reason' (exit 1)."""
    db = Database.open("postgresql+psycopg://me:hunter2@127.0.0.1:1/castoff")
    try:
        with pytest.raises(StoreError) as info:
            ensure_schema(db)
    finally:
        db.close()
    message = info.value.message
    assert message.startswith(
        "cannot connect to the store at postgresql+psycopg://me:***@127.0.0.1:1"
    )
    assert "hunter2" not in message
    assert "\n" not in message
    assert info.value.exit_code == 1


def test_current_revision_of_an_empty_store_is_none(db_url: str) -> None:
    """No alembic_version table means an empty store (and nothing else does)."""
    db = Database.open(db_url)
    try:
        assert current_revision(db) is None
    finally:
        db.close()
