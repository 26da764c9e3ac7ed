"""Where a castoff session lives: the working directory and its store URL.

The CLI finds the session like git finds ``.git``: from a start directory
upward, stopping at the nearest folder that holds ``.castoff/`` or is the top
of a git work tree (``.git``, a directory or a worktree's file); the nearest
wins, so a stray ``~/.castoff`` never captures the repositories below it.
Failing both, the start directory itself.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIRNAME = ".castoff"
DATABASE_ENV = "CASTOFF_DATABASE_URL"


def find_root(start: Path | None = None) -> Path:
    """The working directory whose session a command addresses.

    A ``start`` that is not a directory (a mistyped ``-C``) is refused rather
    than silently replaced by a folder above it.
    """
    here = (start or Path.cwd()).resolve()
    if not here.is_dir():
        from castoff.errors import UsageError

        raise UsageError(f"the working directory {start} does not exist")
    for folder in (here, *here.parents):
        if (folder / STATE_DIRNAME).is_dir() or (folder / ".git").exists():
            return folder
    return here


def state_dir(root: Path) -> Path:
    """``<root>/.castoff`` (not created here)."""
    return root / STATE_DIRNAME


def ensure_state_dir(directory: Path) -> Path:
    """Create the ``.castoff`` folder ``directory`` with a ``.gitignore`` of ``*``.

    castoff's own state (store, artifacts, reports, ledgers) then never shows
    up in ``git status``, so it never makes the working tree look dirty.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return directory


def database_url(root: Path) -> str:
    """``CASTOFF_DATABASE_URL`` if set, else the embedded SQLite file."""
    url = os.environ.get(DATABASE_ENV)
    if url:
        return url
    return f"sqlite:///{state_dir(root) / 'castoff.db'}"
