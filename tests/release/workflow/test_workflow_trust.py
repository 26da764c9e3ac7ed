"""Only the release runner's own results count; HEAD after the release commit; the tag up front."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from workflow_sample import (
    TAG,
    castoff,
    castoff_json,
    events,
    git,
    prepare,
    release_tasks,
    resume,
    set_config,
)

from castoff.orchestrator.service import Orchestrator

FAILING = 'test_command = "test -n \\"$SKYLINE_TESTS_OK\\""'
PASSING = 'test_command = "python -m unittest discover -s tests -q"'


def _fail_tests(repo: Path) -> None:
    set_config(repo, PASSING, FAILING, "chore: tests need SKYLINE_TESTS_OK")


def _by_hand(repo: Path, task_id: str, *, reopen: bool = False) -> None:
    """Complete a task through the generic orchestrator commands, as a person could."""
    where = ("-C", str(repo))
    if reopen:
        out = castoff("orchestrator", "update-task", task_id, "--status", "pending", *where)
        assert out.returncode == 0, out.stderr
    out = castoff("orchestrator", "execute-task", task_id, *where)
    assert out.returncode == 0, out.stderr
    out = castoff("orchestrator", "complete-task", task_id, "--summary", "trust me", *where)
    assert out.returncode == 0, out.stderr


def _kinds(repo: Path, task_id: str) -> list[str]:
    return [e.kind for e in events(repo, task_id)]


def test_validation_completed_by_hand_is_run_again(light_repo: Path) -> None:
    """A failed validation completed by hand is not trusted: resume re-runs it, no tag."""
    _fail_tests(light_repo)
    assert prepare(light_repo, "--yes").code == 1
    state = release_tasks(light_repo)
    forged = state.steps["validate"].id
    _by_hand(light_repo, forged, reopen=True)
    assert release_tasks(light_repo).steps["validate"].status == "completed"

    run = resume(light_repo, "--yes")
    assert run.code == 1, (run.data.get("message"), run.stderr)
    assert "pre-flight failed: tests" in run.data["message"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"
    state = release_tasks(light_repo)
    assert forged in {t.id for t in state.archived}
    assert state.steps["validate"].id != forged
    assert state.steps["validate"].status == "failed"
    reopened = [e for e in events(light_repo, state.root.id) if e.kind == "release.step_reopened"]
    assert [e.data["replaced"] for e in reopened] == [forged]
    assert "by cli" in reopened[0].data["reason"]


def test_tag_completed_by_hand_is_tagged_for_real(light_repo: Path) -> None:
    """The tag step completed by hand: resume does not say "released" without a tag; it tags."""
    assert prepare(light_repo).code == 4
    forged = release_tasks(light_repo).steps["tag"].id
    _by_hand(light_repo, forged)

    stopped = resume(light_repo)
    assert stopped.code == 4, stopped.data.get("message")
    assert stopped.data["outcome"] == "partial"
    assert "stopped before tagging" in stopped.data["message"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"

    done = resume(light_repo, "--yes")
    assert done.code == 0, (done.data.get("message"), done.stderr)
    assert done.data["outcome"] == "released"
    head = git(light_repo, "rev-parse", "HEAD")
    assert git(light_repo, "rev-parse", f"{TAG}^{{commit}}") == head
    state = release_tasks(light_repo)
    assert forged in {t.id for t in state.archived}
    assert state.steps["tag"].summary == f"tagged {TAG} at {head[:12]}"


def test_a_deleted_tag_is_made_again_before_released(light_repo: Path) -> None:
    """The tag step done but the tag gone (deleted before the report): resume tags again."""
    assert prepare(light_repo, "--yes").code == 0
    with Orchestrator.open(light_repo, actor="test") as orch:  # reopen the finished release
        root = release_tasks(light_repo).root
        orch.db.write(
            lambda conn: conn.exec_driver_sql(
                "UPDATE tasks SET status = 'pending', completed_at = NULL WHERE id = ?",
                (root.id,),
            )
        )
    git(light_repo, "tag", "-d", TAG)
    run = resume(light_repo, "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert git(light_repo, "tag", "--list").split() == ["v1.0.0", TAG]
    reasons = [
        e.data["reason"] for e in events(light_repo, root.id) if e.kind == "release.step_reopened"
    ]
    assert reasons == [f"tag {TAG} does not exist: the tag step runs again"]


def test_fix_committed_after_a_failed_check_is_validated_and_tagged(light_repo: Path) -> None:
    """The advised path: fix, commit on top, resume --yes → checked on the fix and tagged."""
    _fail_tests(light_repo)
    first = prepare(light_repo, "--yes")
    assert first.code == 1
    assert "castoff release resume" in first.data["next_action"]
    release_commit = git(light_repo, "rev-parse", "HEAD")
    set_config(light_repo, FAILING, PASSING, "fix: the tests pass again")
    fix = git(light_repo, "rev-parse", "HEAD")

    run = resume(light_repo, "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert run.data["outcome"] == "released"
    assert git(light_repo, "rev-parse", f"{TAG}^{{commit}}") == fix
    assert git(light_repo, "log", "--format=%H", "--grep", "chore(release)") == release_commit
    state = release_tasks(light_repo)
    assert state.steps["tag"].summary == f"tagged {TAG} at {fix[:12]}"
    assert state.steps["validate"].attempts == 2
    assert all(t.status == "completed" for t in state.steps.values())


def test_commit_after_validation_is_validated_before_tagging(light_repo: Path) -> None:
    """A commit on top of the validated release commit: validated again, then it is tagged."""
    assert prepare(light_repo).code == 4
    (light_repo / "late.txt").write_text("late\n")
    git(light_repo, "add", "late.txt")
    git(light_repo, "commit", "-q", "-m", "fix: a late fix")
    late = git(light_repo, "rev-parse", "HEAD")
    run = resume(light_repo, "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert git(light_repo, "rev-parse", f"{TAG}^{{commit}}") == late
    state = release_tasks(light_repo)
    assert sorted(t.context["step"] for t in state.archived) == ["rollback", "validate"]  # type: ignore[index]
    assert all(t.status == "completed" for t in state.steps.values())
    moved = [e for e in events(light_repo, state.root.id) if e.kind == "release.head_moved"]
    assert moved[0].data["rerun"] == ["rollback", "validate"]


def test_rewritten_history_is_a_conflict_that_says_what_to_do(light_repo: Path) -> None:
    """HEAD not on top of the release commit: exit 3 and the exact way out, which works."""
    assert prepare(light_repo).code == 4
    release_commit = git(light_repo, "rev-parse", "HEAD")
    git(light_repo, "reset", "-q", "--hard", "HEAD~1")
    git(light_repo, "commit", "-q", "--allow-empty", "-m", "fix: rewritten")
    run = resume(light_repo, "--yes")
    assert run.code == 3, (run.data.get("message"), run.stderr)
    assert run.data["outcome"] == "conflict"
    root = run.data["root_task_id"]
    message = run.data["message"]
    assert f"not on top of the release commit {release_commit[:12]}" in message
    assert f"`git reset --hard {release_commit[:12]}`" in message
    assert f"`castoff orchestrator cancel-task {root}`" in message
    assert git(light_repo, "tag", "--list") == "v1.0.0"

    out = castoff("orchestrator", "cancel-task", root, "-C", str(light_repo))
    assert out.returncode == 0, out.stderr
    again = prepare(light_repo, "--yes")
    assert again.code == 0, (again.data.get("message"), again.stderr)
    assert again.data["root_task_id"] != root
    assert git(light_repo, "rev-parse", f"{TAG}^{{commit}}") == git(light_repo, "rev-parse", "HEAD")


def test_existing_tag_elsewhere_is_refused_before_anything_is_written(light_repo: Path) -> None:
    """The release tag already on another commit: exit 3 at once; no commit, no graph."""
    head = git(light_repo, "rev-parse", "HEAD")
    git(light_repo, "checkout", "-q", "-b", "elsewhere")
    git(light_repo, "commit", "-q", "--allow-empty", "-m", "chore: someone else's release")
    git(light_repo, "tag", "-a", TAG, "-m", "someone else")
    git(light_repo, "checkout", "-q", "main")
    out = castoff("release", "prepare", "--yes", "-C", str(light_repo))
    assert out.returncode == 3, out.stderr
    assert f"tag {TAG} already exists on commit" in out.stderr
    assert "Traceback" not in out.stderr
    assert git(light_repo, "rev-parse", "HEAD") == head
    assert git(light_repo, "status", "--porcelain") == ""
    with Orchestrator.open(light_repo, actor="test") as orch:
        assert orch.query_tasks().total == 0


def test_a_step_held_by_another_process_is_named(light_repo: Path) -> None:
    """A step under someone else's live lease: the outcome names holder and expiry."""
    assert prepare(light_repo).code == 4
    holder = f"release:{os.getpid()}@{socket.gethostname()}"  # alive: this test process
    tag = release_tasks(light_repo).steps["tag"]
    with Orchestrator.open(light_repo, actor="release") as orch:
        orch.execute_task(tag.id, worker=holder, lease_seconds=600)
    run = resume(light_repo, "--yes")
    assert run.code == 4, run.data
    message = run.data["message"]
    assert f"step 'Tag the release' is held by {holder} until " in message
    assert "(a running castoff?)" in message
    assert "waiting on" not in message
    assert "lease" in run.data["next_action"]
    status = castoff_json("release", "status", "-C", str(light_repo))
    assert f"held by {holder}" in status.data["message"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"
