"""The exactly-once record of announcement deliveries, one per release tag.

Before a channel is sent to, its intent is recorded (status ``sending``, with
the delivery's idempotency key); after, its result (``sent`` with the remote
id / URL, ``failed`` when the channel refused it, ``unknown`` when it may have
been delivered). A rerun skips ``sent`` channels and resolves ``sending`` /
``unknown`` ones safely (see ``delivery``). Someone who checked that such a
delivery did arrive records it as ``sent`` (``announce send --mark-sent``),
which names them (``marked_by``); nothing is sent.

:class:`Ledger` is the narrow seam — ``get``, ``record_intent``,
``record_result``, ``record_marked_sent``, and ``exclusive`` (no other sender
of this release while held) — so the engine never knows where the record
lives. castoff keeps it in the orchestrator store, shared by every checkout
and worker using that store (``castoff.release.workflow.deliveries.StoreLedger``).
:func:`intent`, :func:`result` and :func:`marked_sent` compute an entry's next
state for any ledger.

Castoffs before the store ledger kept a JSON file per tag,
``<root>/.castoff/announce/<tag>.json``; :func:`read_legacy` reads one so its
history is carried over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from castoff.errors import ConflictError, StoreError, UsageError
from castoff.workspace import state_dir

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
    marked_by: str | None = None  # who recorded it sent by hand (--mark-sent), if anyone


_FIELDS = frozenset(Delivery.__dataclass_fields__)


class Ledger(Protocol):
    """Where the deliveries of one release are recorded."""

    def get(self, channel: str) -> Delivery | None: ...

    def record_intent(self, channel: str, key: str) -> Delivery: ...

    def record_result(self, channel: str, outcome: Outcome) -> Delivery: ...

    def record_marked_sent(self, channel: str, by: str) -> Delivery:
        """Record ``channel`` as sent on ``by``'s word (:func:`marked_sent` says when)."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Be the only sender of this release while held; ConflictError (exit 3) if another is."""
        ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def intent(previous: Delivery | None, channel: str, key: str) -> Delivery:
    """The entry of a channel about to be sent (one more attempt than ``previous``)."""
    return Delivery(
        channel=channel,
        key=key,
        status=SENDING,
        attempts=(previous.attempts + 1) if previous else 1,
        started_at=_now(),
    )


def result(previous: Delivery | None, outcome: Outcome) -> Delivery:
    """The entry once ``outcome`` is known; an intent must have been recorded first."""
    if previous is None:
        raise StoreError("a delivery result was recorded without an intent")
    return replace(
        previous,
        status=outcome.status,
        finished_at=_now(),
        remote_id=outcome.remote_id,
        url=outcome.url,
        detail=outcome.detail,
    )


def marked_sent(previous: Delivery | None, channel: str, tag: str, by: str) -> Delivery:
    """The entry of a channel someone checked was delivered, recorded as sent by ``by``.

    Only an uncertain delivery can be marked: ``unknown`` (the answer was lost)
    or ``sending`` (the sender died before recording the answer). Nothing
    recorded is UsageError (exit 2: there is nothing to confirm); ``sent`` and
    ``failed`` are ConflictError (exit 3: the record already knows).
    """
    if previous is None:
        raise UsageError(
            f"--mark-sent {channel}: no delivery of {channel} is recorded for {tag}, so there "
            f"is nothing to confirm; send it with `castoff announce send --tag {tag} "
            f"--channel {channel} --yes`",
            tag=tag,
            channel=channel,
        )
    if previous.status == SENT:
        how = f"marked sent by {previous.marked_by}" if previous.marked_by else "sent"
        raise ConflictError(
            f"--mark-sent {channel}: {channel} of {tag} is already recorded as {how} "
            f"({previous.finished_at or previous.started_at}); nothing to change",
            tag=tag,
            channel=channel,
        )
    if previous.status == FAILED:
        raise ConflictError(
            f"--mark-sent {channel}: {channel} of {tag} is recorded as failed ({previous.detail}"
            f"), so it was surely not delivered; send it again with `castoff announce send "
            f"--tag {tag} --channel {channel} --yes` (a release's `castoff release resume "
            "--yes` does)",
            tag=tag,
            channel=channel,
        )
    was = f"was {previous.status}" + (f": {previous.detail}" if previous.detail else "")
    return replace(
        previous,
        status=SENT,
        finished_at=_now(),
        remote_id=None,
        url=None,
        detail=f"marked sent by {by}: checked by hand, nothing was sent ({was})",
        marked_by=by,
    )


def entry_data(entry: Delivery) -> dict[str, Any]:
    """``entry`` as JSON-ready data."""
    return asdict(entry)


def entry_from(data: Mapping[str, Any]) -> Delivery:
    """A :class:`Delivery` from its data (unknown keys ignored)."""
    return Delivery(**{k: v for k, v in data.items() if k in _FIELDS})


def legacy_path(root: Path, tag: str) -> Path:
    """Where castoffs before the store ledger recorded the deliveries of ``tag``."""
    return state_dir(root) / "announce" / f"{quote(tag, safe='')}.json"


def read_legacy(root: Path, tag: str) -> dict[str, Delivery]:
    """The deliveries of ``tag`` an older castoff recorded in ``root`` (none: empty)."""
    path = legacy_path(root, tag)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: entry_from(entry) for name, entry in data.get("channels", {}).items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise StoreError(f"cannot read the announce ledger {path}: {exc}") from exc
