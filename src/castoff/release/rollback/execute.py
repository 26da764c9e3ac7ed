"""``castoff rollback run``: execute a rollback plan as resumable orchestrator tasks.

A run creates (or, to resume, finds) a parent task "Rollback to TAG" holding
the plan in its context, with one subtask per runnable step. Local steps are
chained; the remote and configured-command steps depend on the last local one.
Each pending subtask is claimed with ``execute_task``, performed idempotently
(:mod:`.steps` looks at the state first) and completed, so a run killed at any
point finishes on the next invocation without doing a step twice.

Test hook: ``CASTOFF_TEST_PAUSE_AFTER_STEP=<n>`` makes the process print
``paused after rollback step <n>`` on stderr and sleep after performing step
*n* (1-based) but before recording it, so a test can kill it at the worst moment.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import CastoffError, DirtyWorkingTree, UsageError
from castoff.release import git
from castoff.release.rollback.model import Action, Layer, RollbackPlan, RollbackStep, plan_from_data
from castoff.release.rollback.plan import plan_data, plan_documents
from castoff.release.rollback.repo import find_tag, plan_rollback
from castoff.release.rollback.settings import load_settings
from castoff.release.rollback.steps import (
    abort_revert,
    dirty_paths,
    perform,
    revert_in_progress,
    reverted_shas,
)
from castoff.release.version import tag_format_of

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

PAUSE_ENV = "CASTOFF_TEST_PAUSE_AFTER_STEP"
CONTEXT_KIND = "castoff.rollback"
OPEN = ("pending", "in_progress", "blocked", "failed")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One step of a rollback run and what happened to it.

    ``status``: ``would_run`` / ``needs_push`` / ``manual`` (dry run or not
    runnable), ``done`` (performed now), ``already_done`` (found done),
    ``completed_before`` (recorded by an earlier run), ``failed``, ``pending``.
    """

    key: str
    layer: Layer
    title: str
    status: str
    command: str | None = None
    instructions: str = ""
    detail: str = ""
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class RollbackRun:
    """The result of ``castoff rollback run``.

    ``status``: ``dry_run``, ``completed``, ``incomplete`` (remote steps wait
    for ``--push``), ``failed`` or ``nothing_to_do``.
    """

    to_tag: str
    new_tag: str | None
    status: str
    message: str
    steps: tuple[StepOutcome, ...] = ()
    parent_task_id: str | None = None
    resumed: bool = False
    plan: RollbackPlan | None = None


def title_for(to_tag: str) -> str:
    """The parent task's title."""
    return f"Rollback to {to_tag}"


def plan_for_target(
    root: Path, config: Config, to_tag: str, package: str | None = None
) -> RollbackPlan | None:
    """Plan going back from the latest release (reachable from HEAD) to ``to_tag``.

    Every release between them is undone too. None when ``to_tag`` already is
    the latest release; UsageError when it is not a release tag or is not older
    than the latest release. A monorepo ``package``'s releases are its own tags.
    """
    tag_format = tag_format_of(config, package)
    target = find_tag(root, config, to_tag, package)
    if git.version_key(target.version) is None:
        raise UsageError(f"{to_tag} is not a release tag (tag format {tag_format})")
    latest = git.latest_release_tag(root, tag_format, "HEAD", include_prereleases=True)
    if latest is None or latest.name == target.name:
        return None
    return plan_rollback(
        root,
        config,
        new_version=latest.version,
        new_tag=latest.name,
        new_ref=latest.name,
        target_tag=to_tag,
        package=package,
    )


def _outcome(
    step: RollbackStep, status: str, detail: str = "", task_id: str | None = None
) -> StepOutcome:
    return StepOutcome(
        key=step.key,
        layer=step.layer,
        title=step.title,
        status=status,
        command=step.command,
        instructions=step.instructions,
        detail=detail,
        task_id=task_id,
    )


def _needs_push(step: RollbackStep) -> bool:
    return step.action in (Action.DELETE_REMOTE_TAG, Action.PUSH_REVERT)


