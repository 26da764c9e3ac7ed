"""The release graph as the store holds it: planning it, finding it, reading it.

A release is a root task (``context.kind = "castoff.release"``, holding the
:class:`ReleasePlan`) with one subtask per step (``context.step``). Every
step's result is its ``result.json`` artifact, so the store alone says where
a release stands.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from castoff.release.workflow.executors import ReleasePlan
from castoff.release.workflow.steps import release_steps

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

ROOT_KIND = "castoff.release"
STEP_KIND = "castoff.release.step"
RESULT_NAME = "result.json"


def plan_release(orch: Orchestrator, plan: ReleasePlan) -> Task:
    """Plan the root task "Release <tag>" and one subtask per step, with dependencies."""
    from castoff.serialize import to_data

    orch.initialize_session()
    root_task = orch.plan_task(
        f"Release {plan.tag}",
        description=f"Prepare release {plan.version} ({plan.current or 'first release'} → "
        f"{plan.version}) as one resumable graph.",
        task_type="deployment",
        specialist_type="coordinator",
        complexity="complex",
        context={"kind": ROOT_KIND, "plan": to_data(plan)},
    )
    ids: dict[str, str] = {}
    for spec in release_steps(push=plan.push, announce=plan.announce, agent=plan.agent):
        task = orch.plan_task(
            spec.title,
            description=spec.description,
            task_type=spec.task_type,
            specialist_type=spec.specialist,
            parent_task_id=root_task.id,
            complexity="moderate",
            dependencies=[ids[d] for d in spec.depends_on],
            context={"kind": STEP_KIND, "step": spec.key, "agent": spec.agent},
        )
        ids[spec.key] = task.id
    if plan.skip_rollback_check:
        orch.record_event(root_task.id, "release.rollback_check_skipped", {"tag": plan.tag})
    return root_task


def find_open_release(orch: Orchestrator) -> Task | None:
    """The release root task that is not finished (pending, in progress, blocked, failed)."""
    page = orch.query_tasks(
        status=["pending", "in_progress", "blocked", "failed"],
        specialist_type=["coordinator"],
        task_type=["deployment"],
        limit=100,
    )
    roots = [t for t in page.tasks if kind_of(t) == ROOT_KIND]
    return roots[-1] if roots else None


def latest_release(orch: Orchestrator) -> Task | None:
    """The newest release root task, whatever its state."""
    page = orch.query_tasks(specialist_type=["coordinator"], task_type=["deployment"], limit=1000)
    roots = [t for t in page.tasks if kind_of(t) == ROOT_KIND]
    return roots[-1] if roots else None


def kind_of(task: Task) -> str | None:
    return task.context.get("kind") if isinstance(task.context, dict) else None


def plan_of(release: Task) -> ReleasePlan:
    """The plan kept in the root task's context."""
    assert isinstance(release.context, dict)
    return ReleasePlan.from_data(release.context["plan"])


def release_tasks(orch: Orchestrator, release: Task) -> list[Task]:
    """The release's step tasks (archived ones left out), with their artifacts."""
    page = orch.query_tasks(parent_task_id=release.id, include_artifacts=True, limit=100)
    return [t for t in page.tasks if t.status != "archived"]


def step_key(task: Task) -> str:
    return str(task.context.get("step")) if isinstance(task.context, dict) else ""


def is_agent_step(task: Task) -> bool:
    """True for steps left to an agent (an MCP client) in --agent mode."""
    return isinstance(task.context, dict) and bool(task.context.get("agent"))


def ready_steps(steps: list[Task]) -> list[Task]:
    """Pending steps whose dependencies are all completed, agent steps last."""
    completed = {t.id for t in steps if t.status == "completed"}
    ready = [
        t for t in steps if t.status == "pending" and all(d in completed for d in t.dependencies)
    ]
    return [t for t in ready if not is_agent_step(t)] + [t for t in ready if is_agent_step(t)]


def retry_failed(orch: Orchestrator, release: Task) -> None:
    """A resumed release retries its failed steps (and reopens a failed root)."""
    for task in release_tasks(orch, release):
        if task.status == "failed":
            orch.update_task(task.id, status="pending")
    if orch.get_task(release.id).status == "failed":
        orch.update_task(release.id, status="pending")


def step_results(orch: Orchestrator, steps: list[Task]) -> dict[str, dict[str, Any]]:
    """The ``result.json`` of every completed step, by step key."""
    out: dict[str, dict[str, Any]] = {}
    for t in steps:
        if t.status != "completed":
            continue
        art = next((a for a in t.artifacts if a.name == RESULT_NAME), None)
        if art is not None:
            out[step_key(t)] = json.loads(orch.read_artifact(art.sha256))
    return out


def agent_work(orch: Orchestrator, steps: list[Task]) -> dict[str, str]:
    """What agents wrote for the agent steps (summary, or an artifact named <step>.md)."""
    out: dict[str, str] = {}
    for t in steps:
        if not is_agent_step(t) or t.status != "completed":
            continue
        key = step_key(t).removesuffix("_draft")
        art = next((a for a in t.artifacts if a.name == f"{key}.md"), None)
        out[key] = orch.read_artifact(art.sha256).decode() if art else (t.summary or "")
    return out


def ask_agent_again(orch: Orchestrator, check: Task, steps: list[Task], reason: str) -> None:
    """The agent's draft was refused: archive it and plan a fresh one for the agent."""
    draft = next(t for t in steps if step_key(t) == "highlights_draft")
    orch.update_task(draft.id, status="archived")
    again = orch.plan_task(
        draft.title,
        description=f"{draft.description}\n\nThe previous attempt was refused: {reason}",
        task_type=draft.task_type,
        specialist_type=draft.specialist_type,
        parent_task_id=draft.parent_task_id,
        dependencies=draft.dependencies,
        context=draft.context,
    )
    orch.update_task(check.id, status="pending", dependencies=[again.id])
