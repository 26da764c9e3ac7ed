"""Leases, execution context, completion, failure, artifacts and synthesis (both dialects)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from castoff.errors import InvalidTransition, LeaseConflict, NotFound, UsageError
from castoff.orchestrator.models import ArtifactInput, TaskStatus
from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import tasks


def _expire_lease(orch: Orchestrator, task_id: str) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    orch.db.write(
        lambda conn: conn.execute(
            update(tasks).where(tasks.c.id == task_id).values(lease_expires_at=past)
        )
    )


def test_execute_returns_role_parent_and_dependency_artifacts(orch: Orchestrator) -> None:
    """The specialist context has the role, parent context and dependency outputs."""
    parent = orch.plan_task("Release", context={"version": "1.0.0"})
    notes = orch.plan_task("Notes", parent_task_id=parent.id)
    orch.execute_task(notes.id)
    orch.complete_task(
        notes.id, "notes written", artifacts=[ArtifactInput("NOTES.md", "# 1.0.0", "documentation")]
    )
    tag = orch.plan_task(
        "Tag", parent_task_id=parent.id, specialist_type="version_tagging", dependencies=[notes.id]
    )
    ctx = orch.execute_task(tag.id)
    assert ctx.role.specialist_type == "version_tagging"
    assert ctx.parent_context is not None
    assert ctx.parent_context.context == {"version": "1.0.0"}
    assert [a.name for a in ctx.dependency_artifacts] == ["NOTES.md"]
    assert ctx.dependency_summaries == {notes.id: "notes written"}
    assert (ctx.task.status, ctx.task.attempts, ctx.task.lease_owner) == (
        "in_progress",
        1,
        orch.worker,
    )


def test_execute_refuses_unmet_dependencies(orch: Orchestrator) -> None:
    """A task whose dependencies are not completed cannot start."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    with pytest.raises(InvalidTransition, match=f"waits on dependencies.*{a.id}"):
        orch.execute_task(b.id)
    assert orch.get_task(b.id).status == TaskStatus.PENDING


def test_execute_refuses_live_lease_of_another_worker(orch: Orchestrator) -> None:
    """A live lease held by someone else is a conflict (exit 3)."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="w1")
    with pytest.raises(LeaseConflict, match="leased by w1") as info:
        orch.execute_task(a.id, worker="w2")
    assert info.value.exit_code == 3


def test_expired_lease_can_be_claimed_again(orch: Orchestrator) -> None:
    """After the lease expires another worker may claim; attempts counts claims."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="w1")
    _expire_lease(orch, a.id)
    ctx = orch.execute_task(a.id, worker="w2")
    assert (ctx.task.lease_owner, ctx.task.attempts) == ("w2", 2)


def test_heartbeat_extends_only_own_lease(orch: Orchestrator) -> None:
    """The holder can extend the lease; others cannot."""
    a = orch.plan_task("a")
    first = orch.execute_task(a.id, worker="w1", lease_seconds=5).task.lease_expires_at
    extended = orch.heartbeat(a.id, worker="w1", lease_seconds=500).lease_expires_at
    assert first is not None
    assert extended is not None
    assert extended > first
    with pytest.raises(LeaseConflict):
        orch.heartbeat(a.id, worker="w2")


def test_concurrent_claims_have_one_winner(orch: Orchestrator) -> None:
    """Of several workers claiming at once, exactly one wins."""
    a = orch.plan_task("a")
    results: list[str] = []
    barrier = threading.Barrier(4)

    def claim(name: str) -> None:
        barrier.wait()
        try:
            orch.execute_task(a.id, worker=name)
            results.append("won")
        except LeaseConflict:
            results.append("lost")

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "lost", "lost", "won"]
    assert orch.get_task(a.id).attempts == 1


def test_complete_requires_execution_first(orch: Orchestrator) -> None:
    """A pending task cannot be completed."""
    a = orch.plan_task("a")
    with pytest.raises(InvalidTransition, match="execute it"):
        orch.complete_task(a.id, "done")


