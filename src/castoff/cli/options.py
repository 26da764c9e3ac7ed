"""Option types shared by every command (one spelling of each flag)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON (stable fields) and no progress."),
]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option(
        "--working-directory",
        "-C",
        help="The project / session directory (default: found upward from the current directory).",
        show_default=False,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before writing.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
]


class UsageProblem(typer.BadParameter):
    """A usage error of the command line, printed as one line by the CLI root (exit 2)."""

    def format_message(self) -> str:
        return self.message


def positional_or_option(
    ctx: typer.Context, positional: str | None, option: str | None, flag: str
) -> str:
    """A value that may be given as an argument or as ``flag`` (the MCP parameter's name)."""
    if positional and option and positional != option:
        raise UsageProblem(f"give {flag} once: as an argument or as {flag}, not both", ctx=ctx)
    value = option or positional
    if not value:
        raise UsageProblem(f"missing option {flag}", ctx=ctx)
    return value
