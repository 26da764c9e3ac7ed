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
from castoff.errors import CastoffError, ConflictError, NotFound, TagConflict, UsageError
from castoff.release.version import version_settings
from castoff.release.workflow import graph
from castoff.release.workflow.check_steps import rollback_commit, validated_commit
from castoff.release.workflow.contract import ReleasePlan
from castoff.release.workflow.execution import Heartbeat, Progress, StepRunner
from castoff.release.workflow.outcome import (
    ReleaseOutcome,
    StepState,
    abandon_hint,
    describe,
    finish,
)
from castoff.release.workflow.scratch import clean_scratch

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
    with _one_run_at_a_time(root) as tidy, _open(root, database_url) as orch:
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
    with _one_run_at_a_time(root) as tidy, _open(root, database_url) as orch:
        release = graph.find_open_release(orch)
        if release is None:
            start = "castoff release prepare" + (f" --package {package}" if package else "")
            raise NotFound(f"no release in progress here; start one with `{start}`")
        _check_package(release, package)
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


FINISHED = "finished"


@contextmanager
def _one_run_at_a_time(root: Path) -> Iterator[bool]:
    """An exclusive lock on ``.castoff/release.lock`` for the whole run (freed even by SIGKILL).

    Two runs at once would both plan a release, or race for the same step's
    lease and for git's index; the second is refused instead. The file says
    ``pid N`` while a run holds it and gains a ``finished`` line when the run
    ends (normally or by an error); yields True when the previous run did not
    finish (killed): its scratch worktrees and directories are cleaned up.
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
        before = handle.read().split()
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield bool(before) and before[-1] != FINISHED
        finally:
            handle.write(f"{FINISHED}\n")
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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


def _check_package(release: Task, package: str | None) -> None:
    """Refuse to continue a release of another monorepo package than ``package``.

    One release is open at a time in a repository, whatever its package: the
    releases share the branch, and the tag of one must not land on the release
    commit of another (see docs/release.md, Monorepos).
    """
    plan = graph.plan_of(release)
    if package is None or plan.package == package:
        return
    raise NotFound(
        f"no release of {package} in progress: release {plan.tag} is; finish it with "
        f"`castoff release resume`, or {abandon_hint(release.id)}"
    )


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
        plan = _decide(root, config, options)
        if isinstance(plan, ReleaseOutcome):
            return plan
        release, steps = graph.plan_release(orch, plan)
    else:
        _check_one_release_at_a_time(release, options)
        _check_same_release(release, options)
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


def _check_one_release_at_a_time(release: Task, options: ReleaseOptions) -> None:
    """Another monorepo package's release is open: a conflict (exit 3) that says what to do.

    The releases of a monorepo's packages share the branch: were a second one
    prepared while the first waits, the first's tag would follow HEAD onto the
    second's release commit, and rolling it back would revert the wrong commit.
    """
    plan = graph.plan_of(release)
    if options.package is None or options.package == plan.package:
        return
    raise ConflictError(
        f"release {plan.tag} is in progress, and a repository has one release in progress at "
        f"a time: finish it with `castoff release resume --yes` before preparing "
        f"{options.package}, or {abandon_hint(release.id)}"
    )


def _check_same_release(release: Task, options: ReleaseOptions) -> None:
    """Resuming through ``prepare``: refuse options the open release was not planned with."""
    plan = graph.plan_of(release)
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
            f"finish it with `castoff release resume`, or {abandon_hint(release.id)}"
        )


def _decide(root: Path, config: Config, options: ReleaseOptions) -> ReleasePlan | ReleaseOutcome:
    """The version to release, or the plain answer that there is nothing to release.

    ``root`` is the repository's top (the CLI and the MCP server resolved it).
    A release tag that already exists on another commit is refused here, before
    anything is written (TagConflict, exit 3).
    """
    from castoff.release.next_version import compute_next

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
    head, tagged = _head_and_tag(root, nxt.tag)
    if tagged is not None and tagged != head:
        raise TagConflict(
            f"tag {nxt.tag} already exists on commit {tagged[:12]}, not on HEAD {head[:12]}; "
            f"release another version (--version / --bump), or delete the tag if it is a "
            f"mistake (`git tag -d {nxt.tag}`)",
            tag=nxt.tag,
        )
    return ReleasePlan(
        version=nxt.next,
        tag=nxt.tag,
        current=nxt.current,
        previous_tag=nxt.previous_tag,
        since_tag=nxt.since_tag,
        bump=nxt.bump,
        scheme=nxt.scheme,
        package=nxt.package,
        head_sha=head,
        push=options.push,
        announce=options.announce,
        agent=options.agent,
        skip_rollback_check=options.skip_rollback_check,
        dry_run=options.dry_run,
    )


def _head_and_tag(root: Path, tag: str) -> tuple[str, str | None]:
    """HEAD's sha and the commit ``tag`` points at (None: no such tag), in one git call."""
    from castoff.release import git

    ref = f"refs/tags/{tag}"
    found: dict[str, str] = {}
    for line in git.run_git(root, "show-ref", "--head", "--dereference", ref).splitlines():
        sha, _, name = line.partition(" ")
        found[name] = sha
    head = found.get("HEAD") or git.head_sha(root)
    return head, found.get(f"{ref}^{{}}") or found.get(ref)


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
                redo = _tag_missing(orch, root, release, plan, steps, run)
                if redo is None:
                    break
                steps = redo
                continue
            task = ready[0]
            if graph.is_agent_step(task):
                break  # left for an agent (an MCP client); the run stops here
            if graph.step_key(task) == "tag" and not plan.dry_run:
                moved = _follow_head(orch, root, release, plan, steps, run)
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


def _follow_head(
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


def _tag_missing(
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