def test_complete_stores_files_by_sha256_once(orch: Orchestrator, workdir: Path) -> None:
    """file_paths become artifacts; equal content is stored once."""
    (workdir / "a.txt").write_text("same")
    (workdir / "b.txt").write_text("same")
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    done = orch.complete_task(
        a.id,
        "done",
        file_paths=["a.txt", "b.txt"],
        artifact_type="code",
        next_action="review",
    )
    assert [x.name for x in done.artifacts] == ["a.txt", "b.txt"]
    assert done.artifacts[0].sha256 == done.artifacts[1].sha256
    assert done.artifacts[0].artifact_type == "code"
    assert orch.read_artifact(done.artifacts[0].sha256) == b"same"
    assert (done.status, done.next_action, done.lease_owner) == ("completed", "review", None)


def test_complete_refuses_missing_file_and_changes_nothing(orch: Orchestrator) -> None:
    """An unreadable file path is refused before anything is written."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    with pytest.raises(UsageError, match="cannot read file"):
        orch.complete_task(a.id, "done", file_paths=["missing.txt"])
    assert orch.get_task(a.id).status == TaskStatus.IN_PROGRESS


def test_complete_by_other_worker_with_live_lease_is_refused(orch: Orchestrator) -> None:
    """A worker that names itself cannot complete another's leased task."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="w1")
    with pytest.raises(LeaseConflict):
        orch.complete_task(a.id, "done", worker="w2")


def test_fail_then_retry(orch: Orchestrator) -> None:
    """A failed task records the error and can be set pending and run again."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    failed = orch.fail_task(a.id, "boom")
    assert (failed.status, failed.error) == ("failed", "boom")
    orch.update_task(a.id, status="pending")
    assert orch.execute_task(a.id).task.attempts == 2


def test_read_unknown_artifact_is_not_found(orch: Orchestrator) -> None:
    """An unknown sha256 is NotFound."""
    with pytest.raises(NotFound):
        orch.read_artifact("0" * 64)


def test_synthesize_results_combines_children(orch: Orchestrator) -> None:
    """The report names every child and is stored as the parent's artifact."""
    p = orch.plan_task("Release 1.0")
    c1 = orch.plan_task("Notes", parent_task_id=p.id)
    orch.plan_task("Tag", parent_task_id=p.id)
    orch.execute_task(c1.id)
    orch.complete_task(c1.id, "notes ready", detailed_work="All the notes")
    result = orch.synthesize_results(p.id)
    assert result.counts == {"completed": 1, "pending": 1}
    assert "notes ready" in result.report
    assert "## Still open" in result.report
    assert orch.read_artifact(result.artifact.sha256).decode() == result.report
    assert orch.get_task(p.id).artifacts[0].name == "synthesis.md"


def test_synthesize_without_children_is_refused(orch: Orchestrator) -> None:
    """A task without subtasks has nothing to synthesize."""
    a = orch.plan_task("a")
    with pytest.raises(UsageError, match="no subtasks"):
        orch.synthesize_results(a.id)


def test_list_artifacts_newest_first(orch: Orchestrator) -> None:
    """list_artifacts returns the session's artifacts, newest first."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "done", artifacts=[ArtifactInput("x", b"1"), ArtifactInput("y", b"2")])
    assert [x.name for x in orch.list_artifacts()] == ["y", "x"]
    assert [x.name for x in orch.list_artifacts(task_id=a.id, limit=1)] == ["y"]


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../outside.txt", "link-out", ".castoff/SESSION.md"]
)
def test_complete_refuses_files_outside_the_working_directory(
    orch: Orchestrator, workdir: Path, bad: str
) -> None:
    """Absolute paths, `..`, symlinks out and castoff's own state are refused; nothing stored."""
    (workdir.parent / "outside.txt").write_text("secret")
    (workdir / "link-out").symlink_to(workdir.parent / "outside.txt")
    orch.plan_task("doc")
    orch.maintenance_coordinator("update_documentation")  # writes .castoff/SESSION.md
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    with pytest.raises(UsageError, match=r"outside the working directory|castoff's own state"):
        orch.complete_task(a.id, "done", file_paths=[bad])
    after = orch.get_task(a.id)
    assert (after.status, after.artifacts) == (TaskStatus.IN_PROGRESS, [])
    assert orch.list_artifacts() == []


