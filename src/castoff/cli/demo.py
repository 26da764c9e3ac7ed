"""`castoff demo`: a sample repository released end to end on the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from castoff.cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

KeepOpt = Annotated[
    Path | None,
    typer.Option("--directory", help="Create the sample repository here instead of a temp dir."),
]


def register(app: typer.Typer) -> None:
    """Add ``castoff demo``."""

    @app.command("demo")
    def demo(directory: KeepOpt = None, as_json: JsonOpt = False) -> None:
        """Create a sample repository with a realistic history and prepare its release."""
        import tempfile

        from castoff.cli.output import console, emit, progress
        from castoff.demo import build_sample_repository
        from castoff.release.workflow.decision import ReleaseOptions
        from castoff.release.workflow.runner import prepare

        base = directory or Path(tempfile.mkdtemp(prefix="castoff-demo-"))
        repo = build_sample_repository(base / "skyline")
        out = console(stderr=True)
        if not as_json:
            out.print(f"[bold]castoff demo[/]: sample repository at {repo}")
            out.print("history since v1.0.0: features, fixes, a breaking change, a migration,")
            out.print("two contributors and a first-time contributor. Preparing the release…")
        with progress(enabled=not as_json) as bar:
            job = bar.add_task("release", total=None) if bar else None

            def say(done: int, total: int, message: str) -> None:
                if bar is not None and job is not None:
                    bar.update(job, completed=done, total=total, description=message[:60])

            outcome = prepare(repo, ReleaseOptions(yes=True), on_progress=say)

        def human(c: Console) -> None:
            from castoff.cli.release import show_outcome
            from castoff.orchestrator.service import Orchestrator

            show_outcome(outcome, c)
            if outcome.report:
                with Orchestrator.open(repo) as orch:
                    report = orch.read_artifact(outcome.report["release-report.md"]).decode()
                from rich.markdown import Markdown

                c.print(Markdown(report))
            c.print(f"\nartifacts: {repo / '.castoff' / 'artifacts'}")
            c.print(f"inspect:   castoff release status -C {repo}")

        emit(outcome, as_json=as_json, human=human)
        if outcome.exit_code:
            raise typer.Exit(outcome.exit_code)
