"""The runner's guards around the tag: the commit tagged is the commit checked, and it is tagged.

Right before the tag step, :func:`follow_head` makes sure HEAD is the commit
validation and rollback verification ran on: new commits on top of the release
commit are checked again first, a rewritten history is a conflict with a way
out. When no step is left to run, :func:`tag_missing` runs the tag step again
if the tag an earlier run recorded is gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from castoff.errors import CastoffError, ConflictError
from castoff.release.workflow import graph
from castoff.release.workflow.check_steps import rollback_commit, validated_commit
from castoff.release.workflow.contract import ReleasePlan
from castoff.release.workflow.execution import StepRunner
from castoff.release.workflow.outcome import ReleaseOutcome, abandon_hint, describe

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator


def follow_head(
    orch: Orchestrator,
    root: Path,
    release: Task,
    plan: ReleasePlan,
    steps: list[Task],
    run: StepRunner,
) -> list[Task] | ReleaseOutcome | None:
    """Before the tag: HEAD must be the commit validation and rollback verification ran on.

    None when it is. New commits on top of the release commit (a fix after a failed
    check): validation and the rollback check are run again on HEAD (a
    ``release.head_moved`` event says so); the new steps are returned. HEAD not on
    top of it (history rewritten): a conflict outcome that says what to do.
    """
    from castoff.release import git

    head = git.head_sha(root)
    checked = {"validate": validated_commit(run.results), "rollback": rollback_commit(run.results)}
    stale = {key: commit for key, commit in checked.items() if commit != head}
    if not stale:
        run.head = head  # the tag step tags this commit (no second look at HEAD)
        return None
    release_commit = str(run.results.get("release_commit", {}).get("commit") or "")
    try:
        on_top = bool(release_commit) and git.is_ancestor(root, release_commit, head)
    except CastoffError:  # the release commit is gone (history rewritten and pruned)
        on_top = False
    if not on_top:
        short = release_commit[:12] or "?"
        message = (
            f"HEAD {head[:12]} is not on top of the release commit {short} (the history was "
            f"rewritten); to release that commit, move the branch back to it (`git reset --hard "
            f"{short}`) and run `castoff release resume --yes`; to release HEAD instead, "
            f"{abandon_hint(release.id)}"
        )
        return describe(
            orch,
            release,
            plan,
            stopped="failed",
            error=ConflictError(message),
            steps=steps,
            timings=run.timings,
        )
    ids = {graph.step_key(t): t.id for t in steps if t.status == "completed"}
    redo = [ids[key] for key in stale if key in ids]
    orch.record_event(
        release.id,
        "release.head_moved",
        {
            "release_commit": release_commit,
            "validated": checked["validate"],
            "head": head,
            "rerun": sorted(stale),
        },
    )
    for key in stale:
        run.results.pop(key, None)
    return graph.reopen(
        orch,
        release,
        steps,
        redo,
        f"new commits on top of the release commit: checked again on {head[:12]}",
    )


def tag_missing(
    orch: Orchestrator,
    root: Path,
    release: Task,
    plan: ReleasePlan,
    steps: list[Task],
    run: StepRunner,
) -> list[Task] | None:
    """A tag step recorded as done in an earlier run whose tag is gone: it runs again."""
    from castoff.release import git

    tag = next((t for t in steps if graph.step_key(t) == "tag"), None)
    if plan.dry_run or tag is None or tag.status != "completed" or tag.id in run.timings:
        return None  # (a tag made by this very run exists)
    if git.tag_sha(root, plan.tag) is not None:
        return None
    run.results.pop("tag", None)
    return graph.reopen(
        orch, release, steps, [tag.id], f"tag {plan.tag} does not exist: the tag step runs again"
    )
