"""The release graph as the store holds it: planning it, finding it, reading it.

A release is a root task (``context.kind = "castoff.release"``, holding the
:class:`ReleasePlan`) with one subtask per step (``context.step``). Every
step's result is its ``result.json`` artifact, so the store alone says where
a release stands.

A built-in step's result counts only when the release runner recorded it:
its ``task.completed`` event was written by the runner (actor ``release``, or
``worker`` for ``castoff worker``). The generic orchestrator tools (CLI actor
``cli``, MCP actor ``mcp``) cannot write such an event, so a step completed
through them (say, a failed validation re-claimed and completed by hand) is
not trusted: :func:`untrusted_steps` finds it and :func:`reopen` archives it
and plans it afresh, to be run by the runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from castoff.release.workflow.contract import ReleasePlan
from castoff.release.workflow.steps import release_steps

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

ROOT_KIND = "castoff.release"
STEP_KIND = "castoff.release.step"
RESULT_NAME = "result.json"
REFS_KEY = "$refs"  # in result.json: data key -> the document holding its value
RUNNER_ACTORS = frozenset({"release", "worker"})  # who may complete a built-in step
SKIP_ROLLBACK_EVENT = "release.rollback_check_skipped"
REOPENED_EVENT = "release.step_reopened"


def plan_release(orch: Orchestrator, plan: ReleasePlan) -> tuple[Task, list[Task]]:
    """Plan the root task "Release <tag>" and one subtask per step, with dependencies, in
    one transaction (``plan_tasks``); the root and the steps, in step order."""
    from castoff.orchestrator.models import TaskSpec
    from castoff.serialize import to_data

    root = TaskSpec(
        ROOT_KIND,
        f"Release {plan.tag}",
        description=f"Prepare release {plan.version} ({plan.current or 'first release'} → "
        f"{plan.version}) as one resumable graph.",
        task_type="deployment",
        specialist_type="coordinator",
        complexity="complex",
        context={"kind": ROOT_KIND, "plan": to_data(plan)},
    )
    steps = [
        TaskSpec(
            spec.key,
            spec.title,
            description=spec.description,
            task_type=spec.task_type,
            specialist_type=spec.specialist,
            parent=ROOT_KIND,
            complexity="moderate",
            dependencies=list(spec.depends_on),
            context={"kind": STEP_KIND, "step": spec.key, "agent": spec.agent},
        )
        for spec in release_steps(push=plan.push, announce=plan.announce, agent=plan.agent)
    ]
    root_task, *step_tasks = orch.plan_tasks([root, *steps])
    if plan.skip_rollback_check:
        orch.record_event(root_task.id, SKIP_ROLLBACK_EVENT, {"tag": plan.tag})
    return root_task, step_tasks


def find_open_release(orch: Orchestrator, *, package: str | None = None) -> Task | None:
    """The release root task that is not finished (pending, in progress, blocked, failed);
    with ``package``, only a release of that monorepo package."""
    page = orch.query_tasks(
        status=["pending", "in_progress", "blocked", "failed"],
        specialist_type=["coordinator"],
        task_type=["deployment"],
        limit=100,
    )
    roots = [t for t in page.tasks if _is_release(t, package)]
    return roots[-1] if roots else None


def latest_release(orch: Orchestrator, *, package: str | None = None) -> Task | None:
    """The newest release root task, whatever its state (of ``package``, when given)."""
    page = orch.query_tasks(specialist_type=["coordinator"], task_type=["deployment"], limit=1000)
    roots = [t for t in page.tasks if _is_release(t, package)]
    return roots[-1] if roots else None


def _is_release(task: Task, package: str | None) -> bool:
    if kind_of(task) != ROOT_KIND:
        return False
    return package is None or plan_of(task).package == package


def kind_of(task: Task) -> str | None:
    return task.context.get("kind") if isinstance(task.context, dict) else None


def plan_of(release: Task) -> ReleasePlan:
    """The plan kept in the root task's context."""
    assert isinstance(release.context, dict)
    return ReleasePlan.from_data(release.context["plan"])


_ORDER = {spec.key: i for i, spec in enumerate(release_steps(push=True, announce=True, agent=True))}


def release_tasks(orch: Orchestrator, release: Task) -> list[Task]:
    """The release's step tasks (archived ones left out), with their artifacts, in step
    order (a step planned again keeps its place)."""
    page = orch.query_tasks(parent_task_id=release.id, include_artifacts=True, limit=100)
    steps = [t for t in page.tasks if t.status != "archived"]
    return sorted(steps, key=lambda t: _ORDER.get(step_key(t), len(_ORDER)))


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