def _dry_outcomes(plan: RollbackPlan, push: bool) -> list[StepOutcome]:
    out = []
    for step in plan.steps:
        if not step.runnable:
            out.append(_outcome(step, "manual"))
        elif _needs_push(step) and not push:
            out.append(_outcome(step, "needs_push"))
        else:
            out.append(_outcome(step, "would_run"))
    return out


def find_open_rollback(orch: Orchestrator, to_tag: str) -> Task | None:
    """The unfinished "Rollback to TAG" parent task, if an earlier run left one."""
    page = orch.query_tasks(
        status=list(OPEN), specialist_type="rollback_planning", search_text=title_for(to_tag)
    )
    for task in page.tasks:
        ctx = task.context
        if (
            task.title == title_for(to_tag)
            and isinstance(ctx, dict)
            and ctx.get("kind") == CONTEXT_KIND
        ):
            return task
    return None


def _create_tasks(orch: Orchestrator, plan: RollbackPlan, to_tag: str) -> tuple[Task, list[Task]]:
    parent = orch.plan_task(
        title_for(to_tag),
        description=f"Undo release {plan.new_tag} and go back to {to_tag}.",
        task_type="deployment",
        specialist_type="rollback_planning",
        complexity="moderate",
        context={
            "kind": CONTEXT_KIND,
            "to_tag": to_tag,
            "new_tag": plan.new_tag,
            "plan": plan_data(plan),
        },
    )
    children: list[Task] = []
    last_local: str | None = None
    for index, step in enumerate(s for s in plan.steps if s.runnable):
        deps = [last_local] if last_local else []
        child = orch.plan_task(
            step.title,
            description=step.command or step.instructions,
            task_type="deployment",
            specialist_type="rollback_planning",
            complexity="simple",
            parent_task_id=parent.id,
            context={"kind": CONTEXT_KIND, "step": step.key, "index": index},
            dependencies=deps,
        )
        if step.local_safe:
            last_local = child.id
        children.append(child)
    return parent, children


def _children(orch: Orchestrator, parent_id: str) -> dict[str, Task]:
    page = orch.query_tasks(parent_task_id=parent_id, limit=100)
    found: dict[str, Task] = {}
    for task in page.tasks:
        if isinstance(task.context, dict) and "step" in task.context:
            found[str(task.context["step"])] = task
    return found


def _pause_if_asked(number: int) -> None:
    if os.environ.get(PAUSE_ENV) == str(number):
        sys.stderr.write(f"paused after rollback step {number}\n")
        sys.stderr.flush()
        time.sleep(120)


def run_rollback(
    root: Path,
    config: Config,
    orchestrator: Orchestrator | None,
    *,
    to_tag: str,
    yes: bool = False,
    push: bool = False,
    on_progress: Progress | None = None,
    package: str | None = None,
) -> RollbackRun:
    """Show (``yes=False``) or execute the rollback to ``to_tag`` (a release of monorepo
    ``package``), resuming an unfinished one."""
    say = on_progress or (lambda _message: None)
    find_tag(root, config, to_tag, package)
    parent = find_open_rollback(orchestrator, to_tag) if orchestrator is not None else None
    if parent is not None:
        assert isinstance(parent.context, dict)
        plan: RollbackPlan | None = plan_from_data(parent.context["plan"])
    else:
        plan = plan_for_target(root, config, to_tag, package)
    if plan is None:
        return RollbackRun(
            to_tag,
            None,
            "nothing_to_do",
            f"{to_tag} is already the latest release: nothing to roll back",
        )
    if not yes:
        message = (
            f"Dry run: the steps to roll back {plan.new_tag} to {to_tag}; pass --yes to run them"
        )
        return RollbackRun(
            to_tag,
            plan.new_tag,
            "dry_run",
            message,
            tuple(_dry_outcomes(plan, push)),
            parent.id if parent else None,
            resumed=parent is not None,
            plan=plan,
        )
    if orchestrator is None:
        raise UsageError("running a rollback needs the orchestrator store")
    orchestrator.reclaim_dead_workers()  # a killed earlier run left its lease behind
    if parent is not None and revert_in_progress(root) in reverted_shas(plan):
        say("undoing the revert an interrupted run left half-done")
        abort_revert(root)
    dirty = dirty_paths(root)
    if dirty:
        raise DirtyWorkingTree(
            f"the working tree has uncommitted changes ({len(dirty)}: {dirty[0].strip()}...); "
            "commit or stash them first: nothing was changed"
        )
    if parent is None:
        parent, _ = _create_tasks(orchestrator, plan, to_tag)
        resumed = False
    else:
        resumed = True
    return _execute(
        root, config, orchestrator, plan, parent, to_tag=to_tag, push=push, say=say, resumed=resumed
    )


