"""The store ledger: intent before, result after, compare-and-set, one sender, events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from castoff.errors import ConflictError, UsageError
from castoff.orchestrator.service import Orchestrator
from castoff.release.announce.ledger import (
    FAILED,
    SENDING,
    SENT,
    UNKNOWN,
    Outcome,
    delivery_key,
    legacy_path,
    read_legacy,
)
from castoff.release.workflow.deliveries import (
    IMPORTED_EVENT,
    MARKED_SENT_EVENT,
    StoreLedger,
    record_key,
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def orch(db_url: str, workdir: Path) -> Iterator[Orchestrator]:
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as o:
        yield o


def test_intent_then_result_is_recorded(orch: Orchestrator, db_url: str, workdir: Path) -> None:
    """An intent is 'sending' with its key; the result replaces the status and keeps the key."""
    ledger = StoreLedger(orch, "v1.0.0")
    key = delivery_key("v1.0.0", "slack")
    assert ledger.record_intent("slack", key).status == SENDING
    done = ledger.record_result("slack", Outcome(SENT, remote_id="42", detail="delivered"))
    assert (done.status, done.key, done.remote_id) == (SENT, key, "42")
    with Orchestrator.open(workdir, database_url=db_url, actor="other") as again:
        assert StoreLedger(again, "v1.0.0").get("slack") == done


def test_record_is_per_tag(orch: Orchestrator) -> None:
    """Each release tag has its own record, slashes and all."""
    StoreLedger(orch, "pkg/v1").record_intent("email", "k" * 64)
    record = orch.get_record(record_key("pkg/v1"))
    assert record is not None
    assert record.data["tag"] == "pkg/v1"
    assert record.data["channels"]["email"]["status"] == SENDING
    assert StoreLedger(orch, "pkg/v2").get("email") is None


def test_keys_differ_per_channel_and_tag() -> None:
    """Each channel of each release has its own idempotency key."""
    keys = {delivery_key(t, c) for t in ("v1", "v2") for c in ("slack", "email")}
    assert len(keys) == 4


def test_attempts_count_intents(orch: Orchestrator) -> None:
    """A second intent for the same channel counts a second attempt."""
    ledger = StoreLedger(orch, "v1")
    ledger.record_intent("webhook", "k")
    assert ledger.record_intent("webhook", "k").attempts == 2


def test_intent_and_result_are_events(orch: Orchestrator) -> None:
    """announce.sending then announce.sent, with channel, attempt, remote id and URL."""
    task = orch.plan_task("Deliver the announcements")
    ledger = StoreLedger(orch, "v1", task_id=task.id)
    ledger.record_intent("github", delivery_key("v1", "github"))
    ledger.record_result("github", Outcome(SENT, "7", "https://gh.test/r/v1", "created"))
    sending, sent = reversed([e for e in orch.events() if e.kind.startswith("announce.")])
    assert sending.kind == "announce.sending"
    assert sending.data == {
        "record": "announce/v1",
        "version": 1,
        "tag": "v1",
        "channel": "github",
        "key": delivery_key("v1", "github"),
        "attempt": 1,
    }
    assert sent.kind == "announce.sent"
    assert sent.task_id == task.id
    assert {k: sent.data[k] for k in ("channel", "status", "remote_id", "url", "version")} == {
        "channel": "github",
        "status": "sent",
        "remote_id": "7",
        "url": "https://gh.test/r/v1",
        "version": 2,
    }


@pytest.mark.parametrize("status", [UNKNOWN, SENDING])
def test_an_uncertain_delivery_is_marked_sent_in_someones_name(
    orch: Orchestrator, status: str
) -> None:
    """unknown or sending -> sent, marked_by, the key and attempts kept; an
    announce.marked_sent event names who, when, and what the record said before."""
    ledger = StoreLedger(orch, "v1")
    key = delivery_key("v1", "slack")
    ledger.record_intent("slack", key)
    if status == UNKNOWN:
        ledger.record_result("slack", Outcome(UNKNOWN, detail="read timeout"))
    marked = ledger.record_marked_sent("slack", "alice@box (cli)")
    assert (marked.status, marked.key, marked.attempts) == (SENT, key, 1)
    assert marked.marked_by == "alice@box (cli)"
    assert "marked sent by alice@box (cli)" in marked.detail
    assert ledger.get("slack") == marked
    event = orch.events(limit=1)[0]
    assert event.kind == MARKED_SENT_EVENT
    shown = ("tag", "channel", "status", "by", "marked_at", "was")
    assert {k: event.data[k] for k in shown} == {
        "tag": "v1",
        "channel": "slack",
        "status": SENT,
        "by": "alice@box (cli)",
        "marked_at": marked.finished_at,
        "was": status,
    }


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        ("absent", UsageError, "no delivery of slack is recorded for v1"),
        (SENT, ConflictError, "already recorded as sent"),
        (FAILED, ConflictError, "recorded as failed"),
    ],
)
def test_only_an_uncertain_delivery_can_be_marked_sent(
    orch: Orchestrator, setup: str, error: type[Exception], message: str
) -> None:
    """Nothing recorded (exit 2), sent or failed (exit 3): refused, the record unchanged."""
    ledger = StoreLedger(orch, "v1")
    if setup != "absent":
        ledger.record_intent("slack", delivery_key("v1", "slack"))
        ledger.record_result("slack", Outcome(setup, detail="HTTP 500"))
    before = orch.get_record(record_key("v1"))
    with pytest.raises(error, match=message):
        ledger.record_marked_sent("slack", "alice@box (cli)")
    assert orch.get_record(record_key("v1")) == before
    assert not [e for e in orch.events() if e.kind == MARKED_SENT_EVENT]


def test_urls_lose_credentials_and_queries(orch: Orchestrator) -> None:
    """A URL handed back with userinfo or a query is stored without them."""
    ledger = StoreLedger(orch, "v1")
    ledger.record_intent("webhook", "k")
    ledger.record_result(
        "webhook",
        Outcome(SENT, url="https://bot:hunter22@hooks.test/x?token=abcdef", detail="ok"),
    )
    stored = json.dumps([orch.get_record("announce/v1").data, [e.data for e in orch.events()]])  # type: ignore[union-attr]
    assert "hunter22" not in stored
    assert "abcdef" not in stored
    assert "hooks.test/x" in stored


def test_second_sender_is_refused_while_one_holds_the_release(
    orch: Orchestrator, db_url: str, workdir: Path
) -> None:
    """Two senders of one release (two processes' worth of store connections) conflict."""
    with Orchestrator.open(workdir, database_url=db_url, actor="other") as other:
        with StoreLedger(orch, "v1").exclusive():
            refused = pytest.raises(ConflictError, match="delivering the announcements of v1")
            with refused as exc, StoreLedger(other, "v1").exclusive():
                pass  # pragma: no cover - refused
            assert exc.value.exit_code == 3
            with StoreLedger(other, "v2").exclusive():  # another release is free
                pass
        with StoreLedger(other, "v1").exclusive():  # released with the block
            pass


def test_concurrent_intents_never_lose_an_update(db_url: str, workdir: Path) -> None:
    """Writers racing without the lock: each write is applied or refused, never lost."""
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        StoreLedger(orch, "v1").record_intent("slack", "k")
    wins: list[int] = []
    refused: list[ConflictError] = []
    start = threading.Barrier(4)

    def writer() -> None:
        with Orchestrator.open(workdir, database_url=db_url, actor="test") as mine:
            start.wait()
            try:
                wins.append(StoreLedger(mine, "v1").record_intent("slack", "k").attempts)
            except ConflictError as exc:
                refused.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) + len(refused) == 4
    assert wins
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        final = StoreLedger(orch, "v1").get("slack")
        record = orch.get_record("announce/v1")
    assert final is not None
    assert final.attempts == 1 + len(wins)  # every applied intent counted once
    assert record is not None
    assert record.version == 1 + len(wins)


