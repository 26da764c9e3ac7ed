"""`castoff rollback plan | run` through the real entry point, including a SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_rollback_scenario import castoff_toml, released_project, three_releases

from castoff.orchestrator.service import Orchestrator
from castoff.release.rollback.plan import TRAILER
from castoff.release.rollback.verify import WORKTREE_PREFIX


def with_origin(repo: Any, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")


def test_plan_json_lists_risks_and_steps(make_repo: Any, run_castoff: Any) -> None:
    """`rollback plan --json` plans the latest release back to the one before."""
    repo = released_project(make_repo)
    proc = run_castoff("rollback", "plan", "--json", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["new_tag"], data["previous_tag"]) == ("v1.1.0", "v1.0.0")
    assert {r["kind"] for r in data["risks"]} == {"migration", "lockfile", "breaking_change"}
    assert data["verified"] is False


def test_plan_verify_passes_and_prints_markdown(make_repo: Any, run_castoff: Any) -> None:
    """`rollback plan --verify` builds the target and reports it in the Markdown."""
    repo = released_project(make_repo)
    proc = run_castoff("rollback", "plan", "--verify", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "# Rollback plan: shipit v1.1.0 → v1.0.0" in proc.stdout
    assert "- Status: **passed**" in proc.stdout


def test_plan_verify_failure_exits_1(make_repo: Any, run_castoff: Any) -> None:
    """An unbuildable target makes `plan --verify` exit 1 with one stderr line."""
    repo = released_project(make_repo, broken_v1=True)
    proc = run_castoff("rollback", "plan", "--verify", "--json", cwd=repo.path)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["verification"]["status"] == "failed"
    assert (
        proc.stderr.strip()
        == "castoff: rollback verification failed: build of v1.0.0 exited with 1"
    )


def test_plan_for_a_first_release_says_so(make_repo: Any, run_castoff: Any) -> None:
    """Planning the first release is not an error: the plan says there is no previous one."""
    repo = make_repo()
    repo.commit("feat: first", {"castoff.toml": castoff_toml()})
    proc = run_castoff("rollback", "plan", "--version", "1.0.0", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "No previous release" in proc.stdout


def test_unknown_tag_exits_2(make_repo: Any, run_castoff: Any) -> None:
    """`--to` naming no tag exits 2 with a one-line message."""
    repo = released_project(make_repo)
    for args in (("plan", "--to", "v0.1.0"), ("run", "--to", "v0.1.0")):
        proc = run_castoff("rollback", *args, cwd=repo.path)
        assert proc.returncode == 2
        assert proc.stderr.strip() == "castoff: unknown tag: v0.1.0"


def test_dirty_tree_exits_3_and_changes_nothing(make_repo: Any, run_castoff: Any) -> None:
    """`run --yes` on a dirty tree exits 3; tags and history are untouched."""
    repo = released_project(make_repo)
    head = repo.head()
    repo.write("README.md", "local edit\n")
    proc = run_castoff("rollback", "run", "--to", "v1.0.0", "--yes", cwd=repo.path)
    assert proc.returncode == 3
    assert "uncommitted changes" in proc.stderr
    assert repo.head() == head
    assert "v1.1.0" in repo.git("tag")


def test_run_dry_run_prints_steps_without_a_store(make_repo: Any, run_castoff: Any) -> None:
    """Without --yes nothing is written, not even the state directory."""
    repo = released_project(make_repo)
    proc = run_castoff("rollback", "run", "--to", "v1.0.0", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "$ git tag -d v1.1.0" in proc.stdout
    assert "pass --yes to run them" in proc.stdout
    assert not (repo.path / ".castoff").exists()


def test_run_push_removes_the_tag_on_a_bare_origin(
    make_repo: Any, run_castoff: Any, tmp_path: Path
) -> None:
    """`run --yes --push` deletes the tag on the local bare origin."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    proc = run_castoff(
        "rollback", "run", "--to", "v1.0.0", "--yes", "--push", "--json", cwd=repo.path
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    assert "v1.1.0" not in repo.git("ls-remote", "--tags", "origin")
    assert "v1.1.0" not in repo.git("tag")


def _run_until_paused(repo: Any, step: int) -> subprocess.Popen[str]:
    env = {**os.environ, "CASTOFF_TEST_PAUSE_AFTER_STEP": str(step)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "castoff", "rollback", "run", "--to", "v1.0.0", "--yes", "--push"],
        cwd=repo.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if f"paused after rollback step {step}" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the run never paused at step {step}")


