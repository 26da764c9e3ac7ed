"""Printing results: JSON for machines, Rich for people, progress only on a TTY.

Rich is imported only when something is printed for a person, which keeps
commands that print JSON (and ``--help``) fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from castoff.serialize import to_data

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(to_data(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def emit(data: Any, *, as_json: bool, human: Callable[[Console], None]) -> None:
    """Print ``data`` as JSON, or call ``human`` with a console."""
    if as_json:
        print_json(data)
    else:
        human(console())


def interactive() -> bool:
    """True when a person is at the terminal (stdin and stdout are TTYs)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@contextmanager
def progress(*, enabled: bool) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr when ``enabled`` and stderr is a TTY; else None."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    with bar:
        yield bar


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask ``question`` on a TTY; without a TTY only ``assume_yes`` says yes."""
    if assume_yes:
        return True
    if not interactive():
        return False
    import typer

    return bool(typer.confirm(question, default=False))
