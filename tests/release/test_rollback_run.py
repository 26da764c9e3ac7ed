"""run_rollback: dry run, execution as orchestrator tasks, resume, refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_rollback_scenario import castoff_toml, released_project, three_releases

from castoff.config import load_config
from castoff.errors import ConflictError, DirtyWorkingTree, NotFound, UsageError
from castoff.orchestrator.service import Orchestrator
from castoff.release.rollback.execute import plan_for_target, run_rollback
from castoff.release.rollback.plan import TRAILER
from castoff.release.rollback.settings import load_settings
from castoff.release.rollback.steps import perform


def with_origin(repo: Any, tmp_path: Path) -> Path:
    """Give ``repo`` a local bare ``origin`` holding main and every tag."""
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    return origin


def remote_tags(repo: Any) -> list[str]:
    out = repo.git("ls-remote", "--tags", "origin")
    return sorted(ln.split("refs/tags/")[1] for ln in out.splitlines() if "^{}" not in ln)


def reverts(repo: Any) -> list[str]:
    return repo.git("log", "-F", f"--grep={TRAILER}:", "--format=%H").split()


def rollback(repo: Any, *, url: str | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("to_tag", "v1.0.0")
    with Orchestrator.open(repo.path, database_url=url) as orch:
        return run_rollback(repo.path, load_config(repo.path), orch, **kwargs)


def test_dry_run_changes_nothing(make_repo: Any, tmp_path: Path) -> None:
    """Without --yes the steps are only listed; tags and history stay."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    head = repo.head()
    result = run_rollback(repo.path, load_config(repo.path), None, to_tag="v1.0.0")
    assert result.status == "dry_run"
    assert {s.key: s.status for s in result.steps} == {
        "git.delete-local-tag": "would_run",
        "git.revert-release": "would_run",
        "git.delete-remote-tag": "needs_push",
        "git.push-revert": "needs_push",
        "package.yank-pypi-shipit": "manual",
        "deploy.redeploy": "manual",
        "announce.post": "manual",
    }
    assert repo.head() == head
    assert "v1.1.0" in repo.git("tag")


def test_yes_runs_the_local_steps_and_waits_for_push(make_repo: Any, tmp_path: Path) -> None:
    """--yes deletes the tag and reverts the release commit; remote steps wait for --push."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    result = rollback(repo, yes=True)
    assert result.status == "incomplete"
    assert repo.git("tag").split() == ["v1.0.0"]
    assert len(reverts(repo)) == 1
    assert 'version = "1.0.0"' in (repo.path / "pyproject.toml").read_text()
    assert remote_tags(repo) == ["v1.0.0", "v1.1.0"]
    assert "--push" in result.message


def test_resume_with_push_finishes_on_the_remote(make_repo: Any, tmp_path: Path) -> None:
    """A second run with --push deletes the remote tag and pushes the revert, nothing twice."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    rollback(repo, yes=True)
    result = rollback(repo, yes=True, push=True)
    assert result.status == "completed"
    assert result.resumed
    statuses = {s.key: s.status for s in result.steps}
    assert statuses["git.delete-local-tag"] == "completed_before"
    assert statuses["git.delete-remote-tag"] == "done"
    assert remote_tags(repo) == ["v1.0.0"]
    assert repo.git("ls-remote", "origin", "refs/heads/main").split()[0] == repo.head()
    assert len(reverts(repo)) == 1


def test_completed_rollback_is_recorded_with_plan_artifacts(make_repo: Any, tmp_path: Path) -> None:
    """The parent task completes with the Markdown and JSON plan attached."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    result = rollback(repo, yes=True, push=True)
    with Orchestrator.open(repo.path) as orch:
        parent = orch.get_task(result.parent_task_id)
        children = orch.query_tasks(parent_task_id=parent.id).tasks
    assert parent.status == "completed"
    assert {a.name for a in parent.artifacts} >= {
        "rollback-plan-v1.1.0.md",
        "rollback-plan-v1.1.0.json",
    }
    assert sorted(c.status for c in children) == ["completed"] * 4


def test_rerun_after_completion_has_nothing_to_do(make_repo: Any, tmp_path: Path) -> None:
    """Once rolled back, the target is the latest release: nothing to do."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    rollback(repo, yes=True, push=True)
    again = rollback(repo, yes=True, push=True)
    assert again.status == "nothing_to_do"


def test_dirty_tree_is_refused_and_nothing_changes(make_repo: Any) -> None:
    """Uncommitted changes refuse --yes before any task or git change."""
    repo = released_project(make_repo)
    repo.write("src/shipit/api.py", "V = 3\n")
    with pytest.raises(DirtyWorkingTree, match="nothing was changed"):
        rollback(repo, yes=True)
    assert "v1.1.0" in repo.git("tag")
    with Orchestrator.open(repo.path) as orch:
        assert orch.query_tasks().total == 0


def test_unknown_target_is_not_found(make_repo: Any) -> None:
    """--to naming no tag raises NotFound (exit 2)."""
    repo = released_project(make_repo)
    with pytest.raises(NotFound):
        run_rollback(repo.path, load_config(repo.path), None, to_tag="v9.9.9")


