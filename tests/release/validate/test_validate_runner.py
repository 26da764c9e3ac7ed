"""The check runner: concurrency, needs, crashes and progress."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from castoff.errors import UsageError
from castoff.release.validate.commands import CommandResult, argv_of, run_command
from castoff.release.validate.model import Check, CheckStatus, Outcome
from castoff.release.validate.runner import run_checks, run_report, select_checks


def _sleeper(seconds: float, status: CheckStatus = CheckStatus.PASS) -> Check:
    def run() -> Outcome:
        time.sleep(seconds)
        return Outcome(status, f"slept {seconds}")

    return Check(f"sleep-{seconds}-{status.value}", "sleep", run)


def test_independent_checks_run_concurrently() -> None:
    """Four 0.3 s checks with four workers take about 0.3 s, not 1.2 s."""
    checks = [Check(f"c{i}", "c", _sleeper(0.3).run) for i in range(4)]
    start = time.monotonic()
    results = run_checks(checks, concurrency=4)
    assert time.monotonic() - start < 0.9
    assert [r.id for r in results] == ["c0", "c1", "c2", "c3"]


def test_concurrency_one_runs_checks_one_at_a_time() -> None:
    """With one worker, no two checks overlap."""
    active = []
    peak = []
    lock = threading.Lock()

    def run() -> Outcome:
        with lock:
            active.append(1)
            peak.append(len(active))
        time.sleep(0.02)
        with lock:
            active.pop()
        return Outcome.passed("ok")

    run_checks([Check(f"c{i}", "c", run) for i in range(5)], concurrency=1)
    assert max(peak) == 1


def test_a_check_waits_for_what_it_needs() -> None:
    """A dependent check starts only after its need finished."""
    order: list[str] = []

    def step(name: str, delay: float = 0.0) -> Check:
        def run() -> Outcome:
            time.sleep(delay)
            order.append(name)
            return Outcome.passed(name)

        return Check(name, name, run, needs=("build",) if name != "build" else ())

    run_checks([step("smoke"), step("build", 0.1)], concurrency=4)
    assert order == ["build", "smoke"]


def test_a_failed_need_skips_its_dependents() -> None:
    """When the build fails, the smoke test is skipped, naming the build."""
    checks = [
        Check("build", "b", lambda: Outcome.failed("broken")),
        Check("smoke", "s", lambda: Outcome.passed("never"), needs=("build",)),
    ]
    smoke = run_checks(checks, concurrency=2)[1]
    assert smoke.status is CheckStatus.SKIPPED
    assert smoke.message == "needs build, which failed"


def test_a_crashing_check_becomes_a_failed_result() -> None:
    """An exception inside a check is reported, not raised."""

    def boom() -> Outcome:
        raise RuntimeError("disk on fire")

    (result,) = run_checks([Check("boom", "b", boom)], concurrency=1)
    assert result.status is CheckStatus.FAIL
    assert "RuntimeError: disk on fire" in result.message


def test_needs_that_wait_on_each_other_fail_instead_of_hanging() -> None:
    """A cycle among needs is reported as failures."""
    checks = [
        Check("a", "a", lambda: Outcome.passed("a"), needs=("b",)),
        Check("b", "b", lambda: Outcome.passed("b"), needs=("a",)),
    ]
    assert {r.status for r in run_checks(checks, concurrency=2)} == {CheckStatus.FAIL}


def test_progress_reports_running_then_the_status() -> None:
    """on_progress gets (id, "running") then (id, status) for each check."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(check_id: str, state: str) -> None:
        with lock:
            seen.append((check_id, state))

    run_checks([Check("x", "x", lambda: Outcome.warned("hm"))], concurrency=1, on_progress=record)
    assert seen == [("x", "running"), ("x", "warn")]


def test_report_status_is_fail_when_any_check_failed() -> None:
    """The report fails on one failure and counts every status."""
    checks = [
        Check("ok", "ok", lambda: Outcome.passed("ok")),
        Check("bad", "bad", lambda: Outcome.failed("bad")),
        Check("meh", "meh", lambda: Outcome.warned("meh")),
    ]
    report = run_report("preflight", checks, version="1.0.0", tag="v1.0.0", concurrency=2)
    assert report.status is CheckStatus.FAIL
    assert not report.ok
    assert report.counts == {"pass": 1, "fail": 1, "warn": 1, "skipped": 0}
    assert [c.id for c in report.failures] == ["bad"]


def test_report_with_only_warnings_is_ok() -> None:
    """Warnings do not block: status warn, ok true."""
    report = run_report(
        "preflight",
        [Check("meh", "m", lambda: Outcome.warned("m"))],
        version="1",
        tag=None,
        concurrency=1,
    )
    assert report.status is CheckStatus.WARN
    assert report.ok


def test_selecting_a_check_pulls_in_what_it_needs() -> None:
    """--check smoke also runs build."""
    checks = [
        Check("build", "b", lambda: Outcome.passed("b")),
        Check("smoke", "s", lambda: Outcome.passed("s"), needs=("build",)),
        Check("tests", "t", lambda: Outcome.passed("t")),
    ]
    selected, _ = select_checks(checks, {"smoke"}, ())
    assert [c.id for c in selected] == ["build", "smoke"]


def test_unknown_check_ids_are_bad_input() -> None:
    """An unknown --check or --skip id is a usage error listing the known ones."""
    checks = [Check("build", "b", lambda: Outcome.passed("b"))]
    with pytest.raises(UsageError, match=r"unknown check\(s\): nope .*known: build"):
        select_checks(checks, None, {"nope"})


class _StopError(Exception):
    """What a listener raises to cancel (the MCP adapter's Cancelled)."""


def test_a_raising_listener_cancels_the_run() -> None:
    """When on_progress raises, later checks never start and the exception reaches the caller."""
    started: list[str] = []

    def check(name: str) -> Check:
        def run() -> Outcome:
            started.append(name)
            return Outcome.passed(name)

        return Check(name, name, run)

    def listener(check_id: str, state: str) -> None:
        if check_id == "b" and state == "pass":
            raise _StopError

    with pytest.raises(_StopError):
        run_checks([check("a"), check("b"), check("c")], concurrency=1, on_progress=listener)
    assert started == ["a", "b"]


def test_cancelling_kills_running_commands(tmp_path: Path) -> None:
    """A running command is killed promptly once the run is cancelled."""
    results: list[CommandResult] = []

    def slow() -> Outcome:
        results.append(run_command(argv_of("sleep 30"), cwd=tmp_path, timeout=60))
        return Outcome.passed("never this late")

    def listener(check_id: str, state: str) -> None:
        if check_id == "quick" and state == "pass":
            raise _StopError

    checks = [
        Check("slow", "s", slow),
        Check("quick", "q", lambda: time.sleep(0.3) or Outcome.passed("q")),
    ]
    start = time.monotonic()
    with pytest.raises(_StopError):
        run_checks(checks, concurrency=2, on_progress=listener)
    assert time.monotonic() - start < 5
    assert results[0].cancelled
    assert results[0].describe() == "`sleep 30` was cancelled"
