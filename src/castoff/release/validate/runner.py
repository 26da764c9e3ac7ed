"""Running checks: independent ones concurrently, each turned into a CheckResult.

A check waits for the checks it ``needs`` (the smoke test needs the build);
when one of those did not pass, it is skipped with a message naming it. A
check function that raises becomes a failed result carrying the error: the
runner itself never raises for a check. Timeouts are enforced where the work
happens (each command and each HTTP deadline), so a hung check cannot stall
the run.

Cancelling: when ``on_progress`` raises (the MCP adapter raises ``Cancelled``
once a client cancels), no further check starts, the running ones have their
commands killed (:data:`castoff.release.validate.commands.STOP`), and the
exception propagates to the caller once they have returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from castoff.errors import CastoffError, UsageError
from castoff.release.validate.commands import STOP
from castoff.release.validate.model import (
    Check,
    CheckResult,
    CheckStatus,
    Outcome,
    ProgressCallback,
    ValidationReport,
)


class _Cancel:
    """The run's stop event and the exception that set it (from a progress listener)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def notify(self, on_progress: ProgressCallback | None, check_id: str, state: str) -> bool:
        """Report progress; False (and the run stops) when the listener raised."""
        if on_progress is None or self.event.is_set():
            return not self.event.is_set()
        try:
            on_progress(check_id, state)
        except BaseException as exc:
            with self._lock:
                self.error = self.error or exc
            self.event.set()
            return False
        return True


def _execute(check: Check, on_progress: ProgressCallback | None, cancel: _Cancel) -> CheckResult:
    start = time.monotonic()
    if not cancel.notify(on_progress, check.id, "running"):
        return _result(check, Outcome.skipped("the validation was cancelled"), 0.0)
    token = STOP.set(cancel.event)
    try:
        outcome = check.run()
    except CastoffError as exc:
        outcome = Outcome.failed(exc.message)
    except Exception as exc:  # a check must never take the run down with it
        outcome = Outcome.failed(f"the check crashed: {type(exc).__name__}: {exc}")
    finally:
        STOP.reset(token)
    return _result(check, outcome, time.monotonic() - start)


def _result(check: Check, outcome: Outcome, duration: float) -> CheckResult:
    return CheckResult(
        id=check.id,
        title=check.title,
        status=outcome.status,
        duration_seconds=round(duration, 3),
        message=outcome.message,
        remediation=outcome.remediation,
        output=outcome.output,
        details=dict(outcome.details),
    )


def _blocked(check: Check, done: dict[str, CheckResult]) -> Outcome | None:
    """A skip outcome when a needed check did not pass, else None."""
    for need in check.needs:
        got = done.get(need)
        if got is None or got.status not in (CheckStatus.PASS, CheckStatus.WARN):
            state = "did not run" if got is None else got.status.value
            return Outcome.skipped(f"needs {need}, which {_said(state)}")
    return None


def _said(state: str) -> str:
    return {"fail": "failed", "skipped": "was skipped"}.get(state, state)


def run_checks(
    checks: Sequence[Check],
    *,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
) -> list[CheckResult]:
    """Run ``checks`` (at most ``concurrency`` at once); results in the checks' order."""
    known = {c.id for c in checks}
    pending = list(checks)
    done: dict[str, CheckResult] = {}
    cancel = _Cancel()

    def finish(result: CheckResult) -> None:
        done[result.id] = result
        cancel.notify(on_progress, result.id, result.status.value)

    workers = max(1, concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        running: dict[Future[CheckResult], Check] = {}
        while (pending and not cancel.event.is_set()) or running:
            progressed = not cancel.event.is_set()
            while progressed:
                progressed = False
                for check in list(pending):
                    if len(running) >= workers or cancel.event.is_set():
                        break  # queue no more than can run: a cancel stops what has not started
                    if any(n in known and n not in done for n in check.needs):
                        continue
                    pending.remove(check)
                    progressed = True
                    blocked = _blocked(check, done)
                    if blocked is not None:
                        finish(_result(check, blocked, 0.0))
                    else:
                        running[pool.submit(_execute, check, on_progress, cancel)] = check
            if not running:
                if cancel.event.is_set():
                    break
                # Only checks waiting on each other remain (a cycle): report, do not hang.
                for check in pending:
                    finish(
                        _result(check, Outcome.failed("its needed checks wait on each other"), 0.0)
                    )
                pending.clear()
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                finish(future.result())
    if cancel.error is not None:
        raise cancel.error
    return [done[c.id] for c in checks]


def run_report(
    kind: str,
    checks: Sequence[Check],
    *,
    version: str,
    tag: str | None,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
    package: str | None = None,
) -> ValidationReport:
    """Run ``checks`` and wrap their results in a timed report."""
    started_at = datetime.now(UTC)
    start = time.monotonic()
    results = run_checks(checks, concurrency=concurrency, on_progress=on_progress)
    return ValidationReport.build(
        kind=kind,
        version=version,
        tag=tag,
        started_at=started_at,
        duration_seconds=time.monotonic() - start,
        concurrency=concurrency,
        checks=results,
        package=package,
    )


def select_checks(
    all_checks: list[Check], only: set[str] | None, skip: Iterable[str]
) -> tuple[list[Check], set[str]]:
    """The checks to run (``only`` plus what they need) and the ids to report as skipped."""
    known = {c.id for c in all_checks}
    asked = set(only or ()) | set(skip)
    unknown = sorted(asked - known)
    if unknown:
        raise UsageError(
            f"unknown check(s): {', '.join(unknown)} (known: {', '.join(c.id for c in all_checks)})"
        )
    if only is None:
        return all_checks, set(skip)
    wanted = set(only)
    by_id = {c.id: c for c in all_checks}
    stack = list(wanted)
    while stack:  # pull in what the selected checks need
        for need in by_id[stack.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                stack.append(need)
    return [c for c in all_checks if c.id in wanted], set(skip)


def skip_check(check: Check) -> Check:
    """``check`` replaced by one that reports it skipped on request."""

    def run() -> Outcome:
        return Outcome.skipped("skipped on request (--skip or skip = [...] in the config)")

    return Check(check.id, check.title, run)