def _write_legacy(root: Path, tag: str, channels: dict[str, dict[str, object]]) -> Path:
    """A ledger file as castoffs before the store ledger wrote it."""
    path = legacy_path(root, tag)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"tag": tag, "channels": channels}, indent=2, sort_keys=True))
    return path


LEGACY_SLACK = {
    "attempts": 1,
    "channel": "slack",
    "detail": "delivered",
    "finished_at": "2026-01-01T00:00:01+00:00",
    "key": "k" * 64,
    "remote_id": None,
    "started_at": "2026-01-01T00:00:00+00:00",
    "status": "sent",
    "url": None,
}


def test_an_older_castoffs_file_is_read_then_imported_once(
    orch: Orchestrator, workdir: Path
) -> None:
    """The file's deliveries count before any write; the first write imports them."""
    path = _write_legacy(workdir, "v1", {"slack": LEGACY_SLACK})
    ledger = StoreLedger(orch, "v1")
    assert ledger.get("slack") == read_legacy(workdir, "v1")["slack"]
    assert orch.get_record("announce/v1") is None  # reading writes nothing
    ledger.record_intent("email", "e" * 64)
    imported = [e for e in orch.events() if e.kind == IMPORTED_EVENT]
    assert [e.data["channels"] for e in imported] == [{"slack": "sent"}]
    assert imported[0].data["source"] == str(path)
    path.unlink()  # from now on the store alone says
    assert ledger.get("slack") is not None
    assert ledger.get("slack").status == SENT  # type: ignore[union-attr]
    assert ledger.get("email").status == SENDING  # type: ignore[union-attr]
    ledger.record_result("email", Outcome(SENT))
    assert len([e for e in orch.events() if e.kind == IMPORTED_EVENT]) == 1


def test_sessions_keep_their_own_ledgers(orch: Orchestrator, db_url: str, tmp_path: Path) -> None:
    """The record belongs to the working directory's session (as a release does)."""
    StoreLedger(orch, "v1").record_intent("slack", "k")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with Orchestrator.open(elsewhere, database_url=db_url, actor="test") as other:
        assert StoreLedger(other, "v1").get("slack") is None
