"""`castoff validate preflight | postdeploy`: prove a release shippable, then check it deployed.

Only typer, the standard library and castoff.cli helpers are imported at module
level; the validation library (:mod:`castoff.release.validate.api`, which also
stores each report under ``.castoff/validate/``) and Rich load inside the
commands. A run exits 1 when a check failed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt
from castoff.cli.output import console, print_json

if TYPE_CHECKING:
    from rich.console import Console

    from castoff.release.validate.model import ProgressCallback, ValidationReport

VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version", help="The version being released (default: the computed next version)."
    ),
]
DeployedVersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version", help="The deployed version (default: the latest release tag, prereleases too)."
    ),
]
CheckOpt = Annotated[
    list[str] | None,
    typer.Option("--check", help="Run only this check (and what it needs); repeatable."),
]
SkipOpt = Annotated[
    list[str] | None, typer.Option("--skip", help="Report this check as skipped; repeatable.")
]
PackageOpt = Annotated[
    str | None,
    typer.Option("--package", help="The monorepo package (version.packages) to validate."),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="Checks run at once (default: config, else 4)."),
]

validate_app = typer.Typer(
    name="validate",
    help="Pre-flight gates before tagging; post-deploy checks after deploying.",
    no_args_is_help=True,
)


def _root(workdir: Path | None) -> Path:
    from castoff.errors import NotAGitRepository
    from castoff.release.git import repo_root
    from castoff.workspace import find_root

    start = find_root(workdir)
    try:
        return repo_root(start)
    except NotAGitRepository:  # still validated: the git checks fail with a clear message
        return start


@contextmanager
def _live_view(enabled: bool, title: str) -> Iterator[ProgressCallback | None]:
    """A Rich live table of the checks on stderr (TTY only); yields the progress callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    states: dict[str, tuple[str, float, float | None]] = {}
    lock = threading.Lock()
    style = {"running": "cyan", "pass": "green", "fail": "red", "warn": "yellow", "skipped": "dim"}

    def table() -> Table:
        t = Table(title=Text(title), title_justify="left", show_header=False, box=None)
        now = time.monotonic()
        for check_id, (state, started, ended) in states.items():
            seconds = (ended or now) - started
            t.add_row(
                Text(f"{state:>8}", style=style.get(state, "")), Text(check_id), f"{seconds:5.1f}s"
            )
        return t

    def on_progress(check_id: str, state: str) -> None:
        with lock:
            now = time.monotonic()
            started = states.get(check_id, (state, now, None))[1]
            states[check_id] = (state, started, None if state == "running" else now)

    def snapshot() -> Table:
        with lock:
            return table()

    # get_renderable: redrawn 8 times a second, so running checks' clocks tick.
    with Live(
        get_renderable=snapshot, console=console(stderr=True), refresh_per_second=8, transient=True
    ):
        yield on_progress


def _print_human(out: Console, report: ValidationReport) -> None:
    """The report as a table; every text is data, never Rich markup."""
    from rich.table import Table
    from rich.text import Text

    from castoff.release.validate.report import SYMBOL

    name = "Pre-flight" if report.kind == "preflight" else "Post-deploy"
    what = f"{report.package} {report.version}" if report.package else report.version
    table = Table(title=Text(f"{name} validation of {what}"), title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("time", justify="right")
    table.add_column("result")
    for c in report.checks:
        table.add_row(SYMBOL[c.status], Text(c.id), f"{c.duration_seconds:.1f}s", Text(c.message))
    out.print(table)
    for c in report.checks:
        if c.remediation and c.status.value in ("fail", "warn"):
            out.print(f"  {c.id}: {c.remediation}", markup=False)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
    out.print(
        f"{report.status.value.upper()}: {counts} in {report.duration_seconds:.1f}s", markup=False
    )
    if report.artifacts:
        shown = report.artifacts[1] if len(report.artifacts) > 1 else report.artifacts[0]
        out.print(f"report: {shown}", markup=False)


def _finish(report: ValidationReport, *, json_out: bool) -> None:
    """Print the (already stored) report; fail the command when a check failed."""
    from castoff.errors import CheckFailed
    from castoff.release.validate.report import report_data

    if json_out:
        print_json(report_data(report))
    else:
        _print_human(console(), report)
    if not report.ok:
        raise CheckFailed(f"{report.kind} validation failed: {', '.join(report.failed)}")


@validate_app.command("preflight")
def preflight_command(
    *,
    version: VersionOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    concurrency: ConcurrencyOpt = None,
    package: PackageOpt = None,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Prove the release shippable: git state, versions, changelog, tests, build, install."""
    from castoff.config import load_config
    from castoff.release.validate.api import preflight_release, validate_preflight

    root = _root(workdir)
    release = preflight_release(root, load_config(root), version, package)
    if release.version is None:
        sys.stdout.write(
            f"nothing to release: {release.reason}; pass --version X to validate a version anyway\n"
        )
        return
    with _live_view(not json_out, f"pre-flight {release.version}") as on_progress:
        report = validate_preflight(
            root,
            version=release.version,
            tag=release.tag,
            checks=check,
            skip=skip or (),
            concurrency=concurrency,
            on_progress=on_progress,
            package=package,
        )
    _finish(report, json_out=json_out)


@validate_app.command("postdeploy")
def postdeploy_command(
    *,
    version: DeployedVersionOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    package: PackageOpt = None,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Check the deployed release: health endpoints report it, the package index lists it."""
    from castoff.release.validate.api import validate_postdeploy

    root = _root(workdir)
    with _live_view(not json_out, f"post-deploy {version or 'latest release'}") as on_progress:
        report = validate_postdeploy(
            root,
            version=version,
            checks=check,
            skip=skip or (),
            on_progress=on_progress,
            package=package,
        )
    if not report.checks and not json_out:
        sys.stdout.write(
            "no post-deploy checks are configured: add health = [...] or index = {...} "
            "to [tool.castoff.validate]\n"
        )
        return
    _finish(report, json_out=json_out)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(validate_app)
