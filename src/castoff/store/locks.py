"""Named exclusive locks held for as long as a block of work runs, across processes.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) taken on a
  connection of its own, held (idle, outside any transaction) until released.
  Every machine sharing the database sees it. If the process dies or the
  connection is lost, the server ends the connection's session and the lock
  goes with it.
- SQLite: an exclusive ``flock`` on a file in ``<database>.locks/`` beside the
  database file: every process on the machine sees it, and the kernel drops it
  when the process dies.

Taking a lock never waits: :func:`acquire` returns None when someone else holds
it. Names are hashed to the lock key (32 bits on PostgreSQL, in a namespace of
their own): two names that collide make a false "held", never a lock granted twice.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from castoff.errors import StoreError
from castoff.store.database import Database, reason

#: Namespace of these locks (two-key advisory locks; the graph locks use 0x0CA5).
LOCK_NAMESPACE = 0x0CA6


class Held(Protocol):
    """A lock this process holds."""

    def release(self) -> None: ...


def acquire(db: Database, name: str) -> Held | None:
    """Take the lock ``name`` (None: another holder has it)."""
    path = db.sqlite_path
    if path is not None:
        return _FileLock.take(path.with_name(path.name + ".locks"), name)
    return _AdvisoryLock.take(db, name)


def _digest(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


class _FileLock:
    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    @classmethod
    def take(cls, folder: Path, name: str) -> _FileLock | None:
        try:
            folder.mkdir(exist_ok=True)
            handle = (folder / f"{_digest(name).hex()[:32]}.lock").open("a")
        except OSError as exc:
            raise StoreError(f"cannot create the lock file in {folder}: {exc.strerror}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        try:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        finally:
            self._handle.close()


class _AdvisoryLock:
    def __init__(self, conn: Connection, key: int) -> None:
        self._conn = conn
        self._key = key

    @classmethod
    def take(cls, db: Database, name: str) -> _AdvisoryLock | None:
        key = int.from_bytes(_digest(name)[:4], "big", signed=True)
        try:
            conn = db.engine.connect()
        except DBAPIError as exc:
            raise StoreError(
                f"cannot connect to the store at {db.safe_url}: {reason(exc)}"
            ) from exc
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:namespace, :key)"),
                {"namespace": LOCK_NAMESPACE, "key": key},
            ).scalar()
            conn.commit()  # the lock is the session's: hold it idle, not in a transaction
        except DBAPIError as exc:
            conn.invalidate()
            conn.close()
            raise StoreError(f"could not take the lock {name!r}: {reason(exc)}") from exc
        if not got:
            conn.close()
            return None
        return cls(conn, key)

    def release(self) -> None:
        conn = self._conn
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:namespace, :key)"),
                {"namespace": LOCK_NAMESPACE, "key": self._key},
            )
            conn.commit()
        except DBAPIError:
            conn.invalidate()  # a lost connection has already dropped the lock; never pool it
        finally:
            conn.close()
