"""Artifact rows and their content, addressed by sha256.

Content lives once per sha256. In the ``blobs`` table, written in the same
transaction as the artifact rows that refer to it: always on PostgreSQL (so
every worker sees it), and on SQLite for content up to :data:`INLINE_LIMIT`
(64 KiB; a release's notes, reports and results) — one row instead of a file
created, written and renamed per artifact. Larger content on SQLite is a file
under ``<state dir>/artifacts/<sha[:2]>/<sha>`` (written atomically: temp file
then ``os.replace``), as every artifact was before castoff 0003; reading looks
in the table first, then for the file, so older stores read as they did.
:class:`BlobStore` hides which.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select
from sqlalchemy.sql import ClauseElement

from castoff.errors import NotFound, StoreError
from castoff.store.prepared import PerDialect, Prepared, in_list
from castoff.store.schema import artifacts, blobs, utcnow

#: SQLite keeps content up to this size in the ``blobs`` table, larger content in files.
INLINE_LIMIT = 64 * 1024


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _put_blob(dialect: str) -> ClauseElement:
    values = {
        c.name: bindparam(c.name, type_=c.type) for c in blobs.c
    }  # sha256, content, size, created_at
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # PostgreSQL only

        return pg_insert(blobs).values(values).on_conflict_do_nothing(index_elements=["sha256"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(blobs).values(values).on_conflict_do_nothing(index_elements=["sha256"])


_PUT_BLOB = PerDialect(_put_blob)
_GET_BLOB = Prepared(select(blobs.c.content).where(blobs.c.sha256 == bindparam("sha")))


class BlobStore:
    """Content storage: the ``blobs`` table, and for large content on SQLite, files."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory  # None: every content in the table (PostgreSQL)
        self._folders: set[Path] = set()  # made already: no mkdir/stat per write

    def path_for(self, sha: str) -> Path:
        assert self.directory is not None
        return self.directory / sha[:2] / sha

    def put(self, conn: Connection, content: bytes) -> str:
        """Store ``content`` (once per sha256) in ``conn``'s transaction; its sha256."""
        sha = sha256_of(content)
        if self.directory is None or len(content) <= INLINE_LIMIT:
            row = {"sha256": sha, "content": content, "size": len(content), "created_at": utcnow()}
            _PUT_BLOB.execute(conn, row)
            return sha
        target = self.path_for(sha)
        if target.exists():
            return sha
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except FileNotFoundError:  # the folder was removed meanwhile
            self._folders.discard(target.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            # Atomic (write + rename): never half-visible. No fsync: durability
            # matches the database's (WAL, synchronous=NORMAL) — a killed process
            # loses nothing; a power cut may lose the newest writes of both.
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            Path(tmp).replace(target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"could not write artifact {sha}: {exc}") from exc
        return sha

    def get(self, conn: Connection, sha: str) -> bytes:
        found = _GET_BLOB.one(conn, {"sha": sha})
        if found is not None:
            return bytes(found["content"])
        return self.read_file(sha)

    def read_file(self, sha: str) -> bytes:
        """Content kept as a file (large, or stored before content went into the table)."""
        if self.directory is not None:
            try:
                return self.path_for(sha).read_bytes()
            except FileNotFoundError:
                pass
        raise NotFound(f"no artifact content with sha256 {sha}")

    def exists(self, conn: Connection, sha: str) -> bool:
        if _GET_BLOB.one(conn, {"sha": sha}) is not None:
            return True
        return self.directory is not None and self.path_for(sha).is_file()

    def unreferenced(self, conn: Connection) -> list[str]:
        """Stored contents no artifact row points to."""
        used = {r[0] for r in conn.execute(select(artifacts.c.sha256).distinct())}
        stored = {r[0] for r in conn.execute(select(blobs.c.sha256))}
        if self.directory is not None and self.directory.is_dir():
            stored |= {p.name for p in self.directory.glob("??/*") if not p.name.startswith(".")}
        return sorted(stored - used)

    def remove(self, conn: Connection, shas: Sequence[str]) -> None:
        if not shas:
            return
        conn.execute(delete(blobs).where(blobs.c.sha256.in_(list(shas))))
        if self.directory is None:
            return
        for sha in shas:
            self.path_for(sha).unlink(missing_ok=True)


_INSERT = Prepared(
    insert(artifacts).values(
        {c.name: bindparam(c.name, type_=c.type) for c in artifacts.c if c.name != "id"}
    )
)


def insert_artifacts(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert artifact rows (every column but ``id``) in one driver call."""
    _INSERT.executemany(conn, rows)


_FOR_TASKS = PerDialect(
    lambda dialect: (
        select(artifacts)
        .where(in_list(artifacts.c.task_id, "ids", dialect))
        .order_by(artifacts.c.id)
    ),
    lists=["ids"],
)


_FOR_TASK = (
    select(artifacts).where(artifacts.c.task_id == bindparam("task_id")).order_by(artifacts.c.id)
)


_P_FOR_TASK = Prepared(_FOR_TASK)


def for_task(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    return _P_FOR_TASK.all(conn, {"task_id": task_id})


def for_tasks(conn: Connection, task_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The artifacts of these tasks, oldest first (one query, however many tasks)."""
    wanted = list(task_ids)
    if not wanted:
        return []
    return _FOR_TASKS.all(conn, {"ids": wanted})


def recent(
    conn: Connection, *, session_id: str, task_id: str | None, limit: int
) -> list[RowMapping]:
    stmt = select(artifacts).where(artifacts.c.session_id == session_id)
    if task_id is not None:
        stmt = stmt.where(artifacts.c.task_id == task_id)
    return list(conn.execute(stmt.order_by(artifacts.c.id.desc()).limit(limit)).mappings())


_BY_SHA = Prepared(
    select(artifacts)
    .where(artifacts.c.sha256 == bindparam("sha"), artifacts.c.session_id == bindparam("sid"))
    .order_by(artifacts.c.id.desc())
    .limit(1)
)
_CONTENT = Prepared(
    select(artifacts.c.id, blobs.c.content)
    .select_from(artifacts.outerjoin(blobs, blobs.c.sha256 == artifacts.c.sha256))
    .where(artifacts.c.sha256 == bindparam("sha"), artifacts.c.session_id == bindparam("sid"))
    .limit(1)
)


def by_sha(conn: Connection, sha: str, *, session_id: str) -> dict[str, Any] | None:
    """The newest artifact row of ``session_id`` with content ``sha``, or None (indexed)."""
    return _BY_SHA.one(conn, {"sha": sha, "sid": session_id})


def content_of(conn: Connection, sha: str, *, session_id: str) -> tuple[bool, bytes | None]:
    """(is ``sha`` an artifact of the session, its content if the table holds it): one query."""
    found = _CONTENT.one(conn, {"sha": sha, "sid": session_id})
    if found is None:
        return False, None
    content = found["content"]
    return True, None if content is None else bytes(content)


def delete_for_tasks(conn: Connection, task_ids: Sequence[str]) -> int:
    if not task_ids:
        return 0
    result = conn.execute(delete(artifacts).where(artifacts.c.task_id.in_(list(task_ids))))
    return int(result.rowcount)
