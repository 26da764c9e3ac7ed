"""Sessions, status, restart recovery and cleanup (both dialects)."""

from __future__ import annotations

import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from castoff import workspace
from castoff.errors import NotFound, UsageError
from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import sessions, tasks


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
        assert restart.interrupted == [a.id]
        assert restart.in_progress == [b.id]
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


def _session_rows(db_url: str) -> list[str]:
    from castoff.store.database import Database

    db = Database.open(db_url)
    try:
        return db.read(lambda c: [r[0] for r in c.execute(select(sessions.c.working_directory))])
    finally:
        db.close()


def test_read_only_open_creates_no_session(db_url: str, tmp_path: Path) -> None:
    """create=False refuses a directory without a session and inserts no row."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with _seeded(db_url, tmp_path):
        pass
    before = _session_rows(db_url)
    with Orchestrator.open(empty, database_url=db_url, create=False) as orch:
        assert orch.list_sessions() != []  # the store is readable without a session
        for call in (orch.get_status, orch.restart_status, orch.session_status):
            with pytest.raises(NotFound, match=f"no castoff session in {empty}"):
                call()
        with pytest.raises(NotFound, match="no castoff session"):
            orch.query_tasks()
    assert _session_rows(db_url) == before


def test_read_only_open_of_a_missing_embedded_store_creates_nothing(tmp_path: Path) -> None:
    """Without a store file, create=False is refused before anything is written."""
    with pytest.raises(NotFound, match="no castoff session"):
        Orchestrator.open(tmp_path, create=False)
    assert not (tmp_path / ".castoff").exists()


def _seeded(db_url: str, tmp_path: Path) -> Orchestrator:
    seed = tmp_path / "seed"
    seed.mkdir(exist_ok=True)
    return Orchestrator.open(seed, database_url=db_url)


def test_sessions_record_their_host(orch: Orchestrator) -> None:
    """A new session names the machine that made it."""
    assert orch.initialize_session().host == socket.gethostname()


def test_cleanup_leaves_other_hosts_sessions_alone(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """Another machine's session is skipped (reported), unless all_hosts is asked for."""
    gone = tmp_path / "gone-elsewhere"
    gone.mkdir()
    with Orchestrator.open(gone, database_url=db_url) as o2:
        o2.plan_task("theirs")
        sid = o2.session_id
    shutil.rmtree(gone)
    orch.db.write(
        lambda c: c.execute(update(sessions).where(sessions.c.id == sid).values(host="ci-7"))
    )
    result = orch.cleanup_sessions()
    assert (result.removed, [s.id for s in result.skipped]) == (0, [sid])
    assert result.skipped[0].host == "ci-7"
    assert sid in {s.id for s in orch.list_sessions()}
    assert orch.cleanup_sessions(all_hosts=True).removed == 1
    assert sid not in {s.id for s in orch.list_sessions()}


def test_cleanup_of_sessions_without_a_host(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """A session from before hosts were recorded is this machine's on SQLite, unknown on PG."""
    gone = tmp_path / "old"
    gone.mkdir()
    with Orchestrator.open(gone, database_url=db_url) as o2:
        sid = o2.session_id
    shutil.rmtree(gone)
    orch.db.write(
        lambda c: c.execute(update(sessions).where(sessions.c.id == sid).values(host=None))
    )
    result = orch.cleanup_sessions(dry_run=True)
    if orch.db.dialect == "sqlite":
        assert ([s.id for s in result.sessions], result.skipped) == ([sid], [])
    else:
        assert (result.sessions, [s.id for s in result.skipped]) == ([], [sid])


def test_restart_status_separates_then_and_now(
    orch: Orchestrator, db_url: str, workdir: Path
) -> None:
    """interrupted: expired or dead holders found by the last recovery; in_progress: now."""
    expired, dead, alive = (orch.plan_task(n).id for n in ("expired", "dead", "alive"))
    orch.execute_task(expired, worker="w1")
    orch.execute_task(dead, worker=f"release:999999999@{socket.gethostname()}")
    orch.execute_task(alive, worker="w2")
    past = datetime.now(UTC) - timedelta(minutes=5)
    orch.db.write(
        lambda conn: conn.execute(
            update(tasks).where(tasks.c.id == expired).values(lease_expires_at=past)
        )
    )
    with Orchestrator.open(workdir, database_url=db_url) as again:
        restart = again.restart_status()
    assert restart.reclaimed == [expired]
    assert restart.interrupted == sorted([expired, dead])
    assert sorted(restart.in_progress) == sorted([dead, alive])
    assert restart.expired_now == 0


def test_find_root_stops_at_the_nearest_marker(tmp_path: Path) -> None:
    """A stray .castoff above a git repository does not capture it; the nearest wins."""
    (tmp_path / ".castoff").mkdir()
    repo = tmp_path / "work" / "repo"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / ".git").mkdir()
    worktree = tmp_path / "work" / "linked"
    (worktree / "sub").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: elsewhere\n")
    nested = repo / "src" / ".castoff"
    assert workspace.find_root(repo / "src" / "pkg") == repo
    assert workspace.find_root(worktree / "sub") == worktree
    assert workspace.find_root(tmp_path / "work") == tmp_path
    nested.mkdir()
    assert workspace.find_root(repo / "src" / "pkg") == repo / "src"


def test_find_root_without_markers_is_the_start(tmp_path: Path) -> None:
    """With neither .castoff nor .git above, the start directory is the root."""
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)
    assert workspace.find_root(start) == start


def test_find_root_refuses_a_missing_start(tmp_path: Path) -> None:
    """A mistyped -C is an error, not the session of a folder above it."""
    (tmp_path / ".castoff").mkdir()
    with pytest.raises(UsageError, match="does not exist"):
        workspace.find_root(tmp_path / "typo")


def test_opening_an_existing_session_is_one_read_transaction(
    db_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision check, session lookup and expired-lease count share one read; nothing
    is written when nothing needs it."""
    from castoff.store.database import Database

    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        orch.plan_task("a")
    calls: list[str] = []
    real = Database._run

    def counted(self: Database, work: object, *, write: bool) -> object:
        calls.append("write" if write else "read")
        return real(self, work, write=write)  # type: ignore[arg-type]

    monkeypatch.setattr(Database, "_run", counted)
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as orch:
        assert calls == ["read"]
        assert orch.get_status().total == 1
