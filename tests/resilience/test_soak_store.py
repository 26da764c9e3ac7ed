"""Store soak: worker processes hammer one session while the test SIGKILLs and restarts them.

On PostgreSQL (the store for "many workers") and on the embedded SQLite store.

K processes (``soak_store_worker.py``) each open the Orchestrator on the same
session, process-bound like ``castoff worker``, and do random operations for
T seconds: plan (with parents and dependencies), execute (leases of 1 s to
5 min), complete, complete-and-claim, fail, cancel, update (status, with and
without force; dependencies; parent; fields), heartbeat, reclaim dead workers,
reopen. The test SIGKILLs a random worker at random moments (exponential gaps)
and starts a fresh one in its slot; at the end it kills whatever still runs.
Then, with nothing running:

- ``castoff orchestrator maintenance-coordinator --action validate_structure
  --validation-level full`` finds no error: no dependency cycle, no parent
  loop, no status counter drift, no task in progress without a lease, every
  artifact's content present and matching;
- the status counters (``get_status``) equal a count of the tasks themselves;
- every in-progress task holds a lease, and every such lease, all holders
  being dead now, is reclaimed by ``reclaim_dead_workers`` (none is stuck);
- replaying each task's ``task.*`` events passes through the ``from`` status
  of each and ends at the task's status, the ``task.in_progress`` events of a
  task number exactly its ``attempts``, and no task is completed twice;
- no operation failed with anything but the refusals the API documents
  (UsageError and its kinds, ConflictError), and no worker exited on its own.

Knobs (environment):

``CASTOFF_SOAK_STORE_SECONDS``  how long the workers run on PostgreSQL (default 60)
``CASTOFF_SOAK_STORE_SQLITE_SECONDS``  and on SQLite (default 30)
``CASTOFF_SOAK_STORE_WORKERS``  how many run at once (default 4)
``CASTOFF_SOAK_STORE_KILL_EVERY``  mean seconds between two kills (default 1.5)
``CASTOFF_SOAK_SEED``  the seed (printed; set it to repeat the choices)

With the defaults: about 1 minute on PostgreSQL, 35 s on SQLite (the work, then the
checks). Any broken invariant fails the test, each instance listed; tasks whose
events show a status written over one the operation had not seen (``stale_from``)
are listed apart as lost transitions, with everything that followed from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from soak_helpers import (
    SEED,
    Verdict,
    all_events,
    all_tasks,
    count,
    counter_problems,
    error_findings,
    knob,
    lease_problems,
    lost_transitions,
    rng,
    say,
    structure_findings,
    transition_problems,
)

from castoff.orchestrator.service import Orchestrator

SECONDS = {
    "postgresql": knob("CASTOFF_SOAK_STORE_SECONDS", 60),
    "sqlite": knob("CASTOFF_SOAK_STORE_SQLITE_SECONDS", 30),
}
WORKERS = count("CASTOFF_SOAK_STORE_WORKERS", 4)
KILL_EVERY = knob("CASTOFF_SOAK_STORE_KILL_EVERY", 1.5)
WORKER = Path(__file__).with_name("soak_store_worker.py")
#: Operations that must have succeeded at least once for the soak to mean anything.
ESSENTIAL = ("plan", "execute", "complete", "fail", "cancel", "update")
#: How the failure report names tasks whose events show a lost transition.
LOST = "lost transitions (a status written over one the operation had not seen)"


def _timeout(store: str) -> pytest.MarkDecorator:
    return pytest.mark.timeout(int(SECONDS[store]) + 900)


class Workers:
    """K worker processes in slots; a killed (or exited) one is replaced by a fresh one."""

    def __init__(self, root: Path, url: str | None, logs: Path, deadline: float) -> None:
        self.root, self.url, self.logs, self.deadline = root, url, logs, deadline
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.generation: Counter[int] = Counter()
        self.kills = 0
        self.killed: set[int] = set()
        self.exits: list[str] = []

    def start(self, slot: int) -> None:
        self.generation[slot] += 1
        name = f"w{slot}g{self.generation[slot]}"
        left = max(0.0, self.deadline - time.monotonic())
        with (self.logs / f"{name}.stderr").open("wb") as err:
            self.procs[slot] = subprocess.Popen(
                [
                    sys.executable,
                    str(WORKER),
                    str(self.root),
                    self.url or "",
                    f"{SEED}:{name}",
                    f"{left:.2f}",
                    str(self.logs / f"{name}.jsonl"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    def kill(self, slot: int) -> None:
        proc = self.procs[slot]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills += 1
            self.killed.add(proc.pid)
        proc.wait()

    def check_exits(self, *, restart: bool) -> None:
        """Note any worker that ended by itself before the deadline (a crash), restart it."""
        for slot, proc in self.procs.items():
            if proc.poll() is None or proc.pid in self.killed:
                continue
            if proc.returncode != 0 or time.monotonic() < self.deadline - 1:
                name = f"w{slot}g{self.generation[slot]}"
                tail = (self.logs / f"{name}.stderr").read_text()[-1500:]
                self.exits.append(f"{name} exited with {proc.returncode}: {tail}")
            if restart:
                self.start(slot)


def _worker_logs(logs: Path) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    unexpected: list[str] = []
    for log in sorted(logs.glob("*.jsonl")):
        for line in log.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the line a SIGKILL cut short
                continue
            counts.update(record.get("counts", {}))
            if "unexpected" in record:
                unexpected.append(f"{log.stem}: {record['unexpected']}\n{record['traceback']}")
    return counts, unexpected


@pytest.mark.soak
@pytest.mark.parametrize(
    "store",
    [
        pytest.param("postgresql", marks=[pytest.mark.postgres, _timeout("postgresql")]),
        pytest.param("sqlite", marks=_timeout("sqlite")),
    ],
)
def test_store_stays_consistent_while_workers_are_killed(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """K workers killed and restarted at random for T seconds: the store is consistent after."""
    pg_url = request.getfixturevalue("pg_url") if store == "postgresql" else None
    seconds = SECONDS[store]
    root = tmp_path / "project"
    root.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    r = rng("store", store)
    say(
        f"store soak on {store}: {WORKERS} workers for {seconds:g}s, a kill every "
        f"~{KILL_EVERY:g}s; CASTOFF_SOAK_SEED={SEED} repeats these choices"
    )
    with Orchestrator.open(root, database_url=pg_url, actor="soak") as orch:
        for i in range(20):  # something to work on from the first second
            orch.plan_task(f"seed-{i}")
    deadline = time.monotonic() + seconds
    workers = Workers(root, pg_url, logs, deadline)
    for slot in range(WORKERS):
        workers.start(slot)
    midway: list[str] = []
    next_look = time.monotonic() + 10
    try:
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, r.expovariate(1 / KILL_EVERY)))
            workers.check_exits(restart=time.monotonic() < deadline)
            if time.monotonic() >= deadline:
                break
            slot = r.randrange(WORKERS)
            workers.kill(slot)
            workers.start(slot)
            if time.monotonic() >= next_look:  # validate_structure while they work
                next_look += 10
                midway += _look(root, pg_url)
    finally:
        workers.check_exits(restart=False)
        for slot in workers.procs:  # the last ones die mid-work too
            workers.kill(slot)
    counts, unexpected = _worker_logs(logs)
    ops = sum(counts.values())
    say(
        f"{ops} operations ({ops / seconds:.0f}/s), {workers.kills} kills; "
        + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    )

    verdict = Verdict(f"store soak on {store}, CASTOFF_SOAK_SEED={SEED}")
    verdict.check("unexpected errors in workers", unexpected)
    verdict.check("workers that exited by themselves", workers.exits)
    verdict.check("validate_structure errors while running", midway)
    findings = structure_findings(root, {"CASTOFF_DATABASE_URL": pg_url} if pg_url else {})
    verdict.check("validate_structure errors", map(json.dumps, error_findings(findings)))
    with Orchestrator.open(root, database_url=pg_url, actor="soak-check") as orch:
        tasks = all_tasks(orch)
        verdict.check("status counters", counter_problems(orch, tasks))
        broken = [*lease_problems(tasks), *transition_problems(tasks, all_events(orch))]
        other, lost = lost_transitions(broken)
        verdict.check("leases and events", other)
        verdict.check(LOST, lost)
        running = [t.id for t in tasks if str(t.status) == "in_progress"]
        reclaimed = orch.reclaim_dead_workers()
    with Orchestrator.open(root, database_url=pg_url, actor="soak-check") as orch:  # + expired
        after = all_tasks(orch)
        verdict.check(
            "leases not reclaimed (every holder is dead)",
            [
                f"{t.id} held by {t.lease_owner} until {t.lease_expires_at}"
                for t in after
                if str(t.status) == "in_progress"
            ],
        )
        verdict.check("status counters after reclaiming", counter_problems(orch, after))
        other, lost = lost_transitions(transition_problems(after, all_events(orch)))
        verdict.check("events after reclaiming", other)
        verdict.check(LOST + " (after reclaiming)", lost)
    verdict.check(
        "operations that never succeeded", [op for op in ESSENTIAL if counts[f"{op}.ok"] == 0]
    )
    warnings = Counter(f["kind"] for f in findings if f["severity"] != "error")
    say(
        f"{len(tasks)} tasks {dict(Counter(str(t.status) for t in tasks))}; "
        f"{len(running)} in progress at the end, {len(reclaimed)} reclaimed from dead "
        f"workers; validate_structure warnings (legal states): {dict(warnings)}"
    )
    verdict.conclude()


def _look(root: Path, url: str | None) -> list[str]:
    """What validate_structure reports as an error (or raises) while the workers run: it
    reads one snapshot, so what it finds must be there."""
    try:
        with Orchestrator.open(root, database_url=url, actor="soak-check") as orch:
            report = orch.maintenance_coordinator("validate_structure")
    except Exception as exc:
        return [f"validate_structure raised {type(exc).__name__}: {exc}"]
    return [f"{f.kind}: {f.message}" for f in report.findings if f.severity == "error"]
