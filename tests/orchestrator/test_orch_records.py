"""Keyed records (compare-and-set, one event per write) and named exclusive locks."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from castoff.errors import ConflictError, UsageError
from castoff.orchestrator.service import Orchestrator


def test_put_then_get_counts_versions(orch: Orchestrator) -> None:
    """The first write is version 1, each later one the next; get returns the latest."""
    assert orch.get_record("ledger/v1") is None
    assert orch.put_record("ledger/v1", {"a": 1}, expect=None, event="test.put") == 1
    assert orch.put_record("ledger/v1", {"a": 2}, expect=1, event="test.put") == 2
    record = orch.get_record("ledger/v1")
    assert record is not None
    assert (record.key, record.version, record.data) == ("ledger/v1", 2, {"a": 2})
    assert record.updated_at >= record.created_at


def test_each_put_appends_the_callers_event(orch: Orchestrator) -> None:
    """The event has the caller's kind and data, the key and version, and the task if given."""
    task = orch.plan_task("Deliver")
    orch.put_record(
        "r", {"secret": "kept out"}, expect=None, event="thing.done", event_data={"n": 1},
        task_id=task.id,
    )  # fmt: skip
    (event,) = orch.events(kind="thing.done")
    assert event.data == {"record": "r", "version": 1, "n": 1}
    assert event.task_id == task.id
    assert event.actor == "test"


def test_stale_or_duplicate_writes_are_conflicts(orch: Orchestrator) -> None:
    """expect=None on an existing record, or an old version: ConflictError, nothing written."""
    orch.put_record("r", {"a": 1}, expect=None, event="test.put")
    orch.put_record("r", {"a": 2}, expect=1, event="test.put")
    with pytest.raises(ConflictError, match="expected absent, found at version 2") as exc:
        orch.put_record("r", {"a": 3}, expect=None, event="test.put")
    assert exc.value.exit_code == 3
    with pytest.raises(ConflictError, match="expected at version 1, found at version 2"):
        orch.put_record("r", {"a": 3}, expect=1, event="test.put")
    with pytest.raises(ConflictError, match="found absent"):
        orch.put_record("other", {"a": 3}, expect=4, event="test.put")
    assert orch.get_record("r").data == {"a": 2}  # type: ignore[union-attr]
    assert len(orch.events(kind="test.put")) == 2


def test_bad_input_is_refused(orch: Orchestrator) -> None:
    """Empty or overlong keys, reserved event keys and odd versions are usage errors."""
    with pytest.raises(UsageError):
        orch.put_record("", {}, expect=None, event="test.put")
    with pytest.raises(UsageError):
        orch.put_record("k" * 256, {}, expect=None, event="test.put")
    with pytest.raises(UsageError, match="reserved"):
        orch.put_record("r", {}, expect=None, event="test.put", event_data={"version": 9})
    with pytest.raises(UsageError):
        orch.put_record("r", {}, expect=True, event="test.put")  # type: ignore[arg-type]
    assert orch.get_record("r") is None


def test_racing_writers_of_one_version_one_wins(db_url: str, workdir: Path) -> None:
    """Eight writers that all read version 1: exactly one writes version 2."""
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        orch.put_record("r", {"by": None}, expect=None, event="test.put")
    won: list[int] = []
    lost: list[int] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        with Orchestrator.open(workdir, database_url=db_url, actor="test") as mine:
            start.wait()
            try:
                mine.put_record("r", {"by": n}, expect=1, event="test.put")
                won.append(n)
            except ConflictError:
                lost.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert len(lost) == 7
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        record = orch.get_record("r")
        assert record is not None
        assert (record.version, record.data) == (2, {"by": won[0]})
        assert len(orch.events(kind="test.put")) == 2


def test_records_and_locks_belong_to_the_session(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """Another working directory's session has its own records and its own locks."""
    orch.put_record("r", {"a": 1}, expect=None, event="test.put")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with Orchestrator.open(other_dir, database_url=db_url, actor="test") as other:
        assert other.get_record("r") is None
        with orch.exclusive("send"), other.exclusive("send"):
            pass


def test_no_session_reads_nothing_and_creates_nothing(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """A read-only orchestrator in a directory without a session finds no record."""
    bare = tmp_path / "bare"
    bare.mkdir()
    with Orchestrator.open(bare, database_url=db_url, actor="test", create=False) as ro:
        assert ro.get_record("r") is None
    assert [s.working_directory for s in orch.list_sessions()] == [str(orch.working_directory)]


def test_exclusive_refuses_a_second_holder_until_released(orch: Orchestrator) -> None:
    """Held, the same name is a ConflictError (exit 3) at once; released, it is free."""
    with orch.exclusive("send"):
        with pytest.raises(ConflictError, match="held elsewhere") as exc, orch.exclusive("send"):
            pass  # pragma: no cover - refused
        assert exc.value.exit_code == 3
        with orch.exclusive("another"):
            pass
    with orch.exclusive("send"):
        pass


def test_exclusive_is_released_when_the_block_raises(orch: Orchestrator) -> None:
    """An error inside the block still releases the lock."""
    with pytest.raises(RuntimeError), orch.exclusive("send"):
        raise RuntimeError("boom")
    with orch.exclusive("send"):
        pass


HOLDER = """
import sys, time
from castoff.orchestrator.service import Orchestrator
with Orchestrator.open(sys.argv[1], database_url=sys.argv[2], actor="holder") as orch:
    with orch.exclusive("send"):
        print("held", flush=True)
        time.sleep(120)
"""


def test_a_killed_holders_lock_is_released(orch: Orchestrator, db_url: str) -> None:
    """Another process holds the lock; SIGKILLed, its lock goes with it (flock / connection)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(orch.working_directory), db_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConflictError), orch.exclusive("send"):
            pass  # pragma: no cover - refused
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 15  # PostgreSQL ends the dead client's session promptly
        while True:
            try:
                with orch.exclusive("send"):
                    break
            except ConflictError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
