"""Content-addressed artifact storage: a table (and files for large content on SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from castoff.errors import NotFound
from castoff.store.artifacts import INLINE_LIMIT, BlobStore, sha256_of
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


def test_sqlite_small_content_lives_in_the_table_large_in_files(tmp_path: Path) -> None:
    """Up to 64 KiB: a blobs row, no file at all. Larger: a file at
    artifacts/<sha[:2]>/<sha>, no temp files left. Both read back by sha256."""
    db = Database.open(f"sqlite:///{tmp_path / 'castoff.db'}")
    ensure_schema(db)
    blobs = BlobStore(tmp_path / "artifacts")
    small, large = b"s" * INLINE_LIMIT, b"L" * (INLINE_LIMIT + 1)
    small_sha = db.write(lambda c: blobs.put(c, small))
    large_sha = db.write(lambda c: blobs.put(c, large))
    assert not (tmp_path / "artifacts" / small_sha[:2]).exists()
    target = tmp_path / "artifacts" / large_sha[:2] / large_sha
    assert target.read_bytes() == large
    assert [p.name for p in target.parent.iterdir()] == [large_sha]
    assert db.read(lambda c: (blobs.get(c, small_sha), blobs.get(c, large_sha))) == (small, large)
    assert db.read(blobs.unreferenced) == sorted([small_sha, large_sha])
    db.write(lambda c: blobs.remove(c, [small_sha, large_sha]))
    assert not target.exists()
    assert not db.read(lambda c: blobs.exists(c, small_sha) or blobs.exists(c, large_sha))
    db.close()


def test_content_stored_as_a_file_by_an_older_castoff_still_reads(tmp_path: Path) -> None:
    """A small artifact kept as a file (every artifact was, before content went into the
    table) is found, read, listed as stored content and removable."""
    db = Database.open(f"sqlite:///{tmp_path / 'castoff.db'}")
    ensure_schema(db)
    blobs = BlobStore(tmp_path / "artifacts")
    sha = sha256_of(b"old")
    old = tmp_path / "artifacts" / sha[:2] / sha
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    assert db.read(lambda c: (blobs.exists(c, sha), blobs.get(c, sha))) == (True, b"old")
    assert db.read(blobs.unreferenced) == [sha]
    db.write(lambda c: blobs.remove(c, [sha]))
    assert not old.exists()
    db.close()


def test_remove_unreferenced(store: tuple[Database, BlobStore]) -> None:
    """remove() deletes content so it is no longer found."""
    db, blobs = store
    sha = db.write(lambda c: blobs.put(c, b"gone"))
    db.write(lambda c: blobs.remove(c, [sha]))
    assert not db.read(lambda c: blobs.exists(c, sha))
