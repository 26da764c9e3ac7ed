"""verify_plan: build the rollback target in a scratch worktree, then remove it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_rollback_scenario import castoff_toml, released_project

from castoff.config import load_config
from castoff.release import git
from castoff.release.rollback.repo import plan_rollback
from castoff.release.rollback.verify import (
    WORKTREE_PREFIX,
    cleanup_stale_worktrees,
    run_command,
    verify_plan,
)


def plan_and_verify(repo: Any, **kwargs: Any) -> Any:
    config = load_config(repo.path)
    plan = plan_rollback(
        repo.path, config, new_version="1.1.0", new_tag="v1.1.0", new_ref="v1.1.0", **kwargs
    )
    return verify_plan(repo.path, config, plan)


def worktrees(repo: Any) -> list[str]:
    out = repo.git("worktree", "list", "--porcelain")
    return [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("worktree ")]


def test_verification_passes_on_a_buildable_previous_tag(make_repo: Any) -> None:
    """The good v1.0.0 builds; the result records the command and its output."""
    repo = released_project(make_repo)
    ver = plan_and_verify(repo)
    assert ver.status == "passed"
    assert ver.ok
    assert ver.target_tag == "v1.0.0"
    assert ver.build is not None
    assert ver.build.exit_code == 0
    assert ver.build.output_tail == "built"


def test_verification_builds_the_target_not_the_current_tree(make_repo: Any) -> None:
    """The build runs on v1.0.0's files (v1.1.0's build.py prints something else)."""
    repo = released_project(make_repo)
    ver = plan_and_verify(repo)
    assert ver.build.output_tail != "built v2"


def test_verification_fails_on_an_unbuildable_previous_tag(make_repo: Any) -> None:
    """A target whose build exits non-zero fails verification, with the output kept."""
    repo = released_project(make_repo, broken_v1=True)
    ver = plan_and_verify(repo)
    assert ver.status == "failed"
    assert not ver.ok
    assert ver.build.exit_code == 1
    assert "cannot build: missing module" in ver.build.output_tail
    assert ver.error == "build of v1.0.0 exited with 1"


def test_worktree_is_removed_after_success_and_failure(make_repo: Any) -> None:
    """No scratch worktree remains, whatever the outcome."""
    good = released_project(make_repo, name="good")
    bad = released_project(make_repo, broken_v1=True, name="bad")
    plan_and_verify(good)
    plan_and_verify(bad)
    assert worktrees(good) == [str(good.path)]
    assert worktrees(bad) == [str(bad.path)]


def test_failing_test_command_fails_verification(make_repo: Any) -> None:
    """A configured test_command that fails makes the verification fail."""
    repo = released_project(make_repo)
    repo.write(
        "castoff.toml",
        castoff_toml(f'test_command = "{sys.executable} -c \\"raise SystemExit(3)\\""\n'),
    )
    ver = plan_and_verify(repo)
    assert ver.status == "failed"
    assert ver.test.exit_code == 3
    assert ver.error == "tests of v1.0.0 exited with 3"


def test_build_timeout_fails_and_kills_the_build(make_repo: Any) -> None:
    """A build exceeding verify_timeout is killed and reported as timed out."""
    repo = released_project(make_repo)
    slow = f'{sys.executable} -c \\"import time; time.sleep(30)\\"'
    repo.write("castoff.toml", f'[rollback]\nbuild_command = "{slow}"\nverify_timeout = 0.5\n')
    ver = plan_and_verify(repo)
    assert ver.status == "failed"
    assert ver.build.timed_out
    assert ver.build.duration_seconds < 10
    assert ver.error == "build of v1.0.0 timed out"


def test_a_python_target_without_build_command_is_built_as_preflight_builds(
    make_repo: Any,
) -> None:
    """No build_command: a Python target is built with ``python -m build --wheel``.

    ``[validate] build_isolation = false`` carries over (the test needs no index),
    and the wheel is built from the target's files in the scratch worktree, which
    goes with it.
    """
    repo = make_repo("pyproj")
    hatch = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "shipit"\nversion = "{v}"\n\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/shipit"]\n'
    )
    repo.commit(
        "chore: initial import",
        {
            "pyproject.toml": hatch.format(v="1.0.0"),
            "castoff.toml": "[validate]\nbuild_isolation = false\n",
            "src/shipit/__init__.py": "",
        },
    )
    repo.tag("v1.0.0")
    repo.commit("fix: a fix", {"src/shipit/fix.py": "X = 1\n"})
    repo.commit("chore(release): 1.1.0", {"pyproject.toml": hatch.format(v="1.1.0")})
    repo.tag("v1.1.0")
    ver = plan_and_verify(repo)
    assert ver.status == "passed", (ver.error, ver.build and ver.build.output_tail)
    assert ver.build is not None
    assert "-m build --wheel" in ver.build.command
    assert "--no-isolation" in ver.build.command
    assert "shipit-1.0.0-py" in ver.build.output_tail
    assert worktrees(repo) == [str(repo.path)]
    assert not list(repo.path.rglob("*.whl"))


def test_a_target_that_is_not_python_without_build_command_is_not_verified(
    make_repo: Any,
) -> None:
    """Nothing to build it with and no command: not verified, and the reason says so."""
    repo = make_repo("plain")
    repo.commit("chore: initial import", {"main.c": "int main(void) { return 0; }\n"})
    repo.tag("v1.0.0")
    repo.commit("feat: more", {"more.c": "int more(void) { return 1; }\n"})
    repo.tag("v1.1.0")
    ver = plan_and_verify(repo)
    assert ver.status == "failed"
    assert ver.error == (
        "no [rollback] build_command configured and v1.0.0 is not a Python project: "
        "nothing proves the target builds"
    )
    assert worktrees(repo) == [str(repo.path)]


def test_first_release_verification_is_not_applicable(make_repo: Any) -> None:
    """A first release has nothing to restore: not_applicable counts as ok."""
    repo = make_repo()
    repo.commit("feat: first", {"castoff.toml": castoff_toml()})
    config = load_config(repo.path)
    plan = plan_rollback(repo.path, config, new_version="1.0.0", new_tag="v1.0.0")
    ver = verify_plan(repo.path, config, plan)
    assert ver.status == "not_applicable"
    assert ver.ok


def test_plan_with_verification_reports_verified(make_repo: Any) -> None:
    """RollbackPlan.verified is what the release gate reads."""
    repo = released_project(make_repo)
    config = load_config(repo.path)
    plan = plan_rollback(repo.path, config, new_version="1.1.0", new_tag="v1.1.0", new_ref="v1.1.0")
    assert not plan.verified
    assert plan.with_verification(verify_plan(repo.path, config, plan)).verified


def _stale_worktree(repo: Any, tmp_path: Path, name: str, pid: int) -> Path:
    path = tmp_path / f"{WORKTREE_PREFIX}{name}"
    repo.git("worktree", "add", "--detach", "--lock", "--reason",
             f"castoff rollback verify pid={pid}", str(path), "v1.0.0")  # fmt: skip
    return path


def test_cleanup_removes_worktrees_of_dead_processes(make_repo: Any, tmp_path: Path) -> None:
    """A worktree left by a crashed verification is removed by maintenance."""
    repo = released_project(make_repo)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    path = _stale_worktree(repo, tmp_path, "crashed", int(dead.stdout))
    assert cleanup_stale_worktrees(repo.path) == [str(path)]
    assert not path.exists()
    assert worktrees(repo) == [str(repo.path)]


def test_cleanup_keeps_worktrees_of_running_verifications(make_repo: Any, tmp_path: Path) -> None:
    """A worktree whose owning process is alive is left alone; others' worktrees too."""
    repo = released_project(make_repo)
    live = _stale_worktree(repo, tmp_path, "running", os.getpid())
    other = tmp_path / "someone-elses"
    repo.git("worktree", "add", "--detach", str(other), "v1.0.0")
    assert cleanup_stale_worktrees(repo.path) == []
    assert live.exists()
    assert other.exists()


