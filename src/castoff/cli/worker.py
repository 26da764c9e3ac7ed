"""`castoff worker`: run release steps from the (shared) store."""

from __future__ import annotations

from typing import Annotated

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt, YesOpt

ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", "-n", min=1, help="Steps to run at the same time.")
]
OnceOpt = Annotated[
    bool, typer.Option("--once", help="Stop when no step is ready instead of waiting for work.")
]
PollOpt = Annotated[
    float, typer.Option("--poll", min=0.1, help="Seconds between looks for ready steps.")
]


def register(app: typer.Typer) -> None:
    """Add ``castoff worker``."""

    @app.command("worker")
    def worker(
        concurrency: ConcurrencyOpt = 1,
        once: OnceOpt = False,
        poll: PollOpt = 2.0,
        yes: YesOpt = False,
        as_json: JsonOpt = False,
        working_directory: WorkdirOpt = None,
    ) -> None:
        """Run the ready steps of the release in progress (tags only with --yes)."""
        import signal
        import threading

        from castoff.cli.output import emit
        from castoff.release.git import repo_root
        from castoff.release.workflow.worker import work
        from castoff.workspace import find_root

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        root = repo_root(find_root(working_directory))
        try:
            report = work(
                root, concurrency=concurrency, once=once, yes=yes, poll_seconds=poll, stop=stop
            )
        except KeyboardInterrupt:
            stop.set()
            raise
        emit(
            report,
            as_json=as_json,
            human=lambda c: c.print(
                f"ran {len(report.ran)} step(s), {len(report.failed)} failed, "
                f"{len(report.finished_releases)} release(s) finished"
                + "".join(f"\n  ✗ {tid}: {msg}" for tid, msg in report.failed.items())
            ),
        )
        if report.exit_code:
            raise typer.Exit(report.exit_code)
