"""Outcomes and exit codes of `castoff release prepare | resume`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from workflow_sample import (
    TAG,
    assert_released_once,
    castoff,
    castoff_json,
    git,
    prepare,
    release_tasks,
    resume,
    set_config,
)

from castoff.demo import build_sample_repository


def test_without_tty_or_yes_stops_before_tagging(light_repo: Path) -> None:
    """No TTY, no --yes: partial, exit 4, a clear message, everything but the tag done."""
    run = prepare(light_repo)
    assert run.code == 4, run.stderr
    assert run.data["outcome"] == "partial"
    assert f"stopped before tagging {TAG}" in run.data["message"]
    assert "castoff release resume --yes" in run.data["message"]
    assert run.data["remaining"] == ["tag"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"


def test_resume_yes_finishes_a_stopped_release(light_repo: Path) -> None:
    """`release resume --yes` after the stop tags once and completes the root."""
    first = prepare(light_repo)
    assert first.code == 4
    run = resume(light_repo, "--yes")
    assert run.code == 0, run.stderr
    assert run.data["outcome"] == "released"
    assert run.data["root_task_id"] == first.data["root_task_id"]
    assert_released_once(light_repo)


def test_prepare_again_resumes_the_open_release(light_repo: Path) -> None:
    """Running prepare again continues the same release instead of planning another."""
    first = prepare(light_repo)
    again = prepare(light_repo)
    assert again.code == 4
    assert again.data["root_task_id"] == first.data["root_task_id"]
    done = prepare(light_repo, "--yes")
    assert done.code == 0
    assert done.data["root_task_id"] == first.data["root_task_id"]
    assert_released_once(light_repo)


def test_resume_without_a_release_is_bad_input(light_repo: Path) -> None:
    """`release resume` with nothing in progress says so, exit 2."""
    out = castoff("release", "resume", "--yes", "-C", str(light_repo))
    assert out.returncode == 2
    assert "no release in progress" in out.stderr


def test_nothing_to_release_after_only_chores(light_repo: Path) -> None:
    """Only docs/chore commits since the last tag: nothing_to_release, exit 0, said plainly."""
    git(light_repo, "tag", "-a", "v1.1.0", "-m", "1.1.0")
    (light_repo / "docs" / "more.md").write_text("more\n")
    git(light_repo, "add", "-A")
    git(light_repo, "commit", "-q", "-m", "docs: more words")
    git(light_repo, "commit", "-q", "--allow-empty", "-m", "chore: tidy")
    run = prepare(light_repo, "--yes")
    assert run.code == 0, run.stderr
    assert run.data["outcome"] == "nothing_to_release"
    assert run.data["message"].startswith("nothing to release")
    assert run.data["steps"] == []
    assert git(light_repo, "tag", "--list").split() == ["v1.0.0", "v1.1.0"]


def test_failing_tests_fail_validate_then_resume_retries(light_repo: Path) -> None:
    """A failing test_command fails validate (exit 1); fixed by env, resume retries it."""
    set_config(
        light_repo,
        'test_command = "python -m unittest discover -s tests -q"',
        'test_command = "test -n \\"$SKYLINE_TESTS_OK\\""',
    )
    run = prepare(light_repo, "--yes")
    assert run.code == 1, run.stderr
    assert run.data["outcome"] == "failed"
    assert "pre-flight failed: tests" in run.data["message"]
    # the failed check's reason and remedy are in the message, not only its id
    assert (
        'tests (`test -n "$SKYLINE_TESTS_OK"` exited with 1; fix: run the test'
        in (run.data["message"])
    )
    state = release_tasks(light_repo)
    assert state.steps["validate"].status == "failed"
    assert state.steps["tag"].status == "pending"
    assert git(light_repo, "tag", "--list") == "v1.0.0"
    status = castoff_json("release", "status", "-C", str(light_repo))
    assert status.data["outcome"] == "failed"
    assert "failed at Pre-flight validation: pre-flight failed: tests" in status.data["message"]

    done = resume(light_repo, "--yes", env={"SKYLINE_TESTS_OK": "1"})
    assert done.code == 0, done.stderr
    assert done.data["outcome"] == "released"
    state = assert_released_once(light_repo)
    assert state.steps["validate"].attempts == 2
    assert state.steps["release_commit"].attempts == 1


def test_tag_on_another_commit_is_a_conflict(light_repo: Path) -> None:
    """The tag already on another commit: outcome conflict, exit 3, the tag untouched."""
    assert prepare(light_repo).code == 4
    git(light_repo, "tag", "-a", TAG, "-m", "someone else", "HEAD~1")
    elsewhere = git(light_repo, "rev-parse", f"{TAG}^{{commit}}")
    run = resume(light_repo, "--yes")
    assert run.code == 3, run.stderr
    assert run.data["outcome"] == "conflict"
    assert "already exists" in run.data["message"]
    assert git(light_repo, "rev-parse", f"{TAG}^{{commit}}") == elsewhere
    assert release_tasks(light_repo).steps["tag"].status == "failed"


def _snapshot(repo: Path) -> dict[str, str]:
    """sha256 of every file under ``repo`` (``.git`` included: refs, index, config)."""
    return {
        str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file()
    }


def test_dry_run_writes_nothing_and_shows_the_diff(light_repo: Path) -> None:
    """--dry-run: every file (and .git) byte-identical, no .castoff store, the diff shown."""
    git(light_repo, "status")  # refresh the index's stat data first (a copied repository)
    before = _snapshot(light_repo)
    run = prepare(light_repo, "--dry-run", env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert run.code == 0, (run.data, run.stderr)
    assert run.data["outcome"] == "dry_run"
    assert _snapshot(light_repo) == before
    assert not (light_repo / ".castoff").exists()
    assert git(light_repo, "status", "--porcelain", "--ignored") == ""
    diff = run.data["diff"]
    assert '-version = "1.0.0"  # bumped by castoff' in diff
    assert '+version = "2.0.0"  # bumped by castoff' in diff
    assert '+__version__ = "2.0.0"' in diff
    assert "+## [2.0.0]" in diff


def test_dry_run_on_the_full_demo_configuration(tmp_path: Path) -> None:
    """The demo's own configuration dry-runs clean (exit 0) and prints the would-be diff."""
    repo = build_sample_repository(tmp_path / "skyline")
    head = git(repo, "rev-parse", "HEAD")
    out = castoff("release", "prepare", "--dry-run", "-C", str(repo))
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr)
    assert "dry run complete: nothing was written" in out.stdout
    assert "The release commit would change:" in out.stdout
    assert '+version = "2.0.0"' in out.stdout
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_prepare_again_refuses_options_the_release_lacks(light_repo: Path) -> None:
    """Rerunning prepare with --push on a release planned without it: exit 2, not a silent skip."""
    assert prepare(light_repo).code == 4
    out = castoff("release", "prepare", "--push", "--yes", "-C", str(light_repo))
    assert out.returncode == 2
    assert "planned without --push" in out.stderr
    assert git(light_repo, "tag", "--list") == "v1.0.0"


