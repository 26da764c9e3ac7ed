"""Plan or resume a release graph and run it through the orchestrator.

:func:`prepare` is ``castoff release prepare`` (and ``release_prepare`` over
MCP); :func:`resume` continues the open release; :func:`status` reports it.
Every step runs through the orchestrator's own operations — ``execute_task``
(lease claim), the executor, ``complete_task`` (artifacts, events) — so a
release killed at any point resumes from the last completed step, and the
executors' idempotence guarantees nothing is done twice.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.config import Config, load_config
from castoff.errors import CastoffError, CheckFailed, ConflictError, NotFound, UsageError
from castoff.release.workflow.executors import (
    EXECUTORS,
    ReleasePlan,
    StepFailed,
    StepInput,
    StepResult,
)
from castoff.release.workflow.steps import release_steps

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

ROOT_KIND = "castoff.release"
STEP_KIND = "castoff.release.step"
RESULT_NAME = "result.json"
LEASE_SECONDS = 300
HEARTBEAT_SECONDS = 60.0
CRASH_ENV = "CASTOFF_CRASH_AT"  # test hook: "<step>:before|after|inside" → SIGKILL

#: ``on_progress(done, total, message)``
Progress = Callable[[int, int, str], None]
Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class ReleaseOptions:
    """How ``release prepare`` was asked to run."""

    bump: str | None = None
    version: str | None = None
    prerelease: str | None = None
    package: str | None = None
    push: bool = False
    announce: bool = False
    yes: bool = False
    dry_run: bool = False
    agent: bool = False
    skip_rollback_check: bool = False


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


# -- entry points ---------------------------------------------------------------------


def prepare(
    root: Path,
    options: ReleaseOptions,
    *,
    on_progress: Progress | None = None,
    confirm: Confirm | None = None,
    database_url: str | None = None,
) -> ReleaseOutcome:
    """Plan (or resume) the release at ``root`` and run it as far as it may go."""
    from castoff.orchestrator.service import Orchestrator

    config = load_config(root)
    if options.dry_run:
        with tempfile.TemporaryDirectory(prefix="castoff-dry-run-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'dry-run.db'}"
            with Orchestrator.open(root, database_url=url, actor="release") as orch:
                outcome = _prepare(
                    orch, root, config, options, on_progress=on_progress, confirm=confirm
                )
                # the temporary store goes away: keep what would be written in the outcome
                return replace(outcome, diff=_dry_run_diff(orch, outcome))
    with (
        _one_run_at_a_time(root),
        Orchestrator.open(root, database_url=database_url, actor="release") as orch,
    ):
        return _prepare(orch, root, config, options, on_progress=on_progress, confirm=confirm)


def _dry_run_diff(orch: Orchestrator, outcome: ReleaseOutcome) -> str | None:
    step = next((s for s in outcome.steps if s.key == "release_commit"), None)
    art = (
        next((a for a in step.artifacts if a["name"] == "release-commit.diff"), None)
        if step
        else None
    )
    return orch.read_artifact(art["sha256"]).decode() if art else None


def resume(
    root: Path,
    *,
    yes: bool = False,
    on_progress: Progress | None = None,
    confirm: Confirm | None = None,
    database_url: str | None = None,
) -> ReleaseOutcome:
    """Continue the open release from its last completed step."""
    from castoff.orchestrator.service import Orchestrator

    config = load_config(root)
    with (
        _one_run_at_a_time(root),
        Orchestrator.open(root, database_url=database_url, actor="release") as orch,
    ):
        release = find_open_release(orch)
        if release is None:
            raise NotFound("no release in progress here; start one with `castoff release prepare`")
        return _run(orch, root, config, release, yes=yes, on_progress=on_progress, confirm=confirm)


@contextmanager
def _one_run_at_a_time(root: Path) -> Iterator[None]:
    """An exclusive lock on ``.castoff/release.lock`` for the whole run (freed even by SIGKILL).

    Two runs at once would both plan a release, or race for the same step's
    lease and for git's index; the second is refused instead.
    """
    import fcntl

    from castoff.workspace import ensure_state_dir, state_dir

    path = ensure_state_dir(state_dir(root)) / "release.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConflictError(
                f"another castoff release run is in progress here ({holder}); "
                "wait for it, or see `castoff release status`"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def status(root: Path, *, database_url: str | None = None) -> ReleaseOutcome:
    """The latest release's tree and state, without running anything."""
    from castoff.orchestrator.service import Orchestrator

    with Orchestrator.open(root, database_url=database_url, actor="release") as orch:
        release = find_open_release(orch) or _latest_release(orch)
        if release is None:
            raise NotFound("no release has been prepared here yet")
        return _outcome(orch, release, _plan_of(release), stopped=None)


# -- planning -------------------------------------------------------------------------


