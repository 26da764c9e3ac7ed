"""`castoff rollback plan | run`: a verified way back before anything ships."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt, YesOpt

if TYPE_CHECKING:
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
PackageOpt = Annotated[
    str | None,
    typer.Option(
        "--package",
        help="The monorepo package (version.packages); default: the one --to names.",
        show_default=False,
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
    package: PackageOpt = None,
    as_json: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Plan how to undo a release: ordered steps per layer and the risks of going back."""
    from castoff import workspace
    from castoff.cli.output import print_json
    from castoff.errors import CheckFailed
    from castoff.release.rollback.api import rollback_plan
    from castoff.release.rollback.plan import plan_data, render_markdown

    root = workspace.find_root(workdir)
    result = rollback_plan(
        root,
        to=to,
        version=version,
        verify=verify,
        on_progress=_progress(as_json),
        package=package,
    )
    if as_json:
        print_json(plan_data(result))
    else:
        sys.stdout.write(render_markdown(result))
        if result.artifacts:
            sys.stderr.write(f"plan stored in {result.artifacts[0]} (and .json)\n")
    if result.verification is not None and not result.verification.ok:
        raise CheckFailed(f"rollback verification failed: {result.verification.error}")


def _print_run(run: RollbackRun) -> None:
    """Plain text (no wrapping), so commands stay copy-pasteable."""
    lines: list[str] = []
    for number, step in enumerate(run.steps, 1):
        mark = _MARKS.get(step.status, "?")
        lines.append(
            f"{mark} {number}. [{step.layer}] {step.title} ({step.status.replace('_', ' ')})"
        )
        if step.detail:
            lines.append(f"     {step.detail}")
        elif step.status in ("manual", "would_run", "needs_push") and step.command:
            lines.append(f"     $ {step.command}")
        if step.status == "manual" and step.instructions:
            lines.append(f"     {step.instructions}")
    lines.append(run.message)
    sys.stdout.write("\n".join(lines) + "\n")


def run(
    to: Annotated[
        str, typer.Option("--to", help="The release tag to go back to.", show_default=False)
    ],
    yes: YesOpt = False,
    push: PushOpt = False,
    package: PackageOpt = None,
    as_json: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Roll back to a release tag: dry-run by default; --yes runs the steps as resumable tasks."""
    from castoff import workspace
    from castoff.cli.output import emit
    from castoff.errors import CheckFailed
    from castoff.release.rollback.api import rollback_run
    from castoff.release.rollback.execute import outcome_data

    root = workspace.find_root(workdir)
    result = rollback_run(
        root, to=to, yes=yes, push=push, on_progress=_progress(as_json), package=package
    )
    emit(outcome_data(result), as_json=as_json, human=lambda _console: _print_run(result))
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
