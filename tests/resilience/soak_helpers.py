"""Helpers for the soak tests (``make soak``): knobs, the seed, SIGKILL, end-state checks.

- :func:`knob` reads an iteration count or a duration from the environment
  (``CASTOFF_SOAK_*``; each test module's docstring lists its own).
- :data:`SEED` is ``CASTOFF_SOAK_SEED`` or a fresh one, printed by every soak
  with what to set to repeat it; :func:`rng` derives a generator per
  iteration, so one iteration can be replayed alone.
- :func:`run_killed` starts a real process and SIGKILLs it (that process only,
  no clean-up of any kind) after a delay, then waits for the children it left
  behind (git, a test command) to finish before anything resumes.
- :func:`structure_findings` / :func:`scan_cleanup` run the real
  ``castoff orchestrator maintenance-coordinator``; :func:`store_problems`
  checks counters, leases and the event log through the Orchestrator API.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from castoff import processes
from castoff.orchestrator.models import Event, Task
from castoff.orchestrator.service import Orchestrator


def knob(name: str, default: float) -> float:
    """``$name`` as a number, else ``default``; a malformed value fails the run at once."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number (got {raw!r})") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative (got {raw!r})")
    return value


def count(name: str, default: int) -> int:
    """An iteration count knob."""
    return int(knob(name, default))


SEED = count("CASTOFF_SOAK_SEED", random.SystemRandom().randrange(1, 1_000_000))


def rng(*parts: object) -> random.Random:
    """The generator for one iteration (or worker), derived from :data:`SEED` and ``parts``."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))


def say(message: str) -> None:
    """One progress line, shown live by ``make soak`` (pytest -s) and on failure."""
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- processes ------------------------------------------------------------------------


@dataclass
class Killed:
    """A process run by :func:`run_killed`: killed, or finished before its delay."""

    delay: float
    killed: bool
    returncode: int
    stdout: str
    stderr: str
    elapsed: float


def run_killed(
    argv: Sequence[str],
    delay: float | None,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> Killed:
    """Run ``argv``; SIGKILL it after ``delay`` seconds (None: never) unless it ended first.

    Only the process itself is killed, as the OOM killer or ``kill -9`` would.
    It leads a process group of its own, so the children it left running (a
    ``git`` half-way, a test command) can be waited for before the test goes on:
    a resumed run then never races an orphaned ``git`` for ``index.lock``.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    killed = False
    try:
        out, err = proc.communicate(timeout=timeout if delay is None else delay)
    except subprocess.TimeoutExpired:
        if delay is None:
            _kill_group(proc.pid)
            proc.communicate()
            raise AssertionError(f"{' '.join(argv)} did not finish in {timeout}s") from None
        os.kill(proc.pid, signal.SIGKILL)
        killed = True
        try:  # the pipes close once the orphans that inherited them are gone too
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
    wait_for_group(proc.pid)
    return Killed(
        delay=delay or 0.0,
        killed=killed and proc.returncode == -signal.SIGKILL,
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        elapsed=time.monotonic() - started,
    )


