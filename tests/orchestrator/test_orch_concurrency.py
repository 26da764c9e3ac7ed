"""Concurrent changes to one session's task graph never store a loop (both dialects).

Each test holds the checking transaction open for a moment (a pause after the
cycle / loop check) while a second thread makes the opposite change. Without
the per-session serialization in ``update_task`` both checks pass on
PostgreSQL (READ COMMITTED) and a cycle is stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from castoff.errors import UsageError
from castoff.orchestrator import graph
from castoff.orchestrator.service import Orchestrator
from castoff.store import tasks as task_store

PAUSE_S = 0.3
ROUNDS = 3


def _slowed(fn: Callable[..., Any]) -> Callable[..., Any]:
    def slow(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        time.sleep(PAUSE_S)  # the check is done; the write has not happened yet
        return result

    return slow


def _race(
    one: Orchestrator, two: Orchestrator, change: Callable[[Orchestrator, str, str], object]
) -> list[Exception]:
    """Plan a and b, then at the same moment make a → b (in one) and b → a (in two)."""
    a, b = one.plan_task("a").id, one.plan_task("b").id
    barrier = threading.Barrier(2)
    refused: list[Exception] = []

    def run(orch: Orchestrator, task: str, other: str) -> None:
        barrier.wait()
        try:
            change(orch, task, other)
        except UsageError as exc:
            refused.append(exc)

    threads = [
        threading.Thread(target=run, args=(one, a, b)),
        threading.Thread(target=run, args=(two, b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return refused


@pytest.fixture
def pair(db_url: str, workdir: Path) -> Any:
    """Two orchestrators (as two workers would be) on the same session."""
    with (
        Orchestrator.open(workdir, database_url=db_url, actor="one") as one,
        Orchestrator.open(workdir, database_url=db_url, actor="two") as two,
    ):
        yield one, two


def test_concurrent_dependency_updates_store_no_cycle(
    pair: tuple[Orchestrator, Orchestrator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """a → b and b → a at once: exactly one is refused as a cycle."""
    monkeypatch.setattr(graph, "cycle_with", _slowed(graph.cycle_with))
    one, two = pair
    for _ in range(ROUNDS):
        refused = _race(one, two, lambda o, t, other: o.update_task(t, dependencies=[other]))
        assert len(refused) == 1, refused
        assert "cycle" in str(refused[0])
    stored = [(t.id, d) for t in one.query_tasks(limit=1000).tasks for d in t.dependencies]
    assert len(stored) == ROUNDS
    assert graph.find_cycle(stored) is None


def test_concurrent_parent_updates_store_no_loop(
    pair: tuple[Orchestrator, Orchestrator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """a under b and b under a at once: exactly one is refused as a loop."""
    monkeypatch.setattr(task_store, "descendants", _slowed(task_store.descendants))
    one, two = pair
    for _ in range(ROUNDS):
        refused = _race(one, two, lambda o, t, other: o.update_task(t, parent_task_id=other))
        assert len(refused) == 1, refused
        assert "cannot become its parent" in str(refused[0])
    parents = {t.id: t.parent_task_id for t in one.query_tasks(limit=1000).tasks}
    assert sum(1 for p in parents.values() if p) == ROUNDS
    assert graph.parent_loop(parents) is None


@pytest.mark.postgres
def test_graph_lock_does_not_hold_up_other_writes(
    pg_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: while a dependency change holds the session's graph lock, planning
    and claiming in that session go ahead (the lock is advisory, not on a row)."""
    started = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(2)
        return None

    with (
        Orchestrator.open(workdir, database_url=pg_url, actor="one") as one,
        Orchestrator.open(workdir, database_url=pg_url, actor="two") as two,
    ):
        a, b = one.plan_task("a").id, one.plan_task("b").id
        monkeypatch.setattr(graph, "cycle_with", held)
        slow = threading.Thread(target=lambda: one.update_task(a, dependencies=[b]))
        slow.start()
        assert started.wait(10)
        t0 = time.monotonic()
        c = two.plan_task("c", dependencies=[b])
        two.execute_task(b)
        elapsed = time.monotonic() - t0
        slow.join(timeout=30)
        assert elapsed < 1.5, elapsed
        assert two.get_task(c.id).dependencies == [b]
        assert one.get_task(a).dependencies == [b]


def test_a_status_change_never_overwrites_a_concurrent_completion(
    pair: tuple[Orchestrator, Orchestrator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reopening a task while its holder completes it: one of the two wins, never both.

    The reopen checks the transition, pauses, then writes; the completion
    comes in the pause. Without the row lock PostgreSQL let the reopen write
    `pending (from in_progress)` over the committed completion, and the task
    was completed a second time later.
    """
    from castoff.errors import CastoffError
    from castoff.orchestrator import lifecycle
    from castoff.orchestrator.models import TaskStatus

    monkeypatch.setattr(lifecycle, "check_transition", _slowed(lifecycle.check_transition))
    one, two = pair
    task = one.plan_task("t").id
    one.execute_task(task, worker="w")
    refused: list[Exception] = []

    def reopen() -> None:
        try:
            one.update_task(task, status="pending", force=True)
        except CastoffError as exc:
            refused.append(exc)

    def complete() -> None:
        time.sleep(PAUSE_S / 3)  # inside the reopen's pause
        try:
            two.complete_task(task, "done", worker="w")
        except CastoffError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=reopen), threading.Thread(target=complete)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    final = one.get_task(task).status
    kinds = [e.kind for e in one.events(task_id=task, limit=20)]
    assert len(refused) == 1, refused
    if final == TaskStatus.PENDING:
        assert "task.completed" not in kinds
    else:
        assert final == TaskStatus.COMPLETED
        assert kinds.count("task.completed") == 1
        assert "task.pending" not in kinds


def test_validate_structure_sees_one_moment_while_tasks_are_planned(
    pair: tuple[Orchestrator, Orchestrator],
) -> None:
    """validate_structure during a stream of plans reports no phantom errors (nor crashes).

    It reads tasks, edges and counters in several statements; on PostgreSQL
    each statement used to see another moment (KeyError, false counter drift).
    """
    one, two = pair
    stop = threading.Event()
    problems: list[object] = []

    def plan() -> None:
        previous: list[str] = []
        while not stop.is_set():
            previous = [one.plan_task("next", dependencies=previous[-1:]).id]

    def check() -> None:
        deadline = time.monotonic() + 2.0
        try:
            while time.monotonic() < deadline:
                report = two.maintenance_coordinator("validate_structure")
                problems.extend(f for f in report.findings if f.severity == "error")
        except Exception as exc:
            problems.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=plan), threading.Thread(target=check)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert problems == []
