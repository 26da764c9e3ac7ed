"""How a release run ends: the release report, and an honest outcome with its exit code.

Outcomes (DESIGN.md): ``released`` (0), ``nothing_to_release`` (0), ``dry_run``
(0), ``partial`` (4: stopped before tagging, waiting for an agent or for a
step another process holds, cancelled by the client, or tagged but a push or
delivery after the tag failed), ``failed`` (1), ``conflict`` (3: e.g. the tag
exists on another commit, or HEAD is no longer on top of the release commit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.errors import CastoffError, CheckFailed
from castoff.release.workflow import graph
from castoff.release.workflow.announce_steps import MAYBE_DELIVERED
from castoff.release.workflow.contract import ReleasePlan

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

LEASE_SECONDS = 300
AFTER_TAG = ("push", "announce_send")  # steps that run once the release is tagged


def abandon_hint(root_task_id: str) -> str:
    """How to give up the open release and start again (the exact commands)."""
    return (
        f"abandon this release with `castoff orchestrator cancel-task {root_task_id}` and run "
        "`castoff release prepare` again"
    )


@dataclass(frozen=True)
class StepState:
    """One step of a release as the store has it."""

    key: str
    title: str
    task_id: str
    status: str
    summary: str | None
    error: str | None
    attempts: int
    duration_seconds: float | None
    artifacts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ReleaseOutcome:
    """The honest, machine-readable end of a run (DESIGN.md outcomes and exit codes)."""

    outcome: str  # released | nothing_to_release | partial | failed | conflict | dry_run
    message: str
    exit_code: int
    version: str | None = None
    tag: str | None = None
    root_task_id: str | None = None
    steps: tuple[StepState, ...] = ()
    remaining: tuple[str, ...] = ()
    next_action: str | None = None
    report: dict[str, Any] | None = None
    diff: str | None = None  # dry run: what the release commit would change


def finish(
    orch: Orchestrator,
    release: Task,
    plan: ReleasePlan,
    *,
    steps: list[Task] | None = None,
    results: dict[str, dict[str, Any]] | None = None,
    timings: dict[str, float] | None = None,
    root: Path | None = None,
) -> ReleaseOutcome:
    """All runnable steps done: synthesize the report and complete the root, or say what waits.

    ``root``: check that the tag really exists before saying "released" (the
    release runner checks it itself before calling, and passes None).
    """
    steps = steps if steps is not None else graph.release_tasks(orch, release)
    if any(t.status != "completed" for t in steps):
        return describe(orch, release, plan, stopped="agent", steps=steps, timings=timings)
    from castoff.orchestrator.models import ArtifactInput
    from castoff.release.workflow.report import release_report

    if root is not None and not plan.dry_run:
        from castoff.release import git

        if git.tag_sha(root, plan.tag) is None:
            return describe(
                orch,
                release,
                plan,
                stopped="failed",
                error=CheckFailed(
                    f"the tag step is recorded as done but tag {plan.tag} does not exist; "
                    "`castoff release resume` tags it again"
                ),
                steps=steps,
                timings=timings,
            )
    if results is None or not {graph.step_key(t) for t in steps} <= results.keys():
        results = graph.step_results(orch, steps)
    synthesis = orch.synthesize_results(release.id)
    markdown, data = release_report(plan, steps, results, synthesis)
    if release.status == "pending":
        orch.execute_task(release.id, lease_seconds=LEASE_SECONDS)
    outcome = "dry_run" if plan.dry_run else "released"
    done = orch.complete_task(
        release.id,
        f"{outcome}: {plan.tag}",
        artifacts=[
            ArtifactInput("release-report.md", markdown, "documentation"),
            ArtifactInput("release-report.json", json.dumps(data, indent=2), "documentation"),
        ],
    )
    return describe(orch, done, plan, stopped=None, steps=steps, timings=timings)


def describe(
    orch: Orchestrator,
    release: Task,
    plan: ReleasePlan,
    *,
    stopped: str | None,
    error: CastoffError | None = None,
    steps: list[Task] | None = None,
    timings: dict[str, float] | None = None,
    cancelled: tuple[str, str] | None = None,
) -> ReleaseOutcome:
    """The outcome of the release as the store has it (``stopped``: why the run ended).

    ``timings``: durations of the steps this run ran (the others are read from the events).
    ``cancelled``: (step title, reason) when the caller stopped the run.
    """
    steps = steps if steps is not None else graph.release_tasks(orch, release)
    timings = timings or {}
    started = _started_at(orch, [t for t in steps if t.id not in timings])
    states = tuple(_state(t, started.get(t.id), timings.get(t.id)) for t in steps)
    remaining = tuple(s.key for s in states if s.status != "completed")
    done = f"(done: {len(states) - len(remaining)}/{len(states)})"
    report = None
    if release.status == "completed":
        artifacts = release.artifacts or orch.get_task(release.id).artifacts
        report = {a.name: a.sha256 for a in artifacts}

    def make(kind: str, message: str, code: int, next_action: str | None = None) -> ReleaseOutcome:
        return ReleaseOutcome(
            kind,
            message,
            code,
            version=plan.version,
            tag=plan.tag,
            root_task_id=release.id,
            steps=states,
            remaining=remaining,
            next_action=next_action,
            report=report,
        )

    if release.status == "completed":
        kind = "dry_run" if plan.dry_run else "released"
        what = "dry run complete: nothing was written" if plan.dry_run else f"released {plan.tag}"
        return make(kind, what, 0)
    tagged = any(s.key == "tag" and s.status == "completed" for s in states)
    failed = [s for s in states if s.status == "failed"]
    after_tag = [s for s in failed if s.key in AFTER_TAG]
    if tagged and not plan.dry_run and after_tag and (stopped in (None, "failed")):
        # the release is out; only a push or a delivery after the tag is missing
        what = "; ".join(_after_tag_failure(s) for s in after_tag)
        unsure = any(MAYBE_DELIVERED in (s.error or "") for s in after_tag)
        return make(
            "partial",
            f"tagged {plan.tag}; {what} {done}",
            4,
            "check whether each channel that may have been delivered got it, record it "
            "(`castoff announce send --mark-sent C --yes`) or resend it (`--force-channel C`), "
            "then `castoff release resume --yes`"
            if unsure
            else "fix the cause, then `castoff release resume` retries only what failed",
        )
    if stopped == "failed" and error is not None:
        code = error.exit_code if error.exit_code != 4 else 1
        return make(
            "conflict" if code == 3 else "failed",
            f"{'dry run of ' if plan.dry_run else ''}release {plan.tag} failed: {error.message}",
            code,
            "fix the cause, then run the dry run again"
            if plan.dry_run  # its store is gone: there is nothing to resume
            else "fix the cause, then `castoff release resume` retries the failed step"
            if code != 3
            else "resolve the conflict as the message says",
        )
    if stopped is None and failed:  # status of a release whose last run failed
        return make(
            "failed",
            f"release {plan.tag} failed at {failed[0].title}: {failed[0].error}",
            1,
            "fix the cause, then `castoff release resume` retries the failed step",
        )
    if stopped == "cancelled" and cancelled is not None:
        title, reason = cancelled
        return make(
            "partial",
            f"{reason}: stopped at {title}, which is pending again; nothing of it was kept {done}",
            4,
            "castoff release resume",
        )
    if stopped is None and not remaining:
        return make("partial", f"release {plan.tag} is not finished", 4)
    held = _held(steps)
    agent_work = [
        f"{t.title} ({t.id})" for t in steps if graph.is_agent_step(t) and t.status == "pending"
    ]
    if stopped == "agent" and held and not agent_work and error is None:
        return make(
            "partial",
            f"{'; '.join(held)} {done}",
            4,
            "wait for it to finish (or for its lease to expire), then "
            "`castoff release resume --yes`",
        )
    waiting = {
        "confirmation": f"stopped before tagging {plan.tag}: confirm with "
        "`castoff release resume --yes`",
        "agent": (f"refused: {error.message}; " if error is not None else "")
        + (
            f"waiting for an agent to complete: {', '.join(agent_work)}"
            if agent_work
            else "waiting on: " + ", ".join(s.title for s in states if s.status != "completed")
        ),
    }.get(
        stopped or "", f"release {plan.tag} is part-way" + (f"; {'; '.join(held)}" if held else "")
    )
    return make("partial", f"{waiting} {done}", 4, "castoff release resume --yes")


def _held(steps: list[Task]) -> list[str]:
    """Steps in progress under another holder's lease, named with holder and expiry."""
    out = []
    for t in steps:
        if t.status != "in_progress":
            continue
        until = t.lease_expires_at.strftime("%Y-%m-%d %H:%M:%S UTC") if t.lease_expires_at else "?"
        who = t.lease_owner or "?"
        guess = "an agent?" if graph.is_agent_step(t) else "a running castoff?"
        out.append(f"step {t.title!r} is held by {who} until {until} ({guess})")
    return out