def test_cleanup_prunes_worktrees_whose_directory_vanished(make_repo: Any, tmp_path: Path) -> None:
    """A stale entry whose temp directory was wiped is pruned from git's list."""
    repo = released_project(make_repo)
    path = _stale_worktree(repo, tmp_path, "wiped", 999_999_999)
    subprocess.run(["rm", "-rf", str(path)], check=True)
    cleanup_stale_worktrees(repo.path)
    assert worktrees(repo) == [str(repo.path)]
    assert git.is_clean(repo.path)


def test_command_runner_is_bounded_when_a_grandchild_escapes(tmp_path: Path) -> None:
    """A timed-out command whose grandchild left its process group still returns promptly."""
    pidfile = tmp_path / "escaped.pid"
    escape = (
        f"import os, time; os.setsid(); open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
        "time.sleep(60)"
    )
    command = f"{sys.executable} -c {shlex.quote(escape)} & sleep 60"
    started = time.monotonic()
    try:
        result = run_command(command, tmp_path, timeout=0.5)
        assert result.timed_out
        assert time.monotonic() - started < 10
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_command_leaving_a_background_child_is_done_when_it_exits(tmp_path: Path) -> None:
    """A deploy command that exits 0 but leaves a daemon on its output succeeds at once."""
    started = time.monotonic()
    result = run_command("sleep 30 & echo deployed", tmp_path, timeout=20)
    assert result.ok
    assert result.output_tail.startswith("deployed")
    assert time.monotonic() - started < 5
