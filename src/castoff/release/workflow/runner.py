"""Plan or resume a release graph and run it through the orchestrator.

:func:`prepare` is ``castoff release prepare`` (and ``release_prepare`` over
MCP); :func:`resume` continues the open release; :func:`status` reports it.
Every step runs through the orchestrator's own operations — ``execute_task``
(lease claim), the executor, ``complete_task`` (artifacts, events) — so a
release killed at any point resumes from the last completed step, and the
executors' idempotence guarantees nothing is done twice.

A run keeps the release's steps and results in memory (updated from what
``complete_task`` returns); the store is read once at its start. Steps the
runner did not complete itself are run again (:func:`graph.untrusted_steps`),
and before the tag HEAD must be the commit that was validated: new commits
on top of the release commit are validated (and the rollback re-verified)
first; a rewritten history is a conflict with a way out.

Beside the run: :mod:`.decision` (the options, and the version to release or
nothing to release), :mod:`.run_lock` (one run at a time), :mod:`.tag_guards`
(HEAD and the tag, checked around the tag step), :mod:`.execution` (one step
through the orchestrator) and :mod:`.outcome` (how the run ends).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.config import Config, load_config
from castoff.errors import NotFound
from castoff.release.version import version_settings
from castoff.release.workflow import graph
from castoff.release.workflow.decision import (
    ReleaseOptions,
    check_one_release_at_a_time,
    check_package,
    check_same_release,
    decide,
)
from castoff.release.workflow.execution import Heartbeat, Progress, StepRunner
from castoff.release.workflow.outcome import (
    ReleaseOutcome,
    StepState,
    describe,
    finish,
)
from castoff.release.workflow.run_lock import one_run_at_a_time
from castoff.release.workflow.scratch import clean_scratch
from castoff.release.workflow.tag_guards import follow_head, tag_missing

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

Confirm = Callable[[str], bool]


# -- entry points ---------------------------------------------------------------------


def prepare(
    root: Path,
    options: ReleaseOptions,
    *,
    on_progress: Progress | None = None,
    confirm: Confirm | None = None,
    database_url: str | None = None,
) -> ReleaseOutcome:
    """Plan (or resume) the release at ``root`` (the repository's top) and run it as far
    as it may go."""
    config = load_config(root)
    if options.dry_run:
        with tempfile.TemporaryDirectory(prefix="castoff-dry-run-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'dry-run.db'}"
            with _open(root, url) as orch:
                outcome = _prepare(
                    orch, root, config, options, on_progress=on_progress, confirm=confirm
                )
                # the temporary store goes away: keep what would be written in the outcome
                return replace(outcome, diff=_dry_run_diff(orch, outcome))
    with one_run_at_a_time(root) as tidy, _open(root, database_url) as orch:
        return _prepare(
            orch, root, config, options, on_progress=on_progress, confirm=confirm, tidy=tidy
        )


def _open(root: Path, database_url: str | None) -> Orchestrator:
    """The store, as this process's own lease holder (``release:<pid>@<host>``)."""
    from castoff.orchestrator.service import Orchestrator

    return Orchestrator.open(root, database_url=database_url, actor="release", process_bound=True)


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
    package: str | None = None,
) -> ReleaseOutcome:
    """Continue the open release from its last completed step.

    ``package``: the monorepo package whose release to continue; the open release
    must be that package's (NotFound otherwise, naming the one that is open).
    """
    config = load_config(root)
    if package is not None:
        version_settings(config, package)  # an unknown package: UsageError listing them
    with one_run_at_a_time(root) as tidy, _open(root, database_url) as orch:
        release = graph.find_open_release(orch)
        if release is None:
            start = "castoff release prepare" + (f" --package {package}" if package else "")
            raise NotFound(f"no release in progress here; start one with `{start}`")
        check_package(release, package)
        return _run(
            orch,
            root,
            config,
            release,
            yes=yes,
            on_progress=on_progress,
            confirm=confirm,
            tidy=tidy,
        )


def status(
    root: Path, *, database_url: str | None = None, package: str | None = None
) -> ReleaseOutcome:
    """The latest release's tree and state (of monorepo ``package``: its latest release),
    without running anything."""
    from castoff.orchestrator.service import Orchestrator

    if package is not None:
        version_settings(load_config(root), package)  # an unknown package: UsageError
    with Orchestrator.open(root, database_url=database_url, actor="release") as orch:
        release = graph.find_open_release(orch, package=package) or graph.latest_release(
            orch, package=package
        )
        if release is None:
            of = f" of {package}" if package else ""
            raise NotFound(f"no release{of} has been prepared here yet")
        return describe(orch, release, graph.plan_of(release), stopped=None)