def _prepare(
    orch: Orchestrator,
    root: Path,
    config: Config,
    options: ReleaseOptions,
    *,
    on_progress: Progress | None,
    confirm: Confirm | None,
) -> ReleaseOutcome:
    release = find_open_release(orch)
    if release is None:
        plan = _decide(root, config, options)
        if isinstance(plan, ReleaseOutcome):
            return plan
        release = plan_release(orch, plan)
    else:
        _check_same_release(_plan_of(release), options)
    return _run(
        orch, root, config, release, yes=options.yes, on_progress=on_progress, confirm=confirm
    )


def _check_same_release(plan: ReleasePlan, options: ReleaseOptions) -> None:
    """Resuming through ``prepare``: refuse options the open release was not planned with."""
    asked = {
        "--push": options.push and not plan.push,
        "--announce": options.announce and not plan.announce,
        "--agent": options.agent and not plan.agent,
        "--skip-rollback-check": options.skip_rollback_check and not plan.skip_rollback_check,
        f"--version {options.version}": options.version not in (None, plan.version),
        f"--bump {options.bump}": options.bump not in (None, plan.bump),
        f"--package {options.package}": options.package not in (None, plan.package),
    }
    differ = [flag for flag, different in asked.items() if different]
    if differ:
        raise UsageError(
            f"release {plan.tag} is already in progress, planned without {', '.join(differ)}; "
            "finish it with `castoff release resume`, or cancel its task and prepare again"
        )


def _decide(root: Path, config: Config, options: ReleaseOptions) -> ReleasePlan | ReleaseOutcome:
    """The version to release, or the plain answer that there is nothing to release."""
    from castoff.release import git
    from castoff.release.tagging import compute_next

    git.repo_root(root)
    nxt = compute_next(
        root,
        config,
        bump=options.bump,
        version=options.version,
        prerelease=options.prerelease,
        package=options.package,
    )
    if nxt.no_release or nxt.next is None or nxt.tag is None:
        return ReleaseOutcome("nothing_to_release", f"nothing to release: {nxt.message}", 0)
    return ReleasePlan(
        version=nxt.next,
        tag=nxt.tag,
        current=nxt.current,
        previous_tag=nxt.previous_tag,
        since_tag=nxt.since_tag,
        bump=nxt.bump,
        scheme=nxt.scheme,
        package=nxt.package,
        head_sha=git.head_sha(root),
        push=options.push,
        announce=options.announce,
        agent=options.agent,
        skip_rollback_check=options.skip_rollback_check,
        dry_run=options.dry_run,
    )


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
    roots = [t for t in page.tasks if _kind(t) == ROOT_KIND]
    return roots[-1] if roots else None


def _latest_release(orch: Orchestrator) -> Task | None:
    page = orch.query_tasks(specialist_type=["coordinator"], task_type=["deployment"], limit=1000)
    roots = [t for t in page.tasks if _kind(t) == ROOT_KIND]
    return roots[-1] if roots else None


def _is_agent(task: Task) -> bool:
    return isinstance(task.context, dict) and bool(task.context.get("agent"))


def _kind(task: Task) -> str | None:
    return task.context.get("kind") if isinstance(task.context, dict) else None


def _plan_of(release: Task) -> ReleasePlan:
    assert isinstance(release.context, dict)
    return ReleasePlan.from_data(release.context["plan"])


def _steps(orch: Orchestrator, release: Task) -> list[Task]:
    page = orch.query_tasks(parent_task_id=release.id, include_artifacts=True, limit=100)
    return [t for t in page.tasks if t.status != "archived"]


def _step_key(task: Task) -> str:
    return str(task.context.get("step")) if isinstance(task.context, dict) else ""


# -- running --------------------------------------------------------------------------


def _run(
    orch: Orchestrator,
    root: Path,
    config: Config,
    release: Task,
    *,
    yes: bool,
    on_progress: Progress | None,
    confirm: Confirm | None,
) -> ReleaseOutcome:
    plan = _plan_of(release)
    run = _Run(
        orch,
        root,
        config,
        plan,
        worker=f"release:{os.getpid()}@{_hostname()}",
        say=on_progress or (lambda _d, _t, _m: None),
    )
    orch.reclaim_dead_workers()
    _retry_failed(orch, release)
    _clean_worktrees(root)
    while True:
        steps = _steps(orch, release)
        ready = _ready(steps)
        if not ready:
            break
        task = ready[0]
        if isinstance(task.context, dict) and task.context.get("agent"):
            break  # left for an agent (an MCP client); the run stops here
        if _step_key(task) == "tag" and not plan.dry_run and not yes:
            ask = confirm or (lambda _q: False)
            if not ask(f"Create tag {plan.tag} now?"):
                return _outcome(orch, release, plan, stopped="confirmation")
        failure = run.step(task, steps)
        if failure is not None and _step_key(task) == "highlights":
            return _outcome(orch, release, plan, stopped="agent", error=failure)
        if failure is not None:
            return _outcome(orch, release, plan, stopped="failed", error=failure)
    return _finish(orch, release, plan)


