"""Artifact rows and their content, addressed by sha256.

Content lives once per sha256: as files under ``<state dir>/artifacts/<sha[:2]>/<sha>``
for SQLite (written atomically: temp file then ``os.replace``), or in the
``blobs`` table for PostgreSQL, so every worker sees it. :class:`BlobStore`
hides which.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select

from castoff.errors import NotFound, StoreError
from castoff.store.prepared import PerDialect, Prepared, in_list
from castoff.store.schema import artifacts, blobs, utcnow


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class BlobStore:
    """Content storage: files beside the SQLite database, or the ``blobs`` table."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def path_for(self, sha: str) -> Path:
        assert self.directory is not None
        return self.directory / sha[:2] / sha

    def put(self, conn: Connection, content: bytes) -> str:
        """Store ``content`` (once per sha256); return its sha256."""
        sha = sha256_of(content)
        if self.directory is None:
            from sqlalchemy.dialects.postgresql import insert as pg_insert  # PostgreSQL only

            stmt = pg_insert(blobs).values(
                sha256=sha, content=content, size=len(content), created_at=utcnow()
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["sha256"]))
            return sha
        target = self.path_for(sha)
        if target.exists():
            return sha
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
        if self.directory is None:
            content = conn.execute(
                select(blobs.c.content).where(blobs.c.sha256 == sha)
            ).scalar_one_or_none()
            if content is None:
                raise NotFound(f"no artifact content with sha256 {sha}")
            return bytes(content)
        try:
            return self.path_for(sha).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no artifact content with sha256 {sha}") from exc

    def exists(self, conn: Connection, sha: str) -> bool:
        if self.directory is None:
            found = conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == sha)).first()
            return found is not None
        return self.path_for(sha).is_file()

    def unreferenced(self, conn: Connection) -> list[str]:
        """Stored contents no artifact row points to."""
        used = {r[0] for r in conn.execute(select(artifacts.c.sha256).distinct())}
        if self.directory is None:
            stored = {r[0] for r in conn.execute(select(blobs.c.sha256))}
        else:
            stored = (
                {p.name for p in self.directory.glob("??/*") if not p.name.startswith(".")}
                if self.directory.is_dir()
                else set()
            )
        return sorted(stored - used)

    def remove(self, conn: Connection, shas: Sequence[str]) -> None:
        if not shas:
            return
        if self.directory is None:
            conn.execute(delete(blobs).where(blobs.c.sha256.in_(list(shas))))
            return
        for sha in shas:
            self.path_for(sha).unlink(missing_ok=True)


def insert_artifacts(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(insert(artifacts), [dict(r) for r in rows])


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


def by_sha(conn: Connection, sha: str, *, session_id: str) -> RowMapping | None:
    """One artifact row of ``session_id`` with content ``sha``, or None."""
    stmt = select(artifacts).where(artifacts.c.sha256 == sha, artifacts.c.session_id == session_id)
    return conn.execute(stmt.limit(1)).mappings().first()


def delete_for_tasks(conn: Connection, task_ids: Sequence[str]) -> int:
    if not task_ids:
        return 0
    result = conn.execute(delete(artifacts).where(artifacts.c.task_id.in_(list(task_ids))))
    return int(result.rowcount)
