"""The announcement ledger in the orchestrator store, and ``announce send`` wired to it.

Every delivery — the release's *Deliver the announcements* step,
``castoff announce send`` and the MCP tool ``announce_send`` — records its
intent and result in one place: the record ``announce/<tag>`` of the session
in the orchestrator store (``.castoff/castoff.db``, or the PostgreSQL database
of ``CASTOFF_DATABASE_URL``). Every process and every machine using that store
and session sees it, so a delivery interrupted on one machine and resumed on
another is never sent twice: the second finds the first's ``sending`` intent.

- Writes are compare-and-set on the record (two writers can never both
  record an intent for a channel), each appending an ``announce.*`` event:
  ``announce.sending`` (the intent), ``announce.sent`` / ``announce.failed`` /
  ``announce.unknown`` (the result: channel, status, remote id and URL, detail —
  all redacted by the delivery engine, and URLs stripped of credentials and
  queries here again), ``announce.marked_sent`` (an uncertain delivery someone
  checked and recorded as sent: who, when, and what the record said before),
  ``announce.imported`` (an older castoff's file carried over).
- :meth:`StoreLedger.exclusive` holds the session's lock ``announce/<tag>``
  (an advisory lock on PostgreSQL, across machines; a ``flock`` on SQLite) for
  the whole send: a second sender of the same release exits 3.
- A release whose deliveries an older castoff recorded in
  ``.castoff/announce/<tag>.json`` keeps them: the file is read while the store
  has no record for the tag, and imported into it (once) as soon as a send
  takes the release's lock — from then on every checkout sees that history.

The orchestrator knows nothing of announcements and the announce engine
nothing of the orchestrator; this module is where the two meet.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.errors import ConflictError, NotFound, StoreError
from castoff.release.announce.ledger import (
    Delivery,
    Ledger,
    Outcome,
    entry_data,
    entry_from,
    intent,
    legacy_path,
    marked_sent,
    read_legacy,
    result,
)
from castoff.release.announce.redact import Redactor

if TYPE_CHECKING:
    from castoff.orchestrator.service import Orchestrator
    from castoff.release.announce.delivery import SendReport

RECORD_PREFIX = "announce/"
EVENT_PREFIX = "announce."
IMPORTED_EVENT = EVENT_PREFIX + "imported"
MARKED_SENT_EVENT = EVENT_PREFIX + "marked_sent"


def record_key(tag: str) -> str:
    """The store record holding the deliveries of release ``tag``."""
    return RECORD_PREFIX + tag


class StoreLedger:
    """The deliveries of release ``tag``, kept in the orchestrator store (see the module)."""

    def __init__(self, orch: Orchestrator, tag: str, *, task_id: str | None = None) -> None:
        self.orch = orch
        self.tag = tag
        self.key = record_key(tag)
        self.task_id = task_id  # the release step delivering, if any: its events name it
        self._clean = Redactor()  # no secrets of its own: strips URL credentials and queries

    def entries(self) -> dict[str, Delivery]:
        """Every recorded channel of this release."""
        return self._read()[0]

    def get(self, channel: str) -> Delivery | None:
        return self.entries().get(channel)

    def record_intent(self, channel: str, key: str) -> Delivery:
        entries, version = self._current()
        entry = intent(entries.get(channel), channel, key)
        self._put(
            entries,
            entry,
            version,
            {"tag": self.tag, "channel": channel, "key": key, "attempt": entry.attempts},
        )
        return entry

    def record_result(self, channel: str, outcome: Outcome) -> Delivery:
        entries, version = self._current()
        entry = result(entries.get(channel), outcome)
        entry = replace(
            entry, url=self._clean(entry.url) if entry.url else entry.url,
            detail=self._clean(entry.detail),
        )  # fmt: skip
        self._put(
            entries,
            entry,
            version,
            {
                "tag": self.tag,
                "channel": channel,
                "status": entry.status,
                "attempt": entry.attempts,
                "remote_id": entry.remote_id,
                "url": entry.url,
                "detail": entry.detail,
            },
        )
        return entry

    def record_marked_sent(self, channel: str, by: str) -> Delivery:
        entries, version = self._current()
        previous = entries.get(channel)
        entry = marked_sent(previous, channel, self.tag, by)
        assert previous is not None  # marked_sent refuses a channel with no entry
        self._put(
            entries,
            entry,
            version,
            {
                "tag": self.tag,
                "channel": channel,
                "status": entry.status,
                "attempt": entry.attempts,
                "by": by,
                "marked_at": entry.finished_at,
                "was": previous.status,
                "was_detail": self._clean(previous.detail),
            },
            event=MARKED_SENT_EVENT,
        )
        return entry

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Be the only sender of this release (every process and machine on this store);
        an older castoff's file for the tag is imported into the store first."""
        with ExitStack() as stack:
            try:
                stack.enter_context(self.orch.exclusive(self.key))
            except ConflictError as exc:
                raise ConflictError(
                    f"another castoff is delivering the announcements of {self.tag} right now "
                    "(`castoff announce send`, or a release's delivery step, here or on another "
                    "machine using the same store)",
                    tag=self.tag,
                ) from exc
            self._current()
            yield

    # -- the record -------------------------------------------------------------
    def _read(self) -> tuple[dict[str, Delivery], int | None]:
        """The entries and the record's version (None: no record; then the legacy file's)."""
        record = self.orch.get_record(self.key)
        if record is None:
            return read_legacy(self.orch.working_directory, self.tag), None
        channels = record.data.get("channels", {})
        return {name: entry_from(data) for name, data in channels.items()}, record.version

    def _current(self) -> tuple[dict[str, Delivery], int | None]:
        """Like :meth:`_read`, with an older castoff's file imported into the store first."""
        entries, version = self._read()
        if version is not None or not entries:
            return entries, version
        path = legacy_path(self.orch.working_directory, self.tag)
        try:
            version = self.orch.put_record(
                self.key,
                self._data(entries),
                expect=None,
                event=IMPORTED_EVENT,
                event_data={
                    "tag": self.tag,
                    "source": str(path),
                    "channels": {name: d.status for name, d in entries.items()},
                },
                task_id=self.task_id,
            )
        except ConflictError:  # imported by another process meanwhile: use the store's
            return self._read()
        return entries, version

    def _put(
        self,
        entries: dict[str, Delivery],
        entry: Delivery,
        version: int | None,
        shown: dict[str, Any],
        *,
        event: str | None = None,
    ) -> None:
        try:
            self.orch.put_record(
                self.key,
                self._data({**entries, entry.channel: entry}),
                expect=version,
                event=event or EVENT_PREFIX + entry.status,
                event_data=shown,
                task_id=self.task_id,
            )
        except ConflictError as exc:
            raise ConflictError(
                f"the delivery record of {self.tag} changed while {entry.channel} was being "
                "recorded: another sender is at work; rerun to see where it stands",
                tag=self.tag,
                channel=entry.channel,
            ) from exc

    def _data(self, entries: dict[str, Delivery]) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "channels": {name: entry_data(d) for name, d in sorted(entries.items())},
        }