def test_complete_accepts_links_and_dotdots_that_stay_inside(
    orch: Orchestrator, workdir: Path
) -> None:
    """A path that resolves inside the working directory is stored under its relative path."""
    (workdir / "docs").mkdir()
    (workdir / "docs" / "NOTES.md").write_text("notes")
    (workdir / "notes-link").symlink_to(workdir / "docs" / "NOTES.md")
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    done = orch.complete_task(
        a.id, "done", file_paths=["docs/../docs/NOTES.md", str(workdir / "notes-link")]
    )
    assert [x.path for x in done.artifacts] == ["docs/NOTES.md", "docs/NOTES.md"]


def test_complete_and_fail_check_the_lease_holder_by_default(orch: Orchestrator) -> None:
    """Without a worker, completion is as this orchestrator's own identity (lease checked)."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="alice")
    with pytest.raises(LeaseConflict, match="leased by alice"):
        orch.complete_task(a.id, "done")
    with pytest.raises(LeaseConflict, match="leased by alice"):
        orch.fail_task(a.id, "boom")
    assert orch.get_task(a.id).status == TaskStatus.IN_PROGRESS
    assert orch.complete_task(a.id, "done", worker="alice").status == TaskStatus.COMPLETED


def test_expired_lease_can_be_completed_by_anyone(orch: Orchestrator) -> None:
    """Once the holder's lease expired, another worker may finish the task."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="alice")
    _expire_lease(orch, a.id)
    assert orch.complete_task(a.id, "done").status == TaskStatus.COMPLETED


def test_claim_and_complete_from_two_processes_of_one_user(
    orch: Orchestrator, db_url: str, workdir: Path
) -> None:
    """The default holder <actor>@<host> outlives its process: a later CLI run completes."""
    a = orch.plan_task("a")
    with Orchestrator.open(workdir, database_url=db_url, actor="cli") as first:
        first.execute_task(a.id)
    with Orchestrator.open(workdir, database_url=db_url, actor="cli") as second:
        assert second.complete_task(a.id, "done").status == TaskStatus.COMPLETED


def test_execute_again_renews_the_holders_lease(orch: Orchestrator) -> None:
    """Executing a task you hold moves its expiry, counts no new attempt and records it."""
    a = orch.plan_task("a")
    first = orch.execute_task(a.id, lease_seconds=5).task
    again = orch.execute_task(a.id, lease_seconds=900).task
    assert first.lease_expires_at is not None
    assert again.lease_expires_at is not None
    assert again.lease_expires_at > first.lease_expires_at
    assert (again.attempts, again.lease_owner) == (1, orch.worker)
    assert [e.kind for e in orch.events(task_id=a.id, limit=2)] == [
        "task.lease_renewed",
        "task.in_progress",
    ]


def test_execute_task_refuses_bad_lease_seconds(orch: Orchestrator) -> None:
    """lease_seconds must be a positive whole number."""
    a = orch.plan_task("a")
    with pytest.raises(UsageError, match="lease_seconds"):
        orch.execute_task(a.id, lease_seconds=0)


def test_read_artifact_only_of_this_session(
    orch: Orchestrator, db_url: str, tmp_path: Path
) -> None:
    """Content stored by another session is not readable by its sha256 from this one."""
    other = tmp_path / "other"
    other.mkdir()
    with Orchestrator.open(other, database_url=db_url, actor="test") as o2:
        t = o2.plan_task("t")
        o2.execute_task(t.id)
        sha = o2.complete_task(t.id, "ok", artifacts=[ArtifactInput("x", b"theirs")]).artifacts[0]
        assert o2.read_artifact(sha.sha256) == b"theirs"
    with pytest.raises(NotFound):
        orch.read_artifact(sha.sha256)


