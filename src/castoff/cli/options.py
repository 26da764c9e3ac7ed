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
