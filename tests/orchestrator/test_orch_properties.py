"""Property-based checks of the dependency and lifecycle rules against the real store."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from castoff.errors import CastoffError, DependencyCycle
from castoff.orchestrator.graph import find_cycle
from castoff.orchestrator.lifecycle import can_transition
from castoff.orchestrator.models import TaskStatus
from castoff.orchestrator.service import Orchestrator

N = 6
edges = st.lists(
    st.tuples(st.integers(0, N - 1), st.lists(st.integers(0, N - 1), max_size=3)), max_size=12
)
operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["execute", "complete", "fail", "cancel", "pending", "blocked", "archived"]
        ),
        st.integers(0, 3),
    ),
    max_size=15,
)


@pytest.fixture(scope="module")
def store_orch(tmp_path_factory: pytest.TempPathFactory) -> Orchestrator:
    """One SQLite-backed orchestrator shared by the examples (each uses a new session)."""
    root = tmp_path_factory.mktemp("props")
    orch = Orchestrator.open(root, actor="prop")
    yield orch
    orch.close()


def _fresh_session(orch: Orchestrator, tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    orch.initialize_session(tmp)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=edges)
def test_stored_dependency_graph_is_always_acyclic(
    store_orch: Orchestrator,
    tmp_path_factory: pytest.TempPathFactory,
    changes: list[tuple[int, list[int]]],
) -> None:
    """Whatever dependency updates are tried, the stored graph never has a cycle."""
    _fresh_session(store_orch, tmp_path_factory.mktemp("s"))
    ids = [store_orch.plan_task(f"t{i}").id for i in range(N)]
    for task, deps in changes:
        with contextlib.suppress(DependencyCycle):
            store_orch.update_task(ids[task], dependencies=[ids[d] for d in deps])
    stored = [(t.id, d) for t in store_orch.query_tasks(limit=100).tasks for d in t.dependencies]
    assert find_cycle(stored) is None


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_every_stored_status_change_is_a_legal_transition(
    store_orch: Orchestrator, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    """Random operations either fail cleanly or move a task along a legal edge."""
    _fresh_session(store_orch, tmp_path_factory.mktemp("s"))
    ids = [store_orch.plan_task(f"t{i}").id for i in range(4)]
    for op, i in ops:
        before = store_orch.get_task(ids[i]).status
        try:
            if op == "execute":
                store_orch.execute_task(ids[i])
            elif op == "complete":
                store_orch.complete_task(ids[i], "done")
            elif op == "fail":
                store_orch.fail_task(ids[i], "boom")
            elif op == "cancel":
                store_orch.cancel_task(ids[i])
            else:
                store_orch.update_task(ids[i], status=op)
        except CastoffError:
            assert store_orch.get_task(ids[i]).status == before
            continue
        after = store_orch.get_task(ids[i]).status
        assert after == before or can_transition(TaskStatus(before), TaskStatus(after))