def test_a_lease_of_a_killed_unreaped_worker_is_reclaimed_at_once(
    orch: Orchestrator, db_url: str, workdir: Path
) -> None:
    """A process-bound holder killed with SIGKILL but not yet reaped (a zombie) counts as gone."""
    import signal
    import subprocess
    import sys
    import textwrap

    a = orch.plan_task("a")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from castoff.orchestrator.service import Orchestrator
        with Orchestrator.open(Path({str(workdir)!r}), database_url={db_url!r},
                               actor="runner", process_bound=True) as o:
            o.execute_task({a.id!r})
            print(o.worker, flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        holder = child.stdout.readline().strip()
        assert orch.get_task(a.id).lease_owner == holder
        child.send_signal(signal.SIGKILL)
        for _ in range(200):
            if orch.reclaim_dead_workers() == [a.id]:
                break
            time.sleep(0.01)
        assert orch.get_task(a.id).status == TaskStatus.PENDING
    finally:
        child.wait()


def test_complete_and_claim_does_both_in_one_transaction(orch: Orchestrator) -> None:
    """The first task is completed and the next claimed by the same worker, with the
    events complete_task and execute_task write."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    orch.execute_task(a.id, worker="w")
    done, claimed = orch.complete_and_claim(
        a.id,
        "a done",
        next_task_id=b.id,
        worker="w",
        artifacts=[ArtifactInput("out.txt", "x")],
    )
    assert done.status == "completed"
    assert [x.name for x in done.artifacts] == ["out.txt"]
    assert claimed is not None
    assert (claimed.status, claimed.lease_owner, claimed.attempts) == ("in_progress", "w", 1)
    assert claimed.dependencies == [a.id]
    kinds = [(e.kind, e.task_id) for e in reversed(orch.events(limit=2))]
    assert kinds == [("task.completed", a.id), ("task.in_progress", b.id)]
    started = orch.events(task_id=b.id, kind="task.in_progress")[0]
    assert started.data == {"worker": "w", "attempt": 1, "from": "pending"}
    assert orch.get_task(b.id).status == "in_progress"


def test_complete_and_claim_keeps_the_completion_when_the_next_cannot_start(
    orch: Orchestrator,
) -> None:
    """A next task still waiting on another dependency is left alone (None)."""
    a = orch.plan_task("a")
    other = orch.plan_task("other")
    b = orch.plan_task("b", dependencies=[a.id, other.id])
    orch.execute_task(a.id)
    done, claimed = orch.complete_and_claim(a.id, "ok", next_task_id=b.id)
    assert (done.status, claimed) == ("completed", None)
    assert orch.get_task(b.id).status == "pending"
    assert orch.events(task_id=b.id, kind="task.in_progress") == []


def test_complete_and_claim_refused_completion_writes_nothing(orch: Orchestrator) -> None:
    """Completing a task another worker holds is refused; the next one is not claimed."""
    a = orch.plan_task("a")
    b = orch.plan_task("b")
    orch.execute_task(a.id, worker="alice")
    with pytest.raises(LeaseConflict):
        orch.complete_and_claim(a.id, "ok", next_task_id=b.id, worker="bob")
    assert orch.get_task(a.id).status == "in_progress"
    assert orch.get_task(b.id).status == "pending"


def test_artifacts_small_and_large_and_older_files_read_back(orch: Orchestrator) -> None:
    """A small artifact (in the table), a large one (a file on SQLite) and one an older
    castoff kept as a file all read back by sha256; find_artifact names each."""
    from castoff.store.artifacts import INLINE_LIMIT, sha256_of

    a = orch.plan_task("a")
    orch.execute_task(a.id)
    large = b"x" * (INLINE_LIMIT + 10)
    done = orch.complete_task(
        a.id,
        "ok",
        artifacts=[ArtifactInput("small.md", "small"), ArtifactInput("big.bin", large)],
    )
    small_sha, large_sha = (x.sha256 for x in done.artifacts)
    assert orch.read_artifact(small_sha) == b"small"
    assert orch.read_artifact(large_sha) == large
    assert orch.find_artifact(large_sha).name == "big.bin"
    if orch.blobs.directory is not None:  # SQLite: content of an older castoff is a file
        old = b"written by castoff before 0003"
        sha = sha256_of(old)
        path = orch.blobs.path_for(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(old)
        b = orch.plan_task("b")
        from castoff.store import artifacts as artifact_store

        now = orch.now()
        orch.db.write(
            lambda conn: artifact_store.insert_artifacts(
                conn,
                [
                    {
                        "task_id": b.id,
                        "session_id": orch.session_id,
                        "name": "old.md",
                        "path": None,
                        "artifact_type": "documentation",
                        "sha256": sha,
                        "size": len(old),
                        "created_at": now,
                    }
                ],
            )
        )
        assert orch.read_artifact(sha) == old
        assert orch.find_artifact(sha).name == "old.md"
        found = orch.maintenance_coordinator("validate_structure", validation_level="full")
        assert found.findings == []


def test_find_artifact_of_another_session_is_not_found(orch: Orchestrator) -> None:
    """find_artifact looks only at this session's artifacts."""
    with pytest.raises(NotFound):
        orch.find_artifact("0" * 64)