def _execute(
    root: Path,
    config: Config,
    orch: Orchestrator,
    plan: RollbackPlan,
    parent: Task,
    *,
    to_tag: str,
    push: bool,
    say: Progress,
    resumed: bool,
) -> RollbackRun:
    settings = load_settings(config, plan.package)
    children = _children(orch, parent.id)
    outcomes: list[StepOutcome] = []
    failed = waiting = False
    number = 0
    for step in plan.steps:
        if not step.runnable:
            outcomes.append(_outcome(step, "manual"))
            continue
        number += 1
        task = children[step.key]
        if failed:
            outcomes.append(_outcome(step, "pending", task_id=task.id))
            continue
        if task.status == "completed":
            outcomes.append(_outcome(step, "completed_before", task.summary or "", task.id))
            continue
        if _needs_push(step) and not push:
            waiting = True
            outcomes.append(_outcome(step, "needs_push", task_id=task.id))
            continue
        if task.status == "failed":
            orch.update_task(task.id, status="pending")
        say(f"step {number}: {step.title}")
        orch.execute_task(task.id)
        try:
            performed, detail = perform(root, plan, step, settings)
        except CastoffError as exc:
            orch.fail_task(task.id, exc.message)
            orch.record_event(
                task.id,
                "rollback.step",
                {"step": step.key, "result": "failed", "error": exc.message},
            )
            outcomes.append(_outcome(step, "failed", exc.message, task.id))
            failed = True
            continue
        orch.record_event(
            task.id,
            "rollback.step",
            {"step": step.key, "result": "done" if performed else "already_done", "detail": detail},
        )
        _pause_if_asked(number)
        orch.complete_task(task.id, summary=detail)
        outcomes.append(_outcome(step, "done" if performed else "already_done", detail, task.id))
    if failed:
        status, message = (
            "failed",
            f"Rollback to {to_tag} stopped at a failed step; fix it and run the same command again",
        )
    elif waiting:
        status, message = (
            "incomplete",
            f"Local rollback to {to_tag} done; run again with --push to update {plan.remote}",
        )
    else:
        status, message = "completed", f"Rolled back {plan.new_tag} to {to_tag}"
        _complete_parent(orch, parent, plan, outcomes)
    return RollbackRun(
        to_tag, plan.new_tag, status, message, tuple(outcomes), parent.id, resumed, plan
    )


def _complete_parent(
    orch: Orchestrator, parent: Task, plan: RollbackPlan, outcomes: list[StepOutcome]
) -> None:
    from castoff.orchestrator.models import ArtifactInput

    manual = [o for o in outcomes if o.status == "manual"]
    detail = "\n".join(f"- {o.title}: {o.detail or o.command or o.instructions}" for o in outcomes)
    orch.execute_task(parent.id)
    orch.complete_task(
        parent.id,
        summary=(
            f"Rolled back {plan.new_tag} to {plan.previous_tag}; "
            f"{len(manual)} step(s) left to do by hand"
        ),
        detailed_work=detail,
        next_action="; ".join(o.title for o in manual) or None,
        artifacts=[
            ArtifactInput(name, content, kind) for name, content, kind in plan_documents(plan)
        ],
    )


def outcome_data(run: RollbackRun) -> dict[str, Any]:
    """The run as JSON data (the plan's derived flags included)."""
    from castoff.serialize import to_data

    data: dict[str, Any] = to_data(run)
    data["plan"] = plan_data(run.plan) if run.plan else None
    return data