def _clean_worktrees(root: Path) -> None:
    """Remove rollback-verification worktrees left behind by a crashed run."""
    from castoff.release.rollback.verify import cleanup_stale_worktrees

    cleanup_stale_worktrees(root)


def _ready(steps: list[Task]) -> list[Task]:
    """Pending steps whose dependencies are all completed, agent steps last."""
    completed = {t.id for t in steps if t.status == "completed"}
    ready = [
        t for t in steps if t.status == "pending" and all(d in completed for d in t.dependencies)
    ]
    agent = [t for t in ready if isinstance(t.context, dict) and t.context.get("agent")]
    return [t for t in ready if t not in agent] + agent


def _retry_failed(orch: Orchestrator, release: Task) -> None:
    """A resumed release retries its failed steps (and reopens a failed root)."""
    for task in _steps(orch, release):
        if task.status == "failed":
            orch.update_task(task.id, status="pending")
    if orch.get_task(release.id).status == "failed":
        orch.update_task(release.id, status="pending")


@dataclass
class _Run:
    """One process running steps of one release."""

    orch: Orchestrator
    root: Path
    config: Config
    plan: ReleasePlan
    worker: str
    say: Progress

    def step(self, task: Task, steps: list[Task]) -> CastoffError | None:
        """Run one step: execute_task → executor → complete_task (or fail_task)."""
        from castoff.orchestrator.models import ArtifactInput

        orch, key = self.orch, _step_key(task)
        done = sum(1 for t in steps if t.status == "completed")

        def progress(message: str) -> None:
            _crash_point(key, "inside")
            self.say(done, len(steps), f"{task.title}: {message}")

        self.say(done, len(steps), task.title)
        _crash_point(key, "before")
        orch.execute_task(task.id, worker=self.worker, lease_seconds=LEASE_SECONDS)
        inp = StepInput(
            root=self.root,
            config=self.config,
            plan=self.plan,
            results=_results(orch, steps),
            on_progress=progress,
            agent_work=_agent_work(orch, steps),
        )
        try:
            with _heartbeat(orch, task.id, self.worker):
                result = EXECUTORS[key](inp)
        except CastoffError as exc:
            _fail(
                orch,
                task,
                self.worker,
                exc.message,
                exc.result if isinstance(exc, StepFailed) else None,
            )
            if key == "highlights" and isinstance(exc, CheckFailed):
                _ask_agent_again(orch, task, steps, exc.message)
            return exc
        except BaseException as exc:
            _fail(orch, task, self.worker, f"internal error: {type(exc).__name__}: {exc}", None)
            raise
        _crash_point(key, "after")
        documents = [ArtifactInput(n, content, kind) for n, content, kind in result.documents]
        orch.complete_task(
            task.id,
            result.summary,
            artifacts=[
                ArtifactInput(
                    RESULT_NAME, json.dumps(result.data, indent=2, default=str), "analysis"
                ),
                *documents,
            ],
            next_action=result.next_action,
            worker=self.worker,
        )
        self.say(done + 1, len(steps), task.title)
        return None


def _fail(
    orch: Orchestrator, task: Task, worker: str, message: str, result: StepResult | None
) -> None:
    if result is not None:
        orch.record_event(
            task.id, "release.step_report", {"summary": message, "report": result.data}
        )
    orch.fail_task(task.id, message, worker=worker)


def _ask_agent_again(orch: Orchestrator, check: Task, steps: list[Task], reason: str) -> None:
    """The agent's draft was refused: archive it and plan a fresh one for the agent."""
    draft = next(t for t in steps if _step_key(t) == "highlights_draft")
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


def _results(orch: Orchestrator, steps: list[Task]) -> dict[str, dict[str, Any]]:
    """The ``result.json`` of every completed step, by step key."""
    out: dict[str, dict[str, Any]] = {}
    for t in steps:
        if t.status != "completed":
            continue
        art = next((a for a in t.artifacts if a.name == RESULT_NAME), None)
        if art is not None:
            out[_step_key(t)] = json.loads(orch.read_artifact(art.sha256))
    return out


def _agent_work(orch: Orchestrator, steps: list[Task]) -> dict[str, str]:
    """What agents wrote for the agent steps (summary, or an artifact named <step>.md)."""
    out: dict[str, str] = {}
    for t in steps:
        ctx = t.context if isinstance(t.context, dict) else {}
        if not ctx.get("agent") or t.status != "completed":
            continue
        key = str(ctx.get("step", "")).removesuffix("_draft")
        art = next((a for a in t.artifacts if a.name == f"{key}.md"), None)
        text = orch.read_artifact(art.sha256).decode() if art else (t.summary or "")
        out[key] = text
    return out


