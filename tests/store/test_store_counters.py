"""Status counters (``task_counts``): exact under cascades, rollbacks, concurrency, upgrades."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text, update

from castoff.errors import CastoffError
from castoff.orchestrator.service import Orchestrator
from castoff.store import counters
from castoff.store.database import Database
from castoff.store.migrate import ensure_schema, upgrade
from castoff.store.schema import task_counts


def _both(orch: Orchestrator) -> tuple[dict[str, int], dict[str, int]]:
    sid = orch.session_id
    stored, real = orch.db.read(lambda c: (counters.read(c, sid), counters.actual(c, sid)))
    return {s: n for s, n in stored.items() if n}, real


@pytest.fixture
def orch(db_url: str, tmp_path: Path) -> Iterator[Orchestrator]:
    work = tmp_path / "work"
    work.mkdir()
    with Orchestrator.open(work, database_url=db_url, actor="test") as o:
        yield o


def test_cascading_delete_of_a_subtree_is_counted(orch: Orchestrator) -> None:
    """Deleting a parent removes its subtree by cascade; every removed task is uncounted."""
    root = orch.plan_task("root")
    child = orch.plan_task("child", parent_task_id=root.id)
    orch.plan_task("grandchild", parent_task_id=child.id)
    orch.execute_task(child.id)
    orch.plan_task("other")
    assert _both(orch)[0] == {"pending": 3, "in_progress": 1}
    # behind the orchestrator's back: only the database's cascade removes the children
    orch.db.write(lambda c: c.execute(text("DELETE FROM tasks WHERE id = :i"), {"i": root.id}))
    stored, real = _both(orch)
    assert stored == real == {"pending": 1}


def test_removed_session_takes_its_counters(orch: Orchestrator, tmp_path: Path) -> None:
    """cleanup_sessions removes a session's counter rows with it (no orphans, no errors)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    orch.initialize_session(gone)
    orch.plan_task("a")
    sid = orch.session_id
    gone.rmdir()
    assert orch.cleanup_sessions().removed == 1
    rows = orch.db.read(
        lambda c: c.execute(
            text("SELECT count(*) FROM task_counts WHERE session_id = :s"), {"s": sid}
        ).scalar_one()
    )
    assert rows == 0


def test_a_rolled_back_change_leaves_the_counters_alone(orch: Orchestrator) -> None:
    """A transaction that fails after changing a status changes no counter."""
    a = orch.plan_task("a")
    before = _both(orch)

    def fail(conn: Connection) -> None:
        conn.execute(text("UPDATE tasks SET status = 'completed' WHERE id = :i"), {"i": a.id})
        raise CastoffError("stop")

    with pytest.raises(CastoffError):
        orch.db.write(fail)
    assert _both(orch) == before == ({"pending": 1}, {"pending": 1})


def test_concurrent_workers_never_lose_a_count(orch: Orchestrator, db_url: str) -> None:
    """Four threads, each with its own orchestrator, plan, claim and complete at once."""
    root = orch.working_directory
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        try:
            with Orchestrator.open(root, database_url=db_url, actor=f"w{n}") as mine:
                barrier.wait()
                for i in range(15):
                    t = mine.plan_task(f"{n}-{i}")
                    if i % 3:
                        mine.execute_task(t.id)
                    if i % 3 == 2:
                        mine.complete_task(t.id, "ok")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    stored, real = _both(orch)
    assert stored == real == {"pending": 20, "in_progress": 20, "completed": 20}


def test_drift_is_reported_and_scan_cleanup_recounts(orch: Orchestrator) -> None:
    """A counter changed behind the triggers' back: validate_structure reports it as an
    error, scan_cleanup sets it to the real count, and validation is clean again."""
    orch.plan_task("a")
    orch.plan_task("b")
    sid = orch.session_id
    orch.db.write(
        lambda c: c.execute(
            update(task_counts)
            .where(task_counts.c.session_id == sid, task_counts.c.status == "pending")
            .values(n=7)
        )
    )
    found = orch.maintenance_coordinator("validate_structure").findings
    assert [(f.kind, f.severity, f.fixed) for f in found] == [("counter_drift", "error", False)]
    assert "7 task(s) counted as pending, 2 really" in found[0].message
    fixed = orch.maintenance_coordinator("scan_cleanup").findings
    assert [(f.kind, f.fixed) for f in fixed] == [("counter_drift", True)]
    assert orch.maintenance_coordinator("validate_structure").findings == []
    assert orch.get_status().counts["pending"] == 2


def test_upgrade_counts_the_tasks_of_an_existing_store(db_url: str) -> None:
    """A store at 0002 holding tasks gets counters equal to its tasks (migration 0003)."""
    db = Database.open(db_url)
    try:
        with db.engine.connect() as conn:
            upgrade(conn, "0002")
            conn.execute(
                text(
                    "INSERT INTO sessions (id, working_directory, name, status, created_at, "
                    "updated_at) VALUES ('s1', '/a', 'a', 'active', :t, :t), "
                    "('s2', '/b', 'b', 'active', :t, :t)"
                ),
                {"t": "2024-01-01 00:00:00"},
            )
            for n, (sid, status) in enumerate(
                [("s1", "pending"), ("s1", "pending"), ("s1", "completed"), ("s2", "failed")]
            ):
                conn.execute(
                    text(
                        "INSERT INTO tasks (id, session_id, title, description, task_type, "
                        "specialist_type, complexity, status, attempts, created_at, updated_at) "
                        "VALUES (:id, :sid, 't', '', 'standard', 'generic', 'moderate', :st, 0, "
                        ":t, :t)"
                    ),
                    {"id": f"t{n}", "sid": sid, "st": status, "t": "2024-01-01 00:00:00"},
                )
            conn.commit()
        ensure_schema(db)
        got = db.read(
            lambda c: (
                {sid: counters.read(c, sid) for sid in ("s1", "s2")}
                | {"totals": counters.totals(c)}
            )
        )
        assert got == {
            "s1": {"pending": 2, "completed": 1},
            "s2": {"failed": 1},
            "totals": {"s1": 3, "s2": 1},
        }
    finally:
        db.close()
