"""Sessions, status, restart recovery and cleanup (both dialects)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import tasks


def test_initialize_session_is_idempotent(orch: Orchestrator, workdir: Path) -> None:
    """The same directory always gives the same session."""
    first = orch.initialize_session(workdir)
    again = orch.initialize_session(str(workdir), name="renamed")
    assert first.id == again.id == orch.session_id
    assert again.name == "renamed"


def test_list_sessions_counts_tasks(orch: Orchestrator, db_url: str, tmp_path: Path) -> None:
    """list_sessions shows every session with its number of tasks."""
    orch.plan_task("a")
    other = tmp_path / "other"
    other.mkdir()
    with Orchestrator.open(other, database_url=db_url):
        pass
    counts = {s.working_directory: s.task_count for s in orch.list_sessions()}
    assert counts[str(orch.working_directory)] == 1
    assert counts[str(other.resolve())] == 0


def test_get_status_counts_and_ready(orch: Orchestrator) -> None:
    """get_status counts by status and lists ready and running tasks."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    c = orch.plan_task("c")
    orch.execute_task(c.id)
    status = orch.get_status()
    assert status.counts["pending"] == 2
    assert status.counts["in_progress"] == 1
    assert [t.id for t in status.ready] == [a.id]
    assert [t.id for t in status.in_progress] == [c.id]
    orch.complete_task(c.id, "done")
    status = orch.get_status()
    assert status.progress == round(1 / 3, 4)
    assert [t.id for t in status.recently_completed] == [c.id]
    assert orch.get_status(include_completed=False).recently_completed == []
    assert b.id not in [t.id for t in status.ready]


def test_open_reclaims_expired_leases_and_restart_status_reports_it(
    orch: Orchestrator, db_url: str, workdir: Path
) -> None:
    """A crashed worker's expired lease is reclaimed at the next start."""
    a = orch.plan_task("a")
    b = orch.plan_task("b")
    orch.execute_task(a.id, worker="dead")
    orch.execute_task(b.id, worker="alive")
    past = datetime.now(UTC) - timedelta(minutes=5)
    orch.db.write(
        lambda conn: conn.execute(
            update(tasks).where(tasks.c.id == a.id).values(lease_expires_at=past)
        )
    )
    assert orch.restart_status().expired_now == 1
    with Orchestrator.open(workdir, database_url=db_url) as again:
        assert again.startup_reclaimed == [a.id]
        restart = again.restart_status()
        assert restart.reclaimed == [a.id]
        assert restart.interrupted == [b.id]
        assert restart.recovered_at is not None
        assert again.get_task(a.id).status == "pending"


def test_resume_session_switches_current_session(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """resume_session makes another session current and reports its status."""
    other = tmp_path / "other"
    other.mkdir()
    with Orchestrator.open(other, database_url=db_url) as o2:
        o2.plan_task("in other")
        sid = o2.session_id
    status = orch.resume_session(sid)
    assert status.session.id == sid == orch.session_id
    assert status.total == 1


def test_cleanup_sessions_removes_missing_directories(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """Sessions whose directory is gone are listed by dry_run and removed otherwise."""
    gone = tmp_path / "gone"
    gone.mkdir()
    with Orchestrator.open(gone, database_url=db_url) as o2:
        o2.plan_task("lost")
    shutil.rmtree(gone)
    preview = orch.cleanup_sessions(dry_run=True)
    assert [s.working_directory for s in preview.sessions] == [str(gone.resolve())]
    assert preview.removed == 0
    assert orch.cleanup_sessions().removed == 1
    assert str(gone.resolve()) not in {s.working_directory for s in orch.list_sessions()}


def test_session_status_of_current_session(orch: Orchestrator) -> None:
    """session_status without an id describes the current session."""
    orch.plan_task("a")
    assert orch.session_status().total == 1
