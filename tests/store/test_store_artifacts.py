"""Content-addressed artifact storage: files for SQLite, a table for PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from castoff.errors import NotFound
from castoff.store.artifacts import BlobStore, sha256_of
from castoff.store.database import Database
from castoff.store.migrate import ensure_schema


@pytest.fixture
def store(db_url: str) -> tuple[Database, BlobStore]:
    """A migrated store and its blob store."""
    db = Database.open(db_url)
    ensure_schema(db)
    path = db.sqlite_path
    yield db, BlobStore(path.parent / "artifacts" if path else None)
    db.close()


def test_put_get_round_trip(store: tuple[Database, BlobStore]) -> None:
    """Stored content comes back by its sha256."""
    db, blobs = store
    sha = db.write(lambda c: blobs.put(c, b"hello"))
    assert sha == sha256_of(b"hello")
    assert db.read(lambda c: blobs.get(c, sha)) == b"hello"


def test_same_content_stored_once(store: tuple[Database, BlobStore]) -> None:
    """Putting equal content twice keeps one copy."""
    db, blobs = store
    db.write(lambda c: blobs.put(c, b"x"))
    db.write(lambda c: blobs.put(c, b"x"))
    assert db.read(blobs.unreferenced) == [sha256_of(b"x")]


def test_unknown_sha_is_not_found(store: tuple[Database, BlobStore]) -> None:
    """Reading missing content is NotFound."""
    db, blobs = store
    with pytest.raises(NotFound):
        db.read(lambda c: blobs.get(c, "f" * 64))


def test_sqlite_files_live_under_artifacts_dir(tmp_path: Path) -> None:
    """SQLite content is a file at artifacts/<sha[:2]>/<sha>, no temp files left."""
    db = Database.open(f"sqlite:///{tmp_path / 'castoff.db'}")
    ensure_schema(db)
    blobs = BlobStore(tmp_path / "artifacts")
    sha = db.write(lambda c: blobs.put(c, b"content"))
    target = tmp_path / "artifacts" / sha[:2] / sha
    assert target.read_bytes() == b"content"
    assert [p.name for p in target.parent.iterdir()] == [sha]
    db.close()


def test_remove_unreferenced(store: tuple[Database, BlobStore]) -> None:
    """remove() deletes content so it is no longer found."""
    db, blobs = store
    sha = db.write(lambda c: blobs.put(c, b"gone"))
    db.write(lambda c: blobs.remove(c, [sha]))
    assert not db.read(lambda c: blobs.exists(c, sha))