def wait_for_group(pgid: int, timeout: float = 120) -> None:
    """Wait until no process of group ``pgid`` is left (killing them after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # pragma: no cover - a pid reused by another user
            return
        time.sleep(0.02)
    _kill_group(pgid)
    raise AssertionError(f"the children of a killed process (group {pgid}) ran on for {timeout}s")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def castoff_cmd(*args: str) -> list[str]:
    """The argv of the real entry point."""
    return [sys.executable, "-m", "castoff", *args]


def castoff_json(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[int, Any, str]:
    """``castoff ARGS --json``: exit code, parsed stdout (None when empty), stderr."""
    out = subprocess.run(
        castoff_cmd(*args, "--json"),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    data = json.loads(out.stdout) if out.stdout.strip() else None
    return out.returncode, data, out.stderr


# -- the store ------------------------------------------------------------------------


def maintenance(
    root: Path, action: str, *, level: str = "full", env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """``castoff orchestrator maintenance-coordinator --action ACTION``: its findings."""
    code, data, err = castoff_json(
        "orchestrator",
        "maintenance-coordinator",
        "--action",
        action,
        "--validation-level",
        level,
        "-C",
        str(root),
        env=env,
    )
    assert code == 0, (action, code, err[-2000:])
    return list(data["findings"])


def structure_findings(root: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """What ``validate_structure --validation-level full`` finds."""
    return maintenance(root, "validate_structure", env=env)


def scan_cleanup(root: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """What ``scan_cleanup --validation-level full`` found (and fixed)."""
    return maintenance(root, "scan_cleanup", env=env)


def all_tasks(orch: Orchestrator) -> list[Task]:
    """Every task of the session, read page by page."""
    tasks: list[Task] = []
    while True:
        page = orch.query_tasks(limit=1000, offset=len(tasks))
        tasks += page.tasks
        if not page.has_more:
            return tasks


def all_events(orch: Orchestrator) -> list[Event]:
    """Every event of the session, oldest first."""
    found: list[Event] = []
    before: int | None = None
    while True:
        page = orch.events(limit=1000, before=before)
        found += page
        if len(page) < 1000:
            return sorted(found, key=lambda e: e.id)
        before = page[-1].id


#: The status each transition event leaves its task in.
STATUS_AFTER = {
    "task.planned": "pending",
    "task.in_progress": "in_progress",
    "task.completed": "completed",
    "task.failed": "failed",
    "task.pending": "pending",
    "task.blocked": "blocked",
    "task.cancelled": "cancelled",
    "task.archived": "archived",
}


@dataclass(frozen=True)
class Problem:
    """One broken invariant of one task (``task_id`` None: of the session)."""

    task_id: str | None
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.task_id}: {self.message}" if self.task_id else self.message


def transition_problems(tasks: Iterable[Task], events: Iterable[Event]) -> list[Problem]:
    """Replay each task's transition events; what disagrees with the task as stored.

    Every status change writes an event (``task.<new status>``, most with the
    status it came ``from``), so replaying them in order must pass through the
    ``from`` of each (kind ``stale_from`` when not) and end at the task's
    status; every claim is one ``task.in_progress`` event numbered with its
    attempt, so their number is ``attempts``; a task is completed at most once.
    """
    state: dict[str, str] = {}
    claims: Counter[str] = Counter()
    completions: Counter[str] = Counter()
    problems: list[Problem] = []
    for e in events:
        if e.task_id is None or e.kind not in STATUS_AFTER:
            continue
        data = e.data if isinstance(e.data, dict) else {}
        tid = e.task_id
        if e.kind == "task.cancelled" and data.get("reason") == "archived" and "from" not in data:
            continue  # the note before an in-progress task is archived (delete --force)
        if e.kind == "task.planned":
            if tid in state:
                problems.append(Problem(tid, "planned_twice", f"planned again (event {e.id})"))
        elif tid not in state:
            problems.append(Problem(tid, "unplanned", f"{e.kind} (event {e.id}) before planned"))
        elif "from" in data and data["from"] != state[tid]:
            problems.append(
                Problem(
                    tid,
                    "stale_from",
                    f"{e.kind} (event {e.id}, by {e.actor}) says from {data['from']}, "
                    f"but the events before it left the task {state[tid]}",
                )
            )
        if e.kind == "task.in_progress":
            claims[tid] += 1
            if data.get("attempt") != claims[tid]:
                problems.append(
                    Problem(
                        tid,
                        "attempt_number",
                        f"claim {claims[tid]} (event {e.id}) says attempt {data.get('attempt')}",
                    )
                )
        if e.kind == "task.completed":
            completions[tid] += 1
            if completions[tid] > 1:
                problems.append(Problem(tid, "completed_twice", f"completed again (event {e.id})"))
        state[tid] = STATUS_AFTER[e.kind]
    for t in tasks:
        status = str(t.status)
        if t.id not in state:
            problems.append(Problem(t.id, "no_events", f"{status}, with no task.planned event"))
        elif state[t.id] != status:
            problems.append(
                Problem(t.id, "final_status", f"is {status}, its events end at {state[t.id]}")
            )
        if claims[t.id] != t.attempts:
            problems.append(
                Problem(t.id, "attempts", f"attempts {t.attempts}, {claims[t.id]} claim event(s)")
            )
    return problems


def counter_problems(orch: Orchestrator, tasks: Sequence[Task]) -> list[str]:
    """Status counters (what get_status reports) that disagree with the tasks themselves."""
    real = Counter(str(t.status) for t in tasks)
    counts = orch.get_status(include_completed=True).counts
    return [
        f"{status}: counted {counts.get(status, 0)}, really {real.get(status, 0)}"
        for status in sorted(set(counts) | set(real))
        if counts.get(status, 0) != real.get(status, 0)
    ]


def lease_problems(tasks: Iterable[Task]) -> list[Problem]:
    """Leases that are neither live nor reclaimable, and leases on tasks not in progress.

    An in-progress task's lease is live (a future expiry, a holder that runs) or
    reclaimable (expired, or its holder a process of this host that is gone:
    ``<actor>:<pid>.<start>@<host>``, see ``reclaim_dead_workers``) as long as it
    has a holder and an expiry; a process holder on another host could be
    neither. Every way out of ``in_progress`` clears the lease.
    """
    host = socket.gethostname()
    problems = []
    for t in tasks:
        held = t.lease_owner is not None or t.lease_expires_at is not None
        if str(t.status) != "in_progress":
            if held:
                problems.append(
                    Problem(
                        t.id,
                        "lease_kept",
                        f"{t.status}, still leased by {t.lease_owner} until {t.lease_expires_at}",
                    )
                )
            continue
        if not t.lease_owner or t.lease_expires_at is None:
            problems.append(Problem(t.id, "no_lease", "in progress without a lease"))
            continue
        who, _, where = t.lease_owner.rpartition("@")
        if processes.parse_token(who.rpartition(":")[2]) is not None and where != host:
            problems.append(
                Problem(t.id, "foreign_holder", f"held by {t.lease_owner}, of another host")
            )
    return problems


def error_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings of severity error: corruption, never a consequence of legal operations."""
    return [f for f in findings if f.get("severity") == "error"]