# -- planning -------------------------------------------------------------------------


def _prepare(
    orch: Orchestrator,
    root: Path,
    config: Config,
    options: ReleaseOptions,
    *,
    on_progress: Progress | None,
    confirm: Confirm | None,
    tidy: bool = False,
) -> ReleaseOutcome:
    release = graph.find_open_release(orch)
    steps = None
    if release is None:
        plan = decide(root, config, options)
        if isinstance(plan, ReleaseOutcome):
            return plan
        release, steps = graph.plan_release(orch, plan)
    else:
        check_one_release_at_a_time(release, options)
        check_same_release(release, options)
    return _run(
        orch,
        root,
        config,
        release,
        yes=options.yes,
        on_progress=on_progress,
        confirm=confirm,
        tidy=tidy,
        steps=steps,
    )


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
    tidy: bool = True,
    steps: list[Task] | None = None,
) -> ReleaseOutcome:
    """Run the release's ready steps one by one until done, refused, or waiting.

    ``steps``: the release's steps when the caller has them (just planned).
    """
    plan = graph.plan_of(release)
    if steps is None:
        steps = graph.release_tasks(orch, release)
        if (release.status == "in_progress" or any(t.status == "in_progress" for t in steps)) and (
            orch.reclaim_dead_workers()
        ):
            release, steps = orch.get_task(release.id), graph.release_tasks(orch, release)
        release, steps = graph.retry_failed(orch, release, steps)
        steps = _rerun_untrusted(orch, release, steps)
    if tidy:
        clean_scratch(root)
    run = StepRunner(
        orch,
        root,
        config,
        plan,
        worker=orch.worker,
        say=on_progress or (lambda _d, _t, _m: None),
        results=graph.step_results(orch, steps),
        rollback_skip_recorded=plan.skip_rollback_check
        and graph.skip_rollback_recorded(orch, release),
        claim_ahead=True,  # this loop runs the next ready step itself
    )
    with Heartbeat(orch) as beat:
        run.heartbeat = beat
        while True:
            ready = graph.ready_steps(steps)
            if not ready:
                redo = tag_missing(orch, root, release, plan, steps, run)
                if redo is None:
                    break
                steps = redo
                continue
            task = ready[0]
            if graph.is_agent_step(task):
                break  # left for an agent (an MCP client); the run stops here
            if graph.step_key(task) == "tag" and not plan.dry_run:
                moved = follow_head(orch, root, release, plan, steps, run)
                if isinstance(moved, ReleaseOutcome):
                    return moved
                if moved is not None:
                    steps = moved
                    continue
                ask = confirm or (lambda _q: False)
                if not yes:
                    run.head = None  # HEAD is read again after the question
                if not yes and not ask(f"Create tag {plan.tag} now?"):
                    return describe(
                        orch,
                        release,
                        plan,
                        stopped="confirmation",
                        steps=steps,
                        timings=run.timings,
                    )
            ran = run.step(task, steps)
            steps = [ran.task if t.id == task.id else t for t in steps]
            if ran.cancelled is not None:
                orch.record_event(
                    release.id,
                    "release.run_cancelled",
                    {
                        "reason": ran.cancelled,
                        "step": graph.step_key(task),
                        "step_status": str(ran.task.status),
                    },
                )
                return describe(
                    orch,
                    release,
                    plan,
                    stopped="cancelled",
                    steps=steps,
                    timings=run.timings,
                    cancelled=(task.title, ran.cancelled),
                )
            if ran.error is not None and graph.step_key(task) == "highlights":
                return describe(orch, release, plan, stopped="agent", error=ran.error)
            if ran.error is not None:
                return describe(
                    orch,
                    release,
                    plan,
                    stopped="failed",
                    error=ran.error,
                    steps=steps,
                    timings=run.timings,
                )
    return finish(orch, release, plan, steps=steps, results=run.results, timings=run.timings)


def _rerun_untrusted(orch: Orchestrator, release: Task, steps: list[Task]) -> list[Task]:
    """Built-in steps completed by someone other than the release runner are run again."""
    untrusted = graph.untrusted_steps(orch, steps)
    if not untrusted:
        return steps
    who = ", ".join(sorted(set(untrusted.values())))
    return graph.reopen(
        orch,
        release,
        steps,
        untrusted,
        f"completed outside the release runner (by {who}); a built-in step counts only "
        "when the runner ran it, so it runs again",
    )


__all__ = [
    "Confirm",
    "Progress",
    "ReleaseOutcome",
    "StepState",
    "prepare",
    "resume",
    "status",
]
