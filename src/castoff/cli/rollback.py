"""`castoff rollback plan | run`: a verified way back before anything ships."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt, YesOpt

if TYPE_CHECKING:
    from rich.console import Console

    from castoff.release.rollback.execute import RollbackRun

ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="The release tag to go back to (default: the previous release).",
        show_default=False,
    ),
]
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="Plan for this release version (default: the latest release tag).",
        show_default=False,
    ),
]
VerifyOpt = Annotated[
    bool,
    typer.Option(
        "--verify/--no-verify",
        help="Build the target tag in a scratch worktree to prove it restorable.",
    ),
]
PushOpt = Annotated[
    bool, typer.Option("--push", help="Also delete the tag and push the revert on the remote.")
]

_MARKS = {
    "done": "✓",
    "already_done": "✓",
    "completed_before": "✓",
    "would_run": "→",
    "needs_push": "…",
    "manual": "✋",
    "failed": "✗",
    "pending": "·",
}


def _progress(as_json: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not as_json:
            sys.stderr.write(f"… {message}\n")
            sys.stderr.flush()

    return say


def plan(
    to: ToOpt = None,
    version: VersionOpt = None,
    verify: VerifyOpt = False,
    as_json: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Plan how to undo a release: ordered steps per layer and the risks of going back."""
    from castoff import workspace
    from castoff.cli.output import print_json
    from castoff.config import load_config
    from castoff.errors import CheckFailed
    from castoff.release.rollback.plan import plan_data, render_markdown
    from castoff.release.rollback.repo import plan_rollback, resolve_new_release
    from castoff.release.rollback.verify import verify_plan

    root = workspace.find_root(workdir)
    config = load_config(root)
    new_version, new_tag, new_ref = resolve_new_release(root, config, version)
    result = plan_rollback(
        root, config, new_version=new_version, new_tag=new_tag, new_ref=new_ref, target_tag=to
    )
    if verify:
        say = _progress(as_json)
        result = result.with_verification(verify_plan(root, config, result, on_progress=say))
    if as_json:
        print_json(plan_data(result))
    else:
        sys.stdout.write(render_markdown(result))
    if result.verification is not None and not result.verification.ok:
        raise CheckFailed(f"rollback verification failed: {result.verification.error}")


def _print_run(run: RollbackRun, out: Console) -> None:
    for number, step in enumerate(run.steps, 1):
        mark = _MARKS.get(step.status, "?")
        out.print(
            f"{mark} {number}. [{step.layer}] {step.title} ({step.status.replace('_', ' ')})",
            markup=False,
        )
        if step.detail:
            out.print(f"     {step.detail}", markup=False)
        elif step.status in ("manual", "would_run", "needs_push") and step.command:
            out.print(f"     $ {step.command}", markup=False)
        if step.status == "manual" and step.instructions:
            out.print(f"     {step.instructions}", markup=False)
    out.print(run.message, markup=False)


def run(
    to: Annotated[
        str, typer.Option("--to", help="The release tag to go back to.", show_default=False)
    ],
    yes: YesOpt = False,
    push: PushOpt = False,
    as_json: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Roll back to a release tag: dry-run by default; --yes runs the steps as resumable tasks."""
    from castoff import workspace
    from castoff.cli.output import emit
    from castoff.config import load_config
    from castoff.errors import CheckFailed
    from castoff.release.rollback.execute import outcome_data, run_rollback

    root = workspace.find_root(workdir)
    config = load_config(root)
    say = _progress(as_json)
    store_exists = (workspace.state_dir(root) / "castoff.db").exists()
    if yes or store_exists or workspace.DATABASE_ENV in os.environ:
        from castoff.orchestrator.service import Orchestrator

        with Orchestrator.open(root) as orch:
            result = run_rollback(
                root, config, orch, to_tag=to, yes=yes, push=push, on_progress=say
            )
    else:
        result = run_rollback(root, config, None, to_tag=to, yes=False, push=push)
    emit(outcome_data(result), as_json=as_json, human=lambda out: _print_run(result, out))
    if result.status == "failed":
        raise CheckFailed(result.message)


def register(app: typer.Typer) -> None:
    """Add ``castoff rollback`` to ``app``."""
    group = typer.Typer(
        name="rollback",
        help="Plan, verify and run a rollback to the previous release.",
        no_args_is_help=True,
    )
    group.command("plan")(plan)
    group.command("run")(run)
    app.add_typer(group)
