"""Text files written atomically, byte for byte (CHANGELOG, version files, records)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from castoff.release.textfiles import read_text, write_atomic


def test_write_atomic_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    """Atomic writes keep the file mode and leave no temporary file behind."""
    path = tmp_path / "CHANGELOG.md"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["CHANGELOG.md"]


def test_write_atomic_follows_symlinks(tmp_path: Path) -> None:
    """Writing through a symlink replaces its target and keeps the link."""
    target = tmp_path / "real.md"
    target.write_text("old\n")
    link = tmp_path / "CHANGELOG.md"
    link.symlink_to(target)
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert target.read_text() == "new\n"


def test_write_atomic_writes_special_files_in_place(tmp_path: Path) -> None:
    """A FIFO (like /dev/stdout or /dev/null) is written to, never replaced by a plain file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, ["a\r\n", "b\n"])
    reader.join(timeout=10)
    assert received == [b"a\r\nb\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_read_text_keeps_crlf_and_missing_is_empty(tmp_path: Path) -> None:
    """Line endings come back untranslated; a missing file reads as empty."""
    path = tmp_path / "CHANGELOG.md"
    path.write_bytes(b"a\r\nb\n")
    assert read_text(path) == "a\r\nb\n"
    assert read_text(tmp_path / "absent.md") == ""