class _NoStoreYet:
    """A dry run where no store exists yet: nothing recorded, but an older castoff's file."""

    def __init__(self, root: Path, tag: str) -> None:
        self._entries = read_legacy(root, tag)

    def get(self, channel: str) -> Delivery | None:
        return self._entries.get(channel)

    def record_intent(self, channel: str, key: str) -> Delivery:  # noqa: ARG002 - the protocol's
        raise StoreError(f"{channel}: a dry run records nothing")

    def record_result(self, channel: str, outcome: Outcome) -> Delivery:  # noqa: ARG002
        raise StoreError(f"{channel}: a dry run records nothing")

    def record_marked_sent(self, channel: str, by: str) -> Delivery:  # noqa: ARG002
        raise StoreError(f"{channel}: a dry run records nothing")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        raise StoreError("a dry run sends nothing")
        yield  # pragma: no cover - a generator, for contextmanager


def announce_send(
    root: Path,
    *,
    channels: Sequence[str] | None = None,
    confirm: bool = False,
    force: Collection[str] = (),
    tag: str | None = None,
    package: str | None = None,
    mark_sent: Sequence[str] = (),
    actor: str = "cli",
    database_url: str | None = None,
) -> SendReport:
    """``castoff announce send`` / MCP ``announce_send``: the announce service, with the
    ledger of ``root``'s session in the store (a dry run creates no store or session).

    ``mark_sent`` channels are recorded as sent in the name of this process's user,
    host and ``actor`` (:func:`marked_by`); nothing is sent.
    """
    from castoff.orchestrator.service import Orchestrator
    from castoff.release.announce import service

    with ExitStack() as stack:

        def ledger(release_tag: str) -> Ledger:
            try:
                orch = Orchestrator.open(
                    root, database_url=database_url, actor=actor, create=confirm
                )
            except NotFound:  # a dry run, and no store here yet
                return _NoStoreYet(root, release_tag)
            stack.enter_context(orch)
            return StoreLedger(orch, release_tag)

        return service.announce_send(
            root,
            channels=channels,
            confirm=confirm,
            force=force,
            tag=tag,
            package=package,
            ledger=ledger,
            mark_sent=mark_sent,
            by=marked_by(actor) if mark_sent else "",
        )


def marked_by(actor: str) -> str:
    """Who records a delivery as sent by hand: ``<user>@<host> (<actor>)``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} ({actor})"
