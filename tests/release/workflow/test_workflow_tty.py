"""`castoff release prepare` on a terminal: the tag question, answered and readable."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

from workflow_sample import TAG, assert_released_once, git

PROMPT = f"Create tag {TAG} now? [y/N]: ".encode()


def _prepare_on_a_terminal(repo: Path, answer: bytes) -> tuple[int, bytes, bytes]:
    """Run prepare under a pseudo-terminal; answer the tag question 1 s after it shows.

    Returns (exit code, everything printed, what was printed while the question waited).
    """
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        os.chdir(repo)
        os.execv(sys.executable, [sys.executable, "-m", "castoff", "release", "prepare"])
    out, waiting, asked_at = b"", b"", 0.0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if asked_at and time.monotonic() - asked_at > 1.0 and not waiting:
            waiting = out[out.index(PROMPT) + len(PROMPT) :] or b"(nothing)"
            os.write(fd, answer + b"\n")
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not asked_at and PROMPT in out:
            asked_at = time.monotonic()
    os.close(fd)
    if time.monotonic() >= deadline:  # hung: do not leave it running
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out, waiting


def test_terminal_yes_tags_and_keeps_the_question_visible(light_repo: Path) -> None:
    """Answering y tags; the progress bar does not redraw over the waiting question."""
    code, out, waiting = _prepare_on_a_terminal(light_repo, b"y")
    assert code == 0, out[-2000:]
    assert PROMPT in out
    assert b"\x1b[2K" not in waiting  # nothing erased the question's line
    assert_released_once(light_repo)


def test_terminal_no_stops_before_the_tag(light_repo: Path) -> None:
    """Answering n (the default) stops before tagging: partial, exit 4."""
    code, out, _ = _prepare_on_a_terminal(light_repo, b"n")
    assert code == 4, out[-2000:]
    assert b"stopped before tagging" in out
    assert git(light_repo, "tag", "--list") == "v1.0.0"
