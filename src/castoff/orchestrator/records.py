"""Keyed records and named exclusive locks: shared state for work beyond tasks.

A caller that must remember something across processes and machines — and
make sure two of them never act on it at once — keeps it here rather than in a
file of one checkout:

- :meth:`get_record` / :meth:`put_record`: a small JSON document per key in the
  current session, written by compare-and-set (``expect`` = the version read,
  None for "not there yet"; anything else is a ConflictError, exit 3), each
  write appending an event of the caller's kind in the same transaction;
- :meth:`exclusive`: a named lock of the session held while a block runs, seen by
  every process (SQLite) or every machine (PostgreSQL) using the store; held
  elsewhere, it is a ConflictError at once, never a wait.

The orchestrator gives these no meaning; the release workflow keeps the
announcement ledger in them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from castoff.errors import ConflictError, UsageError
from castoff.orchestrator import values
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import Record
from castoff.store import locks as lock_store
from castoff.store import records as record_store

KEY_MAX = 255
#: Event data keys the orchestrator fills in for a record's event.
RECORD_EVENT_KEYS = frozenset({"record", "version"})
_RESERVED = RECORD_EVENT_KEYS | {"kind", "task_id", "session_id", "at"}


def _key(key: Any) -> str:
    text = values.text(key, "key", required=True)
    if len(text) > KEY_MAX:
        raise UsageError(f"a record key has at most {KEY_MAX} characters (got {len(text)})")
    return text


class RecordOperations(OrchestratorCore):
    """get_record / put_record (compare-and-set) and exclusive (a named lock)."""

    def get_record(self, key: str) -> Record | None:
        """The record ``key`` of the current session (None: never written, or no session)."""
        key = _key(key)
        sid = self.find_session_id()
        if sid is None:
            return None
        row = self.db.read(lambda conn: record_store.get(conn, sid, key))
        if row is None:
            return None
        return Record(
            key=row["key"],
            version=row["version"],
            data=row["data"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def put_record(
        self,
        key: str,
        data: Mapping[str, Any],
        *,
        expect: int | None,
        event: str,
        event_data: Mapping[str, Any] | None = None,
        task_id: str | None = None,
    ) -> int:
        """Write ``data`` under ``key`` if its version is still ``expect``; the new version.

        ``expect``: the version the caller read (None: the record must not exist
        yet). Otherwise nothing is written and ConflictError says who won.
        In the same transaction an event of kind ``event`` is appended, with
        ``event_data`` (what the log should show — never secrets) plus
        ``record`` (the key) and ``version``, attached to ``task_id`` if given.
        """
        key = _key(key)
        event = values.text(event, "event", required=True)
        if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int)):
            raise UsageError(f"expect must be a version number or None (got {expect!r})")
        shown = dict(event_data or {})
        clash = sorted(set(shown) & _RESERVED)
        if clash:
            raise UsageError(f"event data may not use the reserved key(s) {', '.join(clash)}")
        sid = self.session_id

        def work(conn: Connection) -> int:
            if task_id is not None:
                self.task_row(conn, task_id)
            now = self.now()
            version = record_store.put(conn, sid, key, data, expect=expect, at=now)
            if version is None:
                current = record_store.get(conn, sid, key)
                found = "absent" if current is None else f"at version {current['version']}"
                raise ConflictError(
                    f"record {key!r} changed since it was read: expected "
                    f"{'absent' if expect is None else f'at version {expect}'}, found {found}",
                    key=key,
                    expected=expect,
                    found=None if current is None else current["version"],
                )
            self.event(conn, event, task_id=task_id, at=now, record=key, version=version, **shown)
            return version

        return self.db.write(work)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the session's lock ``name`` while the block runs.

        Held by anyone else — another process, on PostgreSQL another machine —
        it is a ConflictError (exit 3) at once. The lock ends with the block, or
        with the process (and, on PostgreSQL, with its connection to the store).
        """
        name = _key(name)
        held = lock_store.acquire(self.db, f"{self.session_id}/{name}")
        if held is None:
            raise ConflictError(f"the lock {name!r} is held elsewhere right now", lock=name)
        try:
            yield
        finally:
            held.release()
