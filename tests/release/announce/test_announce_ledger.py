"""The file ledger: intent before, result after, atomic file, one sender at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from castoff.errors import ConflictError
from castoff.release.announce.ledger import SENDING, SENT, FileLedger, Outcome, delivery_key


def test_intent_then_result_is_recorded(tmp_path: Path) -> None:
    """An intent is 'sending' with its key; the result replaces the status and keeps the key."""
    ledger = FileLedger(tmp_path, "v1.0.0")
    key = delivery_key("v1.0.0", "slack")
    assert ledger.record_intent("slack", key).status == SENDING
    done = ledger.record_result("slack", Outcome(SENT, remote_id="42", detail="delivered"))
    assert (done.status, done.key, done.remote_id) == (SENT, key, "42")
    assert FileLedger(tmp_path, "v1.0.0").get("slack") == done


def test_ledger_file_is_per_tag_json(tmp_path: Path) -> None:
    """The record lives in .castoff/announce/<tag>.json, slashes in the tag encoded."""
    FileLedger(tmp_path, "pkg/v1").record_intent("email", "k" * 64)
    data = json.loads((tmp_path / ".castoff" / "announce" / "pkg%2Fv1.json").read_text())
    assert data["tag"] == "pkg/v1"
    assert data["channels"]["email"]["status"] == SENDING


def test_keys_differ_per_channel_and_tag() -> None:
    """Each channel of each release has its own idempotency key."""
    keys = {delivery_key(t, c) for t in ("v1", "v2") for c in ("slack", "email")}
    assert len(keys) == 4


def test_attempts_count_intents(tmp_path: Path) -> None:
    """A second intent for the same channel counts a second attempt."""
    ledger = FileLedger(tmp_path, "v1")
    ledger.record_intent("webhook", "k")
    assert ledger.record_intent("webhook", "k").attempts == 2


def test_second_sender_is_refused_while_locked(tmp_path: Path) -> None:
    """Two concurrent sends of one release conflict instead of both sending."""
    first = FileLedger(tmp_path, "v1")
    with first.lock(), pytest.raises(ConflictError), FileLedger(tmp_path, "v1").lock():
        pass
