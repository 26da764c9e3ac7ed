"""`castoff validate preflight | postdeploy`: prove a release shippable, then check it deployed.

Only typer, the standard library and castoff.cli helpers are imported at module
level; the validation engine and Rich load inside the commands. Each run stores
its report under ``.castoff/validate/`` (JSON, Markdown and one log per check)
and exits 1 when a check failed.
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

    from castoff.config import Config
    from castoff.release.validate.model import ProgressCallback, ValidationReport

VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version", help="The version being released (default: the computed next version)."
    ),
]
CheckOpt = Annotated[
    list[str] | None,
    typer.Option("--check", help="Run only this check (and what it needs); repeatable."),
]
SkipOpt = Annotated[
    list[str] | None, typer.Option("--skip", help="Report this check as skipped; repeatable.")
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


def _load(workdir: Path | None) -> tuple[Path, Config]:
    from castoff.config import load_config
    from castoff.errors import NotAGitRepository
    from castoff.release.git import repo_root
    from castoff.workspace import find_root

    start = find_root(workdir)
    try:
        root = repo_root(start)
    except NotAGitRepository:  # still validated: the git checks fail with a clear message
        root = start
    return root, load_config(root)


def _release(root: Path, config: Config, version: str | None) -> tuple[str, str] | None:
    """The version and tag to validate: ``--version``, else the computed next version."""
    if version is not None:
        return version, config.tag_format.replace("{version}", version)
    from castoff.release.tagging import compute_next

    nxt = compute_next(root, config)
    if nxt.no_release or nxt.next is None:
        sys.stdout.write(
            f"nothing to release: {nxt.message}; pass --version X to validate a version anyway\n"
        )
        return None
    return nxt.next, nxt.tag or config.tag_format.replace("{version}", nxt.next)


@contextmanager
def _live_view(enabled: bool, title: str) -> Iterator[ProgressCallback | None]:
    """A Rich live table of the checks on stderr (TTY only); yields the progress callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.live import Live
    from rich.table import Table

    states: dict[str, tuple[str, float, float | None]] = {}
    lock = threading.Lock()
    style = {"running": "cyan", "pass": "green", "fail": "red", "warn": "yellow", "skipped": "dim"}

    def table() -> Table:
        t = Table(title=title, title_justify="left", show_header=False, box=None)
        now = time.monotonic()
        for check_id, (state, started, ended) in states.items():
            seconds = (ended or now) - started
            t.add_row(f"[{style.get(state, '')}]{state:>8}", check_id, f"{seconds:5.1f}s")
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


def _print_human(out: Console, report: ValidationReport, paths: list[Path]) -> None:
    from rich.table import Table

    from castoff.release.validate.report import SYMBOL

    name = "Pre-flight" if report.kind == "preflight" else "Post-deploy"
    table = Table(title=f"{name} validation of {report.version}", title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("time", justify="right")
    table.add_column("result")
    for c in report.checks:
        table.add_row(SYMBOL[c.status], c.id, f"{c.duration_seconds:.1f}s", c.message)
    out.print(table)
    for c in report.checks:
        if c.remediation and c.status.value in ("fail", "warn"):
            out.print(f"  {c.id}: {c.remediation}", markup=False)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
    out.print(
        f"{report.status.value.upper()}: {counts} in {report.duration_seconds:.1f}s", markup=False
    )
    if paths:
        out.print(f"report: {paths[1] if len(paths) > 1 else paths[0]}", markup=False)


def _finish(root: Path, report: ValidationReport, *, json_out: bool) -> None:
    """Store the report, print it, and fail the command when a check failed."""
    from castoff.errors import CheckFailed
    from castoff.release.validate.report import report_data, write_report
    from castoff.workspace import ensure_state_dir, state_dir

    paths: list[Path] = []
    try:
        paths = write_report(report, ensure_state_dir(state_dir(root)) / "validate")
    except OSError as exc:
        sys.stderr.write(f"castoff: warning: the report could not be stored: {exc}\n")
    if json_out:
        data = report_data(report)
        data["artifacts"] = [str(p) for p in paths]
        print_json(data)
    else:
        _print_human(console(), report, paths)
    if not report.ok:
        failed = ", ".join(c.id for c in report.failures)
        raise CheckFailed(f"{report.kind} validation failed: {failed}")


@validate_app.command("preflight")
def preflight_command(
    *,
    version: VersionOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    concurrency: ConcurrencyOpt = None,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Prove the release shippable: git state, versions, changelog, tests, build, install."""
    from castoff.release.validate import run_preflight

    root, config = _load(workdir)
    release = _release(root, config, version)
    if release is None:
        return
    version, tag = release
    with _live_view(not json_out, f"pre-flight {version}") as on_progress:
        report = run_preflight(
            root,
            config,
            version=version,
            tag=tag,
            on_progress=on_progress,
            checks=set(check) if check else None,
            skip=set(skip or ()),
            concurrency=concurrency,
        )
    _finish(root, report, json_out=json_out)


@validate_app.command("postdeploy")
def postdeploy_command(
    *,
    version: VersionOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Check the deployed release: health endpoints report it, the package index lists it."""
    from castoff.release.validate import run_postdeploy

    root, config = _load(workdir)
    if version is None:
        from castoff.release import git

        latest = git.latest_release_tag(root, config.tag_format, include_prereleases=True)
        if latest is None:
            from castoff.errors import UsageError

            raise UsageError("no release tag found: pass --version X")
        version = latest.version
    with _live_view(not json_out, f"post-deploy {version}") as on_progress:
        report = run_postdeploy(
            config,
            version=version,
            on_progress=on_progress,
            checks=set(check) if check else None,
            skip=set(skip or ()),
        )
    if not report.checks and not json_out:
        sys.stdout.write(
            "no post-deploy checks are configured: add health = [...] or index = {...} "
            "to [tool.castoff.validate]\n"
        )
        return
    _finish(root, report, json_out=json_out)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(validate_app)