def test_a_second_run_at_once_is_refused(light_repo: Path) -> None:
    """While a run holds .castoff/release.lock, prepare and resume exit 3 and plan nothing."""
    import fcntl

    lock = light_repo / ".castoff" / "release.lock"
    lock.parent.mkdir()
    with lock.open("w") as held:
        held.write("pid 4242\n")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        out = castoff("release", "prepare", "--yes", "-C", str(light_repo))
        again = castoff("release", "resume", "--yes", "-C", str(light_repo))
    assert out.returncode == 3
    assert "another castoff release run is in progress here (pid 4242)" in out.stderr
    assert again.returncode == 3
    assert git(light_repo, "log", "--grep", "chore(release)", "--oneline") == ""
    assert prepare(light_repo, "--yes").code == 0


def test_failed_dry_run_does_not_offer_a_resume(light_repo: Path) -> None:
    """A dry run whose tests fail: exit 1, and the advice is to dry-run again (no store kept)."""
    set_config(
        light_repo,
        'test_command = "python -m unittest discover -s tests -q"',
        'test_command = "false"',
    )
    run = prepare(light_repo, "--dry-run")
    assert run.code == 1, run.stderr
    assert run.data["outcome"] == "failed"
    assert run.data["message"].startswith("dry run of release v2.0.0 failed: pre-flight failed")
    assert run.data["next_action"] == "fix the cause, then run the dry run again"
    assert not (light_repo / ".castoff").exists()
