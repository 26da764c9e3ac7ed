"""Property-based checks of the dependency and lifecycle rules against the real store."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


PG_ADMIN_URL = os.environ.get(
    "CASTOFF_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: Examples per property: PostgreSQL round trips are slower, so fewer there.
EXAMPLES = {"sqlite": 25, "postgresql": 12}


@dataclass
class Store:
    """One orchestrator shared by a module's examples (each example uses a new session)."""

    kind: str
    orch: Orchestrator


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """An orchestrator on embedded SQLite, or on a fresh PostgreSQL database (dropped after)."""
    root = tmp_path_factory.mktemp("props")
    if request.param == "sqlite":
        with Orchestrator.open(root, actor="prop") as orch:
            yield Store("sqlite", orch)
        return
    import psycopg

    name = f"castoff_props_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            with Orchestrator.open(root, database_url=url, actor="prop") as orch:
                yield Store("postgresql", orch)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_session(orch: Orchestrator, tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    orch.initialize_session(tmp)


def _settings(store: Store) -> settings:
    return settings(
        max_examples=EXAMPLES[store.kind],
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def test_stored_dependency_graph_is_always_acyclic(
    store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever dependency updates are tried, the stored graph never has a cycle."""
    orch = store.orch

    @_settings(store)
    @given(changes=edges)
    def check(changes: list[tuple[int, list[int]]]) -> None:
        _fresh_session(orch, tmp_path_factory.mktemp("s"))
        ids = [orch.plan_task(f"t{i}").id for i in range(N)]
        for task, deps in changes:
            with contextlib.suppress(DependencyCycle):
                orch.update_task(ids[task], dependencies=[ids[d] for d in deps])
        stored = [(t.id, d) for t in orch.query_tasks(limit=100).tasks for d in t.dependencies]
        assert find_cycle(stored) is None

    check()


def test_every_stored_status_change_is_a_legal_transition(
    store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Random operations either fail cleanly or move a task along a legal edge."""
    orch = store.orch

    @_settings(store)
    @given(ops=operations)
    def check(ops: list[tuple[str, int]]) -> None:
        _fresh_session(orch, tmp_path_factory.mktemp("s"))
        ids = [orch.plan_task(f"t{i}").id for i in range(4)]
        for op, i in ops:
            before = orch.get_task(ids[i]).status
            try:
                if op == "execute":
                    orch.execute_task(ids[i])
                elif op == "complete":
                    orch.complete_task(ids[i], "done")
                elif op == "fail":
                    orch.fail_task(ids[i], "boom")
                elif op == "cancel":
                    orch.cancel_task(ids[i])
                else:
                    orch.update_task(ids[i], status=op)
            except CastoffError:
                assert orch.get_task(ids[i]).status == before
                continue
            after = orch.get_task(ids[i]).status
            assert after == before or can_transition(TaskStatus(before), TaskStatus(after))

    check()


lifecycle_ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "plan",
                "plan_child",
                "plan_batch",
                "execute",
                "complete_and_claim",
                "complete",
                "fail",
                "cancel",
                "pending",
                "blocked",
                "archived",
                "delete",
                "archive_subtree",
                "expire",
                "scan_cleanup",
            ]
        ),
        st.integers(0, 9),
    ),
    max_size=25,
)


def _counters_match(orch: Orchestrator) -> None:
    from castoff.store import counters

    sid = orch.session_id
    stored, real = orch.db.read(lambda conn: (counters.read(conn, sid), counters.actual(conn, sid)))
    assert {s: n for s, n in stored.items() if n} == real
    status = orch.get_status()
    assert status.total == sum(real.values())
    assert {s: n for s, n in status.counts.items() if n} == real


def test_status_counters_equal_a_real_count_after_any_lifecycle(
    store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever happens to a session's tasks (plans, claims, completions, cancelled
    subtrees, deletes that cascade, archives, expired leases, cleanup), the status
    counters get_status reads equal a GROUP BY over the tasks."""
    from datetime import timedelta

    from castoff.orchestrator.models import TaskSpec
    from castoff.store import tasks as task_store

    orch = store.orch

    @_settings(store)
    @given(ops=lifecycle_ops)
    def check(ops: list[tuple[str, int]]) -> None:
        _fresh_session(orch, tmp_path_factory.mktemp("s"))
        ids = [orch.plan_task("root").id]
        for op, i in ops:
            task_id = ids[i % len(ids)]
            with contextlib.suppress(CastoffError):
                if op == "plan":
                    ids.append(orch.plan_task(f"t{len(ids)}", dependencies=[task_id]).id)
                elif op == "plan_child":
                    ids.append(orch.plan_task(f"c{len(ids)}", parent_task_id=task_id).id)
                elif op == "plan_batch":
                    batch = [
                        TaskSpec("p", "p", parent=task_id),
                        TaskSpec("q", "q", parent="p", dependencies=["p", task_id]),
                    ]
                    ids += [t.id for t in orch.plan_tasks(batch)]
                elif op == "execute":
                    orch.execute_task(task_id)
                elif op == "complete":
                    orch.complete_task(task_id, "done")
                elif op == "fail":
                    orch.fail_task(task_id, "boom")
                elif op == "complete_and_claim":
                    orch.complete_and_claim(task_id, "done", next_task_id=ids[(i + 1) % len(ids)])
                elif op == "cancel":
                    orch.cancel_task(task_id)
                elif op == "delete":
                    orch.delete_task(task_id, force=True)
                elif op == "archive_subtree":
                    orch.delete_task(task_id, force=True, archive_instead=True)
                elif op == "expire":  # its holder died: the lease ran out
                    past = orch.now() - timedelta(seconds=5)
                    orch.db.write(
                        lambda conn, t=task_id, p=past: task_store.set_values(
                            conn, t, {"lease_expires_at": p}
                        )
                    )
                    orch.resume_session()
                elif op == "scan_cleanup":
                    orch.maintenance_coordinator("scan_cleanup")
                else:
                    orch.update_task(task_id, status=op)
            _counters_match(orch)

    check()