def retry_failed(orch: Orchestrator, release: Task, steps: list[Task]) -> tuple[Task, list[Task]]:
    """A resumed release retries its failed steps (and reopens a failed root)."""
    steps = [orch.update_task(t.id, status="pending") if t.status == "failed" else t for t in steps]
    if release.status == "failed":
        release = orch.update_task(release.id, status="pending")
    return release, steps


def result_document(data: dict[str, Any], refs: dict[str, str]) -> str:
    """``result.json``: ``data`` without the values stored as documents, which it names."""
    kept = {k: v for k, v in data.items() if k not in refs}
    if refs:
        kept[REFS_KEY] = dict(refs)
    return json.dumps(kept, indent=2, default=str)


def step_results(orch: Orchestrator, steps: list[Task]) -> dict[str, dict[str, Any]]:
    """The ``result.json`` of every completed step, by step key (documents it names read in)."""
    out: dict[str, dict[str, Any]] = {}
    for t in steps:
        if t.status != "completed":
            continue
        by_name = {a.name: a for a in t.artifacts}
        art = by_name.get(RESULT_NAME)
        if art is None:
            continue
        data = json.loads(orch.read_artifact(art.sha256))
        for key, name in dict(data.pop(REFS_KEY, None) or {}).items():
            doc = by_name.get(name)
            data[key] = json.loads(orch.read_artifact(doc.sha256)) if doc else None
        out[step_key(t)] = data
    return out


def untrusted_steps(orch: Orchestrator, steps: list[Task]) -> dict[str, str]:
    """Completed built-in steps the release runner did not complete: task id -> who did."""
    done = {t.id for t in steps if t.status == "completed" and not is_agent_step(t)}
    if not done:
        return {}
    actors: dict[str, str] = {}
    for event in orch.events(kind="task.completed", limit=500):  # newest first
        if event.task_id in done and event.task_id not in actors:
            actors[event.task_id] = event.actor
    for task_id in done - actors.keys():  # older than the window: ask per task
        found = orch.events(task_id=task_id, kind="task.completed", limit=1)
        actors[task_id] = found[0].actor if found else "unknown"
    return {i: actor for i, actor in actors.items() if actor not in RUNNER_ACTORS}


def skip_rollback_recorded(orch: Orchestrator, release: Task) -> bool:
    """True when the runner recorded, at planning, that the rollback check is skipped."""
    found = orch.events(task_id=release.id, kind=SKIP_ROLLBACK_EVENT, limit=10)
    return any(e.actor in RUNNER_ACTORS for e in found)


def reopen(
    orch: Orchestrator,
    release: Task,
    steps: list[Task],
    task_ids: Iterable[str],
    reason: str,
) -> list[Task]:
    """Run these steps again: each (and every completed step after it) is archived and
    planned afresh, its dependants pointed at the new task; the release's steps after."""
    by_id = {t.id: t for t in steps}
    redo = set(task_ids)
    grew = True
    while grew:  # completed dependants used the result being redone: redo them too
        more = {
            t.id
            for t in steps
            if t.id not in redo and t.status == "completed" and redo & set(t.dependencies)
        }
        grew = bool(more)
        redo |= more
    new_ids: dict[str, str] = {}
    for task in _in_dependency_order([by_id[i] for i in redo if i in by_id]):
        again = orch.plan_task(
            task.title,
            description=task.description,
            task_type=task.task_type,
            specialist_type=task.specialist_type,
            parent_task_id=release.id,
            complexity=task.complexity,
            dependencies=[new_ids.get(d, d) for d in task.dependencies],
            context=task.context,
        )
        new_ids[task.id] = again.id
        orch.record_event(
            release.id,
            REOPENED_EVENT,
            {"step": step_key(task), "replaced": task.id, "by": again.id, "reason": reason},
        )
    for task in steps:
        if task.id not in redo and set(task.dependencies) & new_ids.keys():
            orch.update_task(task.id, dependencies=[new_ids.get(d, d) for d in task.dependencies])
    for old in new_ids:
        orch.update_task(old, status="archived")
    return release_tasks(orch, release)


def _in_dependency_order(tasks: list[Task]) -> list[Task]:
    """``tasks`` ordered so that each comes after those of them it depends on."""
    left = {t.id: t for t in tasks}
    out: list[Task] = []
    while left:
        ready = [t for t in left.values() if not set(t.dependencies) & left.keys()]
        for t in ready or list(left.values()):  # (a cycle cannot be planned; be safe anyway)
            out.append(left.pop(t.id))
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