def test_configured_deploy_command_runs_once(make_repo: Any, tmp_path: Path) -> None:
    """deploy_command runs with the previous version; a resumed run does not repeat it."""
    repo = released_project(make_repo)
    log = tmp_path / "deploys.log"
    repo.commit(
        "chore: configure deploy",
        {"castoff.toml": castoff_toml(f'deploy_command = "echo {{previous}} >> {log}"\n')},
    )
    result = rollback(repo, yes=True)
    assert {s.key: s.status for s in result.steps}["deploy.redeploy"] == "done"
    assert log.read_text() == "1.0.0\n"
    assert rollback(repo, yes=True).status == "incomplete"
    assert log.read_text() == "1.0.0\n"


def test_failed_revert_leaves_a_clean_tree_and_resumes(make_repo: Any) -> None:
    """A conflicting revert fails the step, aborts cleanly, and the rerun continues."""
    repo = released_project(make_repo)
    repo.commit("chore: bump again by hand", {"pyproject.toml": "[project]\nname = 'shipit'\n"})
    result = rollback(repo, yes=True)
    assert result.status == "failed"
    assert {s.key: s.status for s in result.steps}["git.revert-release"] == "failed"
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""
    repo.git("revert", "--no-edit", "HEAD")
    again = rollback(repo, yes=True)
    assert again.resumed
    assert {s.key: s.status for s in again.steps}["git.revert-release"] == "done"
    assert len(reverts(repo)) == 1


def test_tag_moved_since_planning_is_refused(make_repo: Any) -> None:
    """Deleting the new tag is refused when it no longer points at the planned commit."""
    repo = released_project(make_repo)
    config = load_config(repo.path)
    plan = plan_for_target(repo.path, config, "v1.0.0")
    assert plan is not None
    moved = replace(plan, new_sha=repo.git("rev-parse", "v1.0.0^{commit}"))
    step = next(s for s in plan.steps if s.key == "git.delete-local-tag")
    with pytest.raises(ConflictError, match="refusing to delete it"):
        perform(repo.path, moved, step, load_settings(config))
    assert "v1.1.0" in repo.git("tag")


@pytest.mark.postgres
def test_rollback_runs_on_postgresql(make_repo: Any, tmp_path: Path, pg_url: str) -> None:
    """The same run works with the PostgreSQL store."""
    repo = released_project(make_repo)
    with_origin(repo, tmp_path)
    result = rollback(repo, url=pg_url, yes=True, push=True)
    assert result.status == "completed"
    assert remote_tags(repo) == ["v1.0.0"]


def test_rollback_several_releases_back_undoes_each(make_repo: Any, tmp_path: Path) -> None:
    """--to two releases back deletes both tags, reverts both release commits, newest first."""
    repo = three_releases(make_repo)
    with_origin(repo, tmp_path)
    result = rollback(repo, yes=True, push=True)
    assert result.status == "completed", result.message
    assert (result.new_tag, result.plan.intermediate[0].tag) == ("v1.2.0", "v1.1.0")
    assert repo.git("tag").split() == ["v1.0.0"]
    assert remote_tags(repo) == ["v1.0.0"]
    subjects = repo.git("log", "-2", "--format=%s").splitlines()
    assert subjects == ["Revert release v1.1.0", "Revert release v1.2.0"]
    assert 'version = "1.0.0"' in (repo.path / "pyproject.toml").read_text()
    assert repo.git("ls-remote", "origin", "refs/heads/main").split()[0] == repo.head()
    assert rollback(repo, yes=True, push=True).status == "nothing_to_do"


def test_target_not_older_than_the_latest_release_is_refused(make_repo: Any) -> None:
    """`run --to` the latest release is nothing to do; a newer or unrelated tag is bad input."""
    repo = released_project(make_repo)
    assert rollback(repo, to_tag="v1.1.0").status == "nothing_to_do"
    repo.git("checkout", "-q", "-b", "next", "v1.1.0")
    repo.commit("feat: next", None)
    repo.tag("v2.0.0")
    repo.git("checkout", "-q", "main")
    with pytest.raises(UsageError, match=r"not older than v1\.1\.0"):
        rollback(repo, to_tag="v2.0.0")


def test_run_yes_first_removes_crashed_verification_worktrees(
    make_repo: Any, tmp_path: Path
) -> None:
    """`rollback_run(yes=True)` cleans a dead verification's worktree; a dry run does not."""
    from castoff.release.rollback.api import rollback_run
    from castoff.release.rollback.verify import WORKTREE_PREFIX

    repo = released_project(make_repo)
    stale = tmp_path / f"{WORKTREE_PREFIX}crashed"
    repo.git(
        "worktree", "add", "--detach", "--lock", "--reason",
        "castoff rollback verify pid=999999999", str(stale), "v1.0.0",
    )  # fmt: skip
    assert rollback_run(repo.path, to="v1.0.0").status == "dry_run"
    assert stale.exists()
    assert rollback_run(repo.path, to="v1.0.0", yes=True).status == "incomplete"
    assert not stale.exists()
