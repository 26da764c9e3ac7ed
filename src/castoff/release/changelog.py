"""CHANGELOG.md updates in place: add a release section, never rewrite existing text.

:func:`insert_section` is pure and idempotent: a section whose version the
file already has is not added again. New sections go below the title, the
preamble and any Unreleased section, above the newest older release (so a
late section for an old version lands in version order). :func:`replace_releases`
keeps the preamble and regenerates every release section (``--full``).
:func:`write_atomic` writes through a temporary file and ``os.replace``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from castoff.errors import UsageError
from castoff.release.git import version_key
from castoff.release.notes_render import CHANGELOG_HEADER

_HEADING = re.compile(r"^##[ \t]+\[?[vV]?(?P<title>[^\]\s()]+)", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
UNRELEASED = "unreleased"


def _headings(text: str) -> list[tuple[int, str]]:
    """(offset, lower-cased title) of each level-2 heading outside fenced code."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    spans = list(zip(fences[::2], [*fences[1::2], len(text)], strict=False))
    return [
        (m.start(), m["title"].lower())
        for m in _HEADING.finditer(text)
        if not any(a <= m.start() < b for a, b in spans)
    ]


def _same(title: str, version: str | None) -> bool:
    if version is None:
        return title == UNRELEASED
    return title == version.lower().lstrip("v")


def has_section(text: str, version: str | None) -> bool:
    """True when ``text`` already has a section for ``version`` (None: Unreleased)."""
    return any(_same(title, version) for _, title in _headings(text))


def newline_of(text: str) -> str:
    """The line ending ``text`` uses (that of its first line; ``\\n`` without one)."""
    end = text.find("\n")
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def _lines_ending(text: str, newline: str) -> str:
    """``text`` (rendered with ``\\n``) with ``newline`` line endings."""
    return text if newline == "\n" else text.replace("\r\n", "\n").replace("\n", newline)


def insert_section(existing: str, section: str, version: str | None) -> str:
    """``existing`` with ``section`` (for ``version``; None = Unreleased) inserted in place.

    Returns ``existing`` unchanged when it already has that version's section;
    a new Keep a Changelog header when ``existing`` is empty. The section
    takes the file's own line ending (CRLF files stay CRLF).
    """
    nl = newline_of(existing)
    section = _lines_ending(section.strip("\r\n") + "\n", nl)
    if not existing.strip():
        return _lines_ending(f"{CHANGELOG_HEADER}\n", nl) + section
    if has_section(existing, version):
        return existing
    new_key = version_key(version.lstrip("vV")) if version else None
    position = None
    for offset, title in _headings(existing):
        if title == UNRELEASED:
            if version is None:
                position = offset
                break
            continue
        if version is None:
            position = offset
            break
        key = version_key(title)
        if key is None or new_key is None or key < new_key:
            position = offset
            break
    if position is None:
        return existing.rstrip("\r\n") + nl + nl + section
    return existing[:position] + section + nl + existing[position:]


def replace_releases(existing: str, sections: str) -> str:
    """The preamble of ``existing`` (all before its first ``##`` heading), then ``sections``.

    The preamble is kept byte for byte; ``sections`` take its line ending.
    """
    nl = newline_of(existing)
    heads = _headings(existing)
    preamble = existing[: heads[0][0]] if heads else existing
    if not preamble.strip():
        preamble = _lines_ending(CHANGELOG_HEADER, nl)
    return preamble.rstrip("\r\n") + nl + nl + _lines_ending(sections.strip("\r\n"), nl) + nl


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
    """Write ``text`` (or its pieces) to ``path`` via a temporary file and ``os.replace``.

    A symlink is followed (the link stays, its target is replaced). A path
    that is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is
    written directly: replacing it would put a plain file in its place.
    """
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
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                if isinstance(text, str):
                    fh.write(text)
                else:
                    fh.writelines(text)
            Path(tmp).chmod(mode)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def plan_update(path: Path, section: str, version: str | None) -> tuple[str, str]:
    """(current text, updated text) of the changelog at ``path`` with ``section`` inserted.

    Reads and computes only, so a caller can fail (UsageError: unreadable
    file) before it writes anything.
    """
    existing = read_text(path)
    return existing, insert_section(existing, section, version)


def update_changelog(path: Path, section: str, version: str | None) -> bool:
    """Insert ``section`` into the file at ``path``; False when it was already there."""
    existing, updated = plan_update(path, section, version)
    if updated == existing:
        return False
    write_atomic(path, updated)
    return True