def test_killed_mid_run_resumes_without_doing_a_step_twice(
    make_repo: Any, run_castoff: Any, tmp_path: Path
) -> None:
    """SIGKILL after the revert (before it is recorded), rerun: finishes, one revert, tag gone."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    proc = _run_until_paused(repo, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert len(repo.git("log", "-F", f"--grep={TRAILER}:", "--format=%H").split()) == 1

    again = run_castoff(
        "rollback", "run", "--to", "v1.0.0", "--yes", "--push", "--json", cwd=repo.path
    )
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["status"] == "completed"
    assert data["resumed"] is True
    statuses = {s["key"]: s["status"] for s in data["steps"]}
    assert statuses["git.delete-local-tag"] == "completed_before"
    assert statuses["git.revert-release"] == "already_done"
    assert len(repo.git("log", "-F", f"--grep={TRAILER}:", "--format=%H").split()) == 1
    assert "v1.1.0" not in repo.git("ls-remote", "--tags", "origin")
    with Orchestrator.open(repo.path) as orch:
        events = orch.events(kind="rollback.step")
    performed = [e.data["step"] for e in events if e.data["result"] == "done"]
    assert len(performed) == len(set(performed)) == 4


def test_crash_inside_the_revert_is_undone_and_redone(
    make_repo: Any, run_castoff: Any, tmp_path: Path
) -> None:
    """A half-done `git revert --no-commit` left by a killed run is aborted and redone once."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    proc = _run_until_paused(repo, 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    repo.git("revert", "--no-commit", repo.git("rev-parse", "v1.0.0..main").split()[0])
    assert repo.git("status", "--porcelain", "--untracked-files=no")

    again = run_castoff("rollback", "run", "--to", "v1.0.0", "--yes", "--push", cwd=repo.path)
    assert again.returncode == 0, again.stderr
    assert "undoing the revert an interrupted run left half-done" in again.stderr
    assert len(repo.git("log", "-F", f"--grep={TRAILER}:", "--format=%H").split()) == 1


def test_plan_to_the_release_itself_exits_2(make_repo: Any, run_castoff: Any) -> None:
    """`plan --to` the release being rolled back is refused: no v1.1.0 → v1.1.0 plan."""
    repo = released_project(make_repo)
    proc = run_castoff("rollback", "plan", "--to", "v1.1.0", cwd=repo.path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "castoff: --to v1.1.0 is the release being rolled back; "
        "pick an older release tag to go back to"
    )
    assert proc.stdout == ""


def test_plan_is_stored_with_its_derived_flags(make_repo: Any, run_castoff: Any) -> None:
    """`rollback plan` stores rollback-plan-<tag>.md/.json under .castoff/rollback."""
    repo = released_project(make_repo)
    proc = run_castoff("rollback", "plan", "--json", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    folder = repo.path / ".castoff" / "rollback"
    assert printed["artifacts"] == [
        str(folder / "rollback-plan-v1.1.0.md"),
        str(folder / "rollback-plan-v1.1.0.json"),
    ]
    stored = json.loads((folder / "rollback-plan-v1.1.0.json").read_text())
    assert stored == printed
    assert (stored["first_release"], stored["verified"], stored["highest_severity"]) == (
        False,
        False,
        "high",
    )
    assert (folder / "rollback-plan-v1.1.0.md").read_text().startswith("# Rollback plan")
    assert repo.git("status", "--porcelain") == ""


def test_run_several_releases_back_lists_every_release(make_repo: Any, run_castoff: Any) -> None:
    """A dry run two releases back shows both tags deleted and both release commits reverted."""
    repo = three_releases(make_repo)
    proc = run_castoff("rollback", "run", "--to", "v1.0.0", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    for line in ("$ git tag -d v1.2.0", "$ git tag -d v1.1.0", "[git] Revert the release commit"):
        assert line in proc.stdout
    assert "Dry run: the steps to roll back v1.2.0 to v1.0.0" in proc.stdout


def test_killed_while_undoing_an_intermediate_release_resumes(
    make_repo: Any, run_castoff: Any, tmp_path: Path
) -> None:
    """SIGKILL after reverting v1.1.0's release commit (step 4), rerun: each revert once."""
    repo = three_releases(make_repo)
    with_origin(repo, tmp_path)
    proc = _run_until_paused(repo, 4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    again = run_castoff(
        "rollback", "run", "--to", "v1.0.0", "--yes", "--push", "--json", cwd=repo.path
    )
    assert again.returncode == 0, again.stderr
    statuses = {s["key"]: s["status"] for s in json.loads(again.stdout)["steps"]}
    assert statuses["git.revert-release.v1.1.0"] == "already_done"
    assert len(repo.git("log", "-F", f"--grep={TRAILER}:", "--format=%H").split()) == 2
    assert repo.git("tag").split() == ["v1.0.0"]


def test_plan_verify_first_removes_a_crashed_verification(
    make_repo: Any, run_castoff: Any, tmp_path: Path
) -> None:
    """Leftovers of a killed verification are cleaned before `plan --verify` builds again."""
    repo = released_project(make_repo)
    stale = tmp_path / f"{WORKTREE_PREFIX}crashed"
    repo.git(
        "worktree", "add", "--detach", "--lock", "--reason",
        "castoff rollback verify pid=999999999", str(stale), "v1.0.0",
    )  # fmt: skip
    proc = run_castoff("rollback", "plan", "--verify", "--json", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert str(stale) not in repo.git("worktree", "list")
