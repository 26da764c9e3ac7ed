"""Plan or resume a release graph and run it through the orchestrator.

:func:`prepare` is ``castoff release prepare`` (and ``release_prepare`` over
MCP); :func:`resume` continues the open release; :func:`status` reports it.
Every step runs through the orchestrator's own operations — ``execute_task``
(lease claim), the executor, ``complete_task`` (artifacts, events) — so a
release killed at any point resumes from the last completed step, and the
executors' idempotence guarantees nothing is done twice.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.config import Config, load_config
from castoff.errors import ConflictError, NotFound, UsageError
from castoff.orchestrator.core import process_worker
from castoff.release.workflow import graph
from castoff.release.workflow.execution import Progress, StepRunner
from castoff.release.workflow.executors import ReleasePlan
from castoff.release.workflow.outcome import ReleaseOutcome, StepState, describe, finish

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

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
        release = graph.find_open_release(orch)
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
        release = graph.find_open_release(orch) or graph.latest_release(orch)
        if release is None:
            raise NotFound("no release has been prepared here yet")
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
) -> ReleaseOutcome:
    release = graph.find_open_release(orch)
    if release is None:
        plan = _decide(root, config, options)
        if isinstance(plan, ReleaseOutcome):
            return plan
        release = graph.plan_release(orch, plan)
    else:
        _check_same_release(graph.plan_of(release), options)
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
    """Run the release's ready steps one by one until done, refused, or waiting."""
    plan = graph.plan_of(release)
    run = StepRunner(
        orch,
        root,
        config,
        plan,
        worker=process_worker("release"),
        say=on_progress or (lambda _d, _t, _m: None),
    )
    orch.reclaim_dead_workers()
    graph.retry_failed(orch, release)
    clean_worktrees(root)
    while True:
        steps = graph.release_tasks(orch, release)
        ready = graph.ready_steps(steps)
        if not ready:
            break
        task = ready[0]
        if graph.is_agent_step(task):
            break  # left for an agent (an MCP client); the run stops here
        if graph.step_key(task) == "tag" and not plan.dry_run and not yes:
            ask = confirm or (lambda _q: False)
            if not ask(f"Create tag {plan.tag} now?"):
                return describe(orch, release, plan, stopped="confirmation")
        failure = run.step(task, steps)
        if failure is not None and graph.step_key(task) == "highlights":
            return describe(orch, release, plan, stopped="agent", error=failure)
        if failure is not None:
            return describe(orch, release, plan, stopped="failed", error=failure)
    return finish(orch, release, plan, run.results)


def clean_worktrees(root: Path) -> None:
    """Remove rollback-verification worktrees left behind by a crashed run."""
    from castoff.release.rollback.verify import cleanup_stale_worktrees

    cleanup_stale_worktrees(root)


__all__ = [
    "Confirm",
    "Progress",
    "ReleaseOptions",
    "ReleaseOutcome",
    "StepState",
    "prepare",
    "resume",
    "status",
]
