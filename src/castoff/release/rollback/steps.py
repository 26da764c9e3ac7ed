"""Perform one rollback step idempotently: look at the state first, act only if needed.

Each performer returns ``(performed, detail)``: ``performed`` is False when the
step had already been done (by an earlier, interrupted run or by hand), so a
resumed rollback never deletes, reverts or pushes twice. Git goes through
:func:`castoff.release.git.run_git`; configured commands through
:func:`castoff.release.rollback.verify.run_command`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from castoff.errors import CheckFailed, ConflictError, GitError, NotFound
from castoff.release import git
from castoff.release.rollback.model import Action, RollbackPlan, RollbackStep
from castoff.release.rollback.plan import TRAILER, revert_commands
from castoff.release.rollback.settings import RollbackSettings
from castoff.release.rollback.verify import run_command

STATE_PREFIX = ".castoff/"


def dirty_paths(root: Path) -> list[str]:
    """Uncommitted changes, ignoring castoff's own state directory."""
    return [
        line
        for line in git.status_porcelain(root)
        if not line[3:].strip('"').startswith(STATE_PREFIX)
    ]


def revert_in_progress(root: Path) -> str | None:
    """The sha an unfinished ``git revert`` is reverting, or None."""
    path = Path(git.run_git(root, "rev-parse", "--git-path", "REVERT_HEAD"))
    path = path if path.is_absolute() else root / path
    return path.read_text().strip() if path.is_file() else None


def abort_revert(root: Path) -> None:
    """Undo a half-done ``git revert --no-commit`` (ours, interrupted)."""
    git.run_git(root, "revert", "--abort")


def find_revert_commit(root: Path, release_sha: str) -> str | None:
    """The commit carrying ``Castoff-Rollback-Of: <release_sha>``, if HEAD contains one."""
    out = git.run_git(root, "log", "-F", f"--grep={TRAILER}: {release_sha}", "--format=%H", "HEAD")
    return out.split()[0] if out.strip() else None


def _remote_ref(root: Path, remote: str, ref: str) -> str | None:
    if git.remote_url(root, remote) is None:
        raise GitError(f"there is no git remote named {remote!r}")
    out = git.run_git(root, "ls-remote", remote, ref)
    return out.split()[0] if out.strip() else None


def _contains(root: Path, tip: str, commit: str) -> bool:
    """True when ``tip`` is a known commit whose history includes ``commit``."""
    try:
        git.run_git(root, "merge-base", "--is-ancestor", commit, tip)
    except (GitError, NotFound):
        return False
    return True


def release_of(plan: RollbackPlan, step: RollbackStep) -> tuple[str, str]:
    """``(tag, sha)`` of the release ``step`` acts on (the plan's new release by default)."""
    return step.tag or plan.new_tag, step.sha or plan.new_sha


def reverted_shas(plan: RollbackPlan) -> set[str]:
    """The release commits the plan reverts."""
    return {release_of(plan, s)[1] for s in plan.steps if s.action is Action.REVERT_RELEASE}


def _delete_local_tag(root: Path, plan: RollbackPlan, step: RollbackStep) -> tuple[bool, str]:
    tag, planned = release_of(plan, step)
    sha = git.tag_sha(root, tag)
    if sha is None:
        return False, f"tag {tag} is already gone locally"
    if sha != planned:
        raise ConflictError(
            f"tag {tag} now points at {sha[:7]}, not the planned {planned[:7]}; "
            "refusing to delete it"
        )
    git.run_git(root, "tag", "-d", tag)
    return True, f"deleted tag {tag} ({sha[:7]})"


def _revert_release(root: Path, plan: RollbackPlan, step: RollbackStep) -> tuple[bool, str]:
    tag, sha = release_of(plan, step)
    done = find_revert_commit(root, sha)
    if done is not None:
        return False, f"release commit of {tag} already reverted by {done[:7]}"
    try:
        git.run_git(root, "merge-base", "--is-ancestor", sha, "HEAD")
    except (GitError, NotFound) as exc:
        raise ConflictError(
            f"the release commit {sha[:7]} of {tag} is not in the checked-out branch; "
            "check out the release branch first"
        ) from exc
    parents = git.run_git(root, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    commands = revert_commands(sha, tag, plan.previous_tag or "", merge=len(parents) > 1)
    try:
        for args in commands:
            git.run_git(root, *args)
    except GitError as exc:
        with contextlib.suppress(GitError, NotFound):
            abort_revert(root)
        raise GitError(f"reverting {sha[:7]} failed ({exc}); nothing changed") from exc
    return True, f"reverted the release commit of {tag} as {git.head_sha(root)[:7]}"


def _delete_remote_tag(root: Path, plan: RollbackPlan, step: RollbackStep) -> tuple[bool, str]:
    tag, _sha = release_of(plan, step)
    if _remote_ref(root, plan.remote, f"refs/tags/{tag}") is None:
        return False, f"tag {tag} is already gone on {plan.remote}"
    git.run_git(root, "push", plan.remote, f":refs/tags/{tag}")
    return True, f"deleted tag {tag} on {plan.remote}"


def _push_revert(root: Path, plan: RollbackPlan, step: RollbackStep) -> tuple[bool, str]:
    revert = find_revert_commit(root, release_of(plan, step)[1])
    if revert is None:
        raise ConflictError("no revert commit to push: run the revert step first")
    branch = plan.branch or ""
    remote_sha = _remote_ref(root, plan.remote, f"refs/heads/{branch}")
    if remote_sha is not None and _contains(root, remote_sha, revert):
        return False, f"{plan.remote}/{branch} already contains the revert {revert[:7]}"
    git.run_git(root, "push", plan.remote, f"{revert}:refs/heads/{branch}")
    return True, f"pushed the revert {revert[:7]} to {plan.remote}/{branch}"


def _run_configured(root: Path, step: RollbackStep, settings: RollbackSettings) -> tuple[bool, str]:
    assert step.command is not None
    result = run_command(step.command, root, timeout=settings.step_timeout)
    if not result.ok:
        state = "timed out" if result.timed_out else f"exited with {result.exit_code}"
        tail = result.output_tail.splitlines()[-1:] or [""]
        raise CheckFailed(f"`{step.command}` {state}: {tail[0]}".rstrip(": "))
    return True, f"`{step.command}` succeeded in {result.duration_seconds:.1f}s"


def perform(
    root: Path, plan: RollbackPlan, step: RollbackStep, settings: RollbackSettings
) -> tuple[bool, str]:
    """Do ``step`` unless it is already done; return (performed, what happened)."""
    if step.action is Action.DELETE_LOCAL_TAG:
        return _delete_local_tag(root, plan, step)
    if step.action is Action.REVERT_RELEASE:
        return _revert_release(root, plan, step)
    if step.action is Action.DELETE_REMOTE_TAG:
        return _delete_remote_tag(root, plan, step)
    if step.action is Action.PUSH_REVERT:
        return _push_revert(root, plan, step)
    if step.action is Action.RUN_COMMAND:
        return _run_configured(root, step, settings)
    raise CheckFailed(f"step {step.key} is manual: {step.instructions or step.command}")
