"""The ``castoff`` entry point and its one error boundary.

Each command group lives in its own module with a ``register(app)`` function.
Those modules import only typer and the standard library at module level, so
``castoff --help`` stays fast; each command imports what it needs when it runs.
Every expected error is a :class:`castoff.errors.CastoffError`; :func:`main`
prints it as one line on stderr and exits with its code (DESIGN.md).
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from castoff import __version__
from castoff.errors import CastoffError

COMMAND_MODULES = (
    "castoff.cli.demo",
    "castoff.cli.init",
    "castoff.cli.release",
    "castoff.cli.notes",
    "castoff.cli.version",
    "castoff.cli.validate",
    "castoff.cli.rollback",
    "castoff.cli.announce",
    "castoff.cli.orchestrator",
    "castoff.cli.serve",
)

app = typer.Typer(
    name="castoff",
    help="Prepare software releases as a durable, resumable graph of tasks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"castoff {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Prepare software releases as a durable, resumable graph of tasks."""


for _name in COMMAND_MODULES:
    import_module(_name).register(app)


def main() -> None:
    """Run the CLI; map castoff errors to one stderr line and their exit code."""
    try:
        app()
    except CastoffError as exc:
        sys.stderr.write(f"castoff: {exc.message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("castoff: interrupted\n")
        sys.exit(130)
