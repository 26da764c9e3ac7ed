"""`castoff release prepare | status | resume`: the whole release as one resumable graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt, YesOpt

if TYPE_CHECKING:
    from rich.console import Console

    from castoff.release.workflow.runner import Confirm, Progress, ReleaseOutcome

BumpOpt = Annotated[
    str | None,
    typer.Option(
        "--bump", help="Bump this part instead of the commits' verdict: major|minor|patch."
    ),
]
VersionOpt = Annotated[
    str | None, typer.Option("--version", help="Release exactly this version (must be greater).")
]
PrereleaseOpt = Annotated[
    str | None, typer.Option("--prerelease", help="Make or continue a prerelease: rc|beta|alpha.")
]
PackageOpt = Annotated[
    str | None, typer.Option("--package", help="The monorepo package to release.")
]
PushOpt = Annotated[
    bool, typer.Option("--push", help="Push the release commit and tag (after tagging).")
]
AnnounceOpt = Annotated[
    bool,
    typer.Option("--announce", help="Deliver the announcements to the configured channels."),
]
AgentOpt = Annotated[
    bool,
    typer.Option(
        "--agent", help="Leave the writing tasks for an MCP client (agent) to do, then check them."
    ),
]
SkipRollbackOpt = Annotated[
    bool,
    typer.Option(
        "--skip-rollback-check",
        help="Tag even without a verified rollback plan (recorded in the events).",
    ),
]

_MARK = {"completed": "✓", "failed": "✗", "in_progress": "…", "pending": "·", "cancelled": "⊘"}


def _root(workdir: Path | None) -> Path:
    from castoff.release.git import repo_root
    from castoff.workspace import find_root

    return repo_root(find_root(workdir))


def show_outcome(outcome: ReleaseOutcome, console: Console) -> None:
    from rich.markup import escape
    from rich.tree import Tree

    title = f"[bold]Release {escape(outcome.tag)}[/]" if outcome.tag else "[bold]Release[/]"
    tree = Tree(title)
    for step in outcome.steps:
        mark = _MARK.get(step.status, "?")
        took = f" [dim]{step.duration_seconds:.1f}s[/]" if step.duration_seconds else ""
        line = f"{mark} {escape(step.title)} [dim]({step.status})[/]{took}"
        node = tree.add(line)
        detail = step.error if step.status == "failed" else step.summary
        if detail:
            node.add(f"[dim]{escape(detail)}[/]")
        for art in step.artifacts:
            if art["name"] != "result.json":
                node.add(f"[cyan]{escape(art['name'])}[/] [dim]{art['sha256'][:12]}[/]")
    if outcome.steps:
        console.print(tree)
    if outcome.diff:
        from rich.syntax import Syntax

        console.print("[bold]The release commit would change:[/]")
        # never wrapped: the diff stays copyable and appliable (`git apply`)
        diff = Syntax(outcome.diff, "diff", background_color="default", word_wrap=False)
        console.print(diff, soft_wrap=True, crop=False)
    style = {"released": "green", "dry_run": "green", "nothing_to_release": "green"}.get(
        outcome.outcome, "yellow" if outcome.outcome == "partial" else "red"
    )
    console.print(f"[{style}]{outcome.outcome}[/]: {escape(outcome.message)}")
    if outcome.next_action:
        console.print(f"next: {escape(outcome.next_action)}")


def _finish(outcome: ReleaseOutcome, as_json: bool) -> None:
    from castoff.cli.output import emit

    emit(outcome, as_json=as_json, human=lambda c: show_outcome(outcome, c))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _run_with_progress(
    as_json: bool, work: Callable[[Progress, Confirm], ReleaseOutcome]
) -> ReleaseOutcome:
    from castoff.cli.output import progress

    with progress(enabled=not as_json) as bar:
        if bar is None:
            return work(lambda _d, _t, _m: None, _confirm)
        job = bar.add_task("release", total=None)

        def update(done: int, total: int, message: str) -> None:
            bar.update(job, completed=done, total=total, description=message[:60])

        def ask(question: str) -> bool:
            bar.stop()  # the live bar would redraw over the question
            try:
                return _confirm(question)
            finally:
                bar.start()

        return work(update, ask)


def _confirm(question: str) -> bool:
    from castoff.cli.output import confirm

    return confirm(question, assume_yes=False)


def register(app: typer.Typer) -> None:
    """Add ``castoff release``."""
    release = typer.Typer(
        name="release",
        help="Prepare a release: notes, version, validation, rollback plan, tag, announcements.",
        no_args_is_help=True,
    )

    @release.command("prepare")
    def prepare(
        dry_run: DryRunOpt = False,
        bump: BumpOpt = None,
        version: VersionOpt = None,
        prerelease: PrereleaseOpt = None,
        package: PackageOpt = None,
        push: PushOpt = False,
        announce: AnnounceOpt = False,
        agent: AgentOpt = False,
        skip_rollback_check: SkipRollbackOpt = False,
        yes: YesOpt = False,
        as_json: JsonOpt = False,
        working_directory: WorkdirOpt = None,
    ) -> None:
        """Plan (or resume) the release and run it up to the tag (and push / announce)."""
        from castoff.errors import UsageError
        from castoff.release.workflow.decision import ReleaseOptions
        from castoff.release.workflow.runner import prepare as run_prepare

        if bump is not None and version is not None:
            raise UsageError("--bump and --version exclude each other")
        if bump is not None and bump not in ("major", "minor", "patch"):
            raise UsageError(f"--bump must be major, minor or patch (got {bump!r})")
        if prerelease is not None and prerelease not in ("rc", "beta", "alpha"):
            raise UsageError(f"--prerelease must be rc, beta or alpha (got {prerelease!r})")
        root = _root(working_directory)
        options = ReleaseOptions(
            bump=bump,
            version=version,
            prerelease=prerelease,
            package=package,
            push=push,
            announce=announce,
            yes=yes,
            dry_run=dry_run,
            agent=agent,
            skip_rollback_check=skip_rollback_check,
        )
        outcome = _run_with_progress(
            as_json,
            lambda say, ask: run_prepare(root, options, on_progress=say, confirm=ask),
        )
        _finish(outcome, as_json)

    @release.command("resume")
    def resume(
        yes: YesOpt = False,
        package: Annotated[
            str | None,
            typer.Option("--package", help="The monorepo package whose release to continue."),
        ] = None,
        as_json: JsonOpt = False,
        working_directory: WorkdirOpt = None,
    ) -> None:
        """Continue the release in progress from its last completed step."""
        from castoff.release.workflow.runner import resume as run_resume

        root = _root(working_directory)
        outcome = _run_with_progress(
            as_json,
            lambda say, ask: run_resume(
                root, yes=yes, on_progress=say, confirm=ask, package=package
            ),
        )
        _finish(outcome, as_json)

    @release.command("status")
    def status(
        package: Annotated[
            str | None,
            typer.Option("--package", help="Show this monorepo package's latest release."),
        ] = None,
        as_json: JsonOpt = False,
        working_directory: WorkdirOpt = None,
    ) -> None:
        """Show the release's task tree: each step's state, duration and artifacts."""
        from castoff.cli.output import emit
        from castoff.release.workflow.runner import status as run_status

        outcome = run_status(_root(working_directory), package=package)
        emit(outcome, as_json=as_json, human=lambda c: show_outcome(outcome, c))

    app.add_typer(release)
