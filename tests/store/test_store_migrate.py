"""Migrations: created schema equals the metadata; concurrent starts are safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from castoff.store.database import Database
from castoff.store.migrate import HEAD, MIGRATIONS, current_revision, ensure_schema
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
