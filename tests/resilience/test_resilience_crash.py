"""SIGKILL at every step boundary of a release, then resume: the end state is exact.

``CASTOFF_CRASH_AT=<step>:before|after|inside`` makes the runner kill its own
process (SIGKILL, no clean-up of any kind) just before the step is claimed,
after its executor ran but before ``complete_task``, or from the step's
progress callback while it works. Resuming must finish the release with one
release commit, one tag, one CHANGELOG section and one set of artifacts per step.
"""

from __future__ import annotations

import fcntl
import signal
from pathlib import Path

import pytest
from monorepo_sample import build_monorepo
from workflow_sample import (
    DEFAULT_STEPS,
    assert_released_once,
    castoff,
    git,
    prepare,
    release_tasks,
    resume,
)

BOUNDARIES = [f"{step}:{where}" for step in DEFAULT_STEPS for where in ("before", "after")]
BOUNDARIES += ["validate:inside", "rollback:inside"]


def _crash(repo: Path, point: str, env: dict[str, str] | None = None, *args: str) -> None:
    out = castoff(
        "release", "prepare", "--yes", "--json", "-C", str(repo), *args,
        env={**(env or {}), "CASTOFF_CRASH_AT": point},
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, (point, out.returncode, out.stderr[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize("point", BOUNDARIES)
def test_crash_then_resume_releases_exactly_once(light_repo: Path, point: str) -> None:
    """Killed at this boundary, `release resume --yes` finishes with nothing doubled."""
    _crash(light_repo, point)
    step, _, where = point.partition(":")
    state = release_tasks(light_repo)
    crashed = state.steps[step]
    assert crashed.status == ("pending" if where == "before" else "in_progress")
    run = resume(light_repo, "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr[-2000:])
    assert run.data["outcome"] == "released"
    state = assert_released_once(light_repo)
    assert state.steps[step].attempts == (1 if where == "before" else 2)


def test_crash_then_prepare_again_resumes(light_repo: Path) -> None:
    """After a crash, running prepare again (not resume) also finishes the same release."""
    _crash(light_repo, "release_commit:after")
    root = release_tasks(light_repo).root.id
    run = prepare(light_repo, "--yes")
    assert run.code == 0, run.stderr[-2000:]
    assert run.data["root_task_id"] == root
    assert_released_once(light_repo)


def test_scratch_left_by_a_killed_run_is_removed_by_the_next(
    light_repo: Path, tmp_path: Path
) -> None:
    """Killed inside validation: its castoff-validate-<pid>-* directory is removed on resume,
    and so is the rollback worktree of a run killed inside the rollback check."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    _crash(light_repo, "validate:inside", env)
    left = [p.name for p in scratch.iterdir() if p.name.startswith("castoff-validate-")]
    assert len(left) == 1, left
    assert (light_repo / ".castoff" / "release.lock").read_text().split()[0] == "pid"
    busy = scratch / "castoff-validate-1-busy"  # an owner still running keeps its directory
    busy.mkdir()
    with (busy / ".owner.lock").open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = resume(light_repo, "--yes", env=env)
        assert [p.name for p in scratch.iterdir()] == [busy.name]
    assert run.code == 0, (run.data.get("message"), run.stderr[-2000:])
    assert (light_repo / ".castoff" / "release.lock").read_text().split()[-1] == "finished"
    assert_released_once(light_repo)


@pytest.mark.parametrize("point", ["release_commit:after", "validate:inside", "tag:after"])
def test_package_release_killed_then_resumed_finishes_once(tmp_path: Path, point: str) -> None:
    """A monorepo package's release killed part-way: `release resume --package` finishes it
    with one release commit (packages/a only), one pkg-a tag and one CHANGELOG section."""
    repo = build_monorepo(tmp_path / "mono", light=True)
    start = git(repo, "rev-parse", "HEAD")
    _crash(repo, point, None, "--package", "pkg-a")
    step, _, where = point.partition(":")
    assert release_tasks(repo).steps[step].status == "in_progress"
    run = resume(repo, "--package", "pkg-a", "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr[-2000:])
    assert (run.data["outcome"], run.data["tag"]) == ("released", "pkg-a-v1.1.0")
    commits = git(repo, "rev-list", f"{start}..HEAD").split()
    assert len(commits) == 1
    assert git(repo, "rev-parse", "pkg-a-v1.1.0^{commit}") == commits[0]
    touched = git(repo, "show", "--format=", "--name-only", "HEAD").split()
    assert all(p.startswith("packages/a/") for p in touched), touched
    assert sorted(git(repo, "tag", "--list").split()) == [
        "pkg-a-v1.0.0",
        "pkg-a-v1.1.0",
        "pkg-b-v2.0.0",
    ]
    assert (repo / "packages/a/CHANGELOG.md").read_text().count("## [1.1.0]") == 1
    assert git(repo, "status", "--porcelain") == ""
    state = release_tasks(repo)
    assert all(t.status == "completed" for t in state.steps.values())
    assert state.steps[step].attempts == (1 if where == "before" else 2)
