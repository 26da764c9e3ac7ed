"""Reading and writing the repository's text files without disturbing them.

Every file castoff edits in a repository (CHANGELOG.md, version files,
``castoff init``'s config, its own records under ``.castoff/``) goes through
this module:

- :func:`read_text` reads UTF-8 with line endings untranslated, so a CRLF file
  is written back with CRLF and only the bytes castoff changes differ;
- :func:`write_atomic` writes through a temporary file in the same folder,
  ``fsync`` and ``os.replace``: a reader (or a process killed half-way) sees
  the old file or the new one, never a mix. The file's mode is kept, a
  symlink is followed (the link stays), and a path that is not a regular file
  (``/dev/stdout``, a FIFO) is written in place rather than replaced.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from castoff.errors import UsageError


def read_text(path: Path) -> str:
    """The file's text (line endings untranslated), or "" when it does not exist."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot read {path}: {reason}") from exc


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Replace ``path`` with ``text`` (or its pieces), UTF-8, newlines as given."""
    try:
        path = path.resolve() if path.is_symlink() else path
        if path.exists() and not path.is_file() and not path.is_dir():
            with path.open("w", encoding="utf-8", newline="") as out:
                out.writelines([text] if isinstance(text, str) else text)
            return
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.writelines([text] if isinstance(text, str) else text)
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).chmod(mode)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
