"""The exactly-once record of announcement deliveries, one per release tag.

Before a channel is sent to, its intent is recorded (status ``sending``, with
the delivery's idempotency key); after, its result (``sent`` with the remote
id / URL, ``failed`` when the channel refused it, ``unknown`` when it may have
been delivered). A rerun skips ``sent`` channels and resolves ``sending`` /
``unknown`` ones safely (see ``delivery``).

:class:`Ledger` is the narrow seam — ``get``, ``record_intent``,
``record_result`` — so the record can later live in the orchestrator store;
:class:`FileLedger` keeps it in ``<root>/.castoff/announce/<tag>.json``, written
atomically (temp file, fsync, rename), with an exclusive lock per tag so two
runs never send at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from castoff.errors import ConflictError, StoreError
from castoff.workspace import ensure_state_dir, state_dir

SENDING, SENT, FAILED, UNKNOWN = "sending", "sent", "failed", "unknown"


def delivery_key(tag: str, channel: str) -> str:
    """The idempotency key of one channel's delivery of one release."""
    return hashlib.sha256(f"castoff:{tag}:{channel}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one send attempt achieved."""

    status: str  # sent | failed | unknown
    remote_id: str | None = None
    url: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The ledger entry of one channel."""

    channel: str
    key: str
    status: str
    attempts: int = 1
    started_at: str = ""
    finished_at: str | None = None
    remote_id: str | None = None
    url: str | None = None
    detail: str = ""


class Ledger(Protocol):
    """Where deliveries are recorded (file today; the orchestrator store later)."""

    def get(self, channel: str) -> Delivery | None: ...

    def record_intent(self, channel: str, key: str) -> Delivery: ...

    def record_result(self, channel: str, outcome: Outcome) -> Delivery: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FileLedger:
    """A JSON file per release tag under ``.castoff/announce/``."""

    def __init__(self, root: Path, tag: str) -> None:
        self.tag = tag
        self.path = state_dir(root) / "announce" / f"{quote(tag, safe='')}.json"

    def entries(self) -> dict[str, Delivery]:
        """Every recorded channel of this release."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the announce ledger {self.path}: {exc}") from exc
        return {name: Delivery(**entry) for name, entry in data.get("channels", {}).items()}

    def get(self, channel: str) -> Delivery | None:
        return self.entries().get(channel)

    def record_intent(self, channel: str, key: str) -> Delivery:
        previous = self.get(channel)
        entry = Delivery(
            channel=channel,
            key=key,
            status=SENDING,
            attempts=(previous.attempts + 1) if previous else 1,
            started_at=_now(),
        )
        self._write(channel, entry)
        return entry

    def record_result(self, channel: str, outcome: Outcome) -> Delivery:
        previous = self.get(channel)
        if previous is None:
            raise StoreError(f"{channel}: a result was recorded without an intent")
        entry = replace(
            previous,
            status=outcome.status,
            finished_at=_now(),
            remote_id=outcome.remote_id,
            url=outcome.url,
            detail=outcome.detail,
        )
        self._write(channel, entry)
        return entry

    def _write(self, channel: str, entry: Delivery) -> None:
        entries = {name: asdict(d) for name, d in self.entries().items()}
        entries[channel] = asdict(entry)
        data: dict[str, Any] = {"tag": self.tag, "channels": entries}
        ensure_state_dir(self.path.parent.parent)
        self.path.parent.mkdir(exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StoreError(
                f"cannot write the announce ledger {self.path}: {exc.strerror}"
            ) from exc

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this release's send lock; a concurrent holder is a ConflictError."""
        ensure_state_dir(self.path.parent.parent)
        self.path.parent.mkdir(exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise ConflictError(
                    f"another `castoff announce send` is delivering {self.tag} right now"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