# -- the verdict ----------------------------------------------------------------------


def lost_transitions(problems: Iterable[Problem]) -> tuple[list[Problem], list[Problem]]:
    """(other problems, problems of tasks whose history shows a lost transition).

    A ``stale_from`` event is the mark of a lost transition: an operation wrote
    its change over a status it had not seen (what the store soak found on
    PostgreSQL before status changes locked their row). Everything else wrong
    with such a task (completed twice, a lease kept) follows from it, so the
    failure report lists those tasks apart, under that name.
    """
    problems = list(problems)
    marked = {p.task_id for p in problems if p.kind == "stale_from"}
    return (
        [p for p in problems if p.task_id not in marked],
        [p for p in problems if p.task_id in marked],
    )


class Verdict:
    """The broken invariants of one soak: any of them fails it, each instance listed."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.failures: dict[str, list[str]] = {}

    def check(self, invariant: str, broken: Iterable[object]) -> None:
        found = [str(b) for b in broken]
        if found:
            self.failures.setdefault(invariant, []).extend(found)

    def _report(self, limit: int = 12) -> str:
        lines = []
        for name, items in self.failures.items():
            lines.append(f"{name} ({len(items)}):")
            lines += [f"  {i}" for i in items[:limit]]
            if len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more")
        return "\n".join(lines)

    def conclude(self) -> None:
        """Fail on any broken invariant (every one listed); else pass."""
        if self.failures:
            pytest.fail(f"{self.context}\n{self._report()}", pytrace=False)