@contextmanager
def _heartbeat(orch: Orchestrator, task_id: str, worker: str) -> Iterator[None]:
    """Keep the step's lease alive while a long executor runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                orch.heartbeat(task_id, worker=worker, lease_seconds=LEASE_SECONDS)
            except CastoffError:
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _crash_point(step: str, where: str) -> None:
    """Test hook: ``CASTOFF_CRASH_AT=<step>:<where>`` kills this process right here."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and wanted == f"{step}:{where}":
        os.kill(os.getpid(), signal.SIGKILL)


def _hostname() -> str:
    import socket

    return socket.gethostname()


# -- finishing ------------------------------------------------------------------------


def _finish(orch: Orchestrator, release: Task, plan: ReleasePlan) -> ReleaseOutcome:
    """All runnable steps done: synthesize the report and complete the root, or say what waits."""
    steps = _steps(orch, release)
    if any(t.status != "completed" for t in steps):
        return _outcome(orch, release, plan, stopped="agent")
    from castoff.orchestrator.models import ArtifactInput
    from castoff.release.workflow.report import release_report

    synthesis = orch.synthesize_results(release.id)
    markdown, data = release_report(plan, steps, _results(orch, steps), synthesis)
    current = orch.get_task(release.id)
    if current.status == "pending":
        orch.execute_task(release.id, lease_seconds=LEASE_SECONDS)
    outcome = "dry_run" if plan.dry_run else "released"
    orch.complete_task(
        release.id,
        f"{outcome}: {plan.tag}",
        artifacts=[
            ArtifactInput("release-report.md", markdown, "documentation"),
            ArtifactInput("release-report.json", json.dumps(data, indent=2), "documentation"),
        ],
    )
    return _outcome(orch, orch.get_task(release.id), plan, stopped=None)


def _outcome(
    orch: Orchestrator,
    release: Task,
    plan: ReleasePlan,
    *,
    stopped: str | None,
    error: CastoffError | None = None,
) -> ReleaseOutcome:
    steps = _steps(orch, release)
    states = tuple(_state(t, _started_at(orch, t)) for t in steps)
    remaining = tuple(s.key for s in states if s.status != "completed")
    report = None
    if release.status == "completed":
        report = {a.name: a.sha256 for a in orch.get_task(release.id).artifacts}

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
    if stopped == "failed" and error is not None:
        code = error.exit_code if error.exit_code != 4 else 1
        return make(
            "conflict" if code == 3 else "failed",
            f"{'dry run of ' if plan.dry_run else ''}release {plan.tag} failed: {error.message}",
            code,
            "fix the cause, then run the dry run again"
            if plan.dry_run  # its store is gone: there is nothing to resume
            else "fix the cause, then `castoff release resume` retries the failed step",
        )
    failed = [s for s in states if s.status == "failed"]
    if stopped is None and failed:  # status of a release whose last run failed
        return make(
            "failed",
            f"release {plan.tag} failed at {failed[0].title}: {failed[0].error}",
            1,
            "fix the cause, then `castoff release resume` retries the failed step",
        )
    if stopped is None and not remaining:
        return make("partial", f"release {plan.tag} is not finished", 4)
    agent_work = [f"{t.title} ({t.id})" for t in steps if _is_agent(t) and t.status == "pending"]
    waiting = {
        "confirmation": f"stopped before tagging {plan.tag}: confirm with "
        "`castoff release resume --yes`",
        "agent": (f"refused: {error.message}; " if error is not None else "")
        + (
            f"waiting for an agent to complete: {', '.join(agent_work)}"
            if agent_work
            else "waiting on: " + ", ".join(s.title for s in states if s.status != "completed")
        ),
    }.get(stopped or "", f"release {plan.tag} is part-way")
    return make(
        "partial",
        f"{waiting} (done: {len(states) - len(remaining)}/{len(states)})",
        4,
        "castoff release resume --yes",
    )


def _started_at(orch: Orchestrator, task: Task) -> datetime | None:
    """When the task's latest attempt started (its last ``task.in_progress`` event)."""
    if task.status not in ("completed", "failed"):
        return None
    started = orch.events(task_id=task.id, kind="task.in_progress", limit=1)
    return started[0].created_at if started else None


def _state(task: Task, started_at: datetime | None) -> StepState:
    duration = None
    ended = task.completed_at or (task.updated_at if task.status == "failed" else None)
    if started_at is not None and ended is not None:
        duration = round((ended - started_at).total_seconds(), 3)
    return StepState(
        key=_step_key(task),
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


__all__ = [
    "ReleaseOptions",
    "ReleaseOutcome",
    "StepState",
    "find_open_release",
    "plan_release",
    "prepare",
    "resume",
    "status",
]