def _after_tag_failure(state: StepState) -> str:
    if state.key == "announce_send":
        return str(state.error)  # names each channel and what to do about it
    return f"push failed: {state.error}"


def _started_at(orch: Orchestrator, steps: list[Task]) -> dict[str, datetime]:
    """When each finished step's latest attempt started (its last ``task.in_progress`` event)."""
    finished = {t.id for t in steps if t.status in ("completed", "failed")}
    found: dict[str, datetime] = {}
    if not finished:
        return found
    for event in orch.events(kind="task.in_progress", limit=500):  # newest first
        if event.task_id in finished and event.task_id not in found:
            found[event.task_id] = event.created_at
    for task_id in finished - found.keys():  # older than the window: ask per task
        started = orch.events(task_id=task_id, kind="task.in_progress", limit=1)
        if started:
            found[task_id] = started[0].created_at
    return found


def _state(task: Task, started_at: datetime | None, took: float | None = None) -> StepState:
    duration = took
    ended = task.completed_at or (task.updated_at if task.status == "failed" else None)
    if duration is None and started_at is not None and ended is not None:
        duration = round((ended - started_at).total_seconds(), 3)
    return StepState(
        key=graph.step_key(task),
        title=task.title,
        task_id=task.id,
        status=str(task.status),
        summary=task.summary,
        error=task.error,
        attempts=task.attempts,
        duration_seconds=duration,
        artifacts=[
            {"name": a.name, "sha256": a.sha256, "type": str(a.artifact_type)}
            for a in task.artifacts
        ],
    )
