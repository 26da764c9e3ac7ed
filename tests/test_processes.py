"""castoff.processes: a holder is gone when it exited, is a zombie, or its pid was reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from castoff import processes


def _zombie() -> subprocess.Popen[bytes]:
    """A child killed with SIGKILL and not reaped (its parent has not waited yet)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(child.pid, signal.SIGKILL)
    for _ in range(200):  # the kernel marks it Z once the kill is delivered
        if Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
            break
        time.sleep(0.01)
    return child


def test_this_process_is_alive_and_its_token_has_a_start_time() -> None:
    """The token is <pid>.<start>, and it names a running process."""
    pid, start = processes.parse_token(processes.token()) or (0, None)
    assert pid == os.getpid()
    assert start is not None
    assert not processes.token_is_gone(processes.token())


def test_an_exited_and_reaped_process_is_gone() -> None:
    """A pid that no longer exists is gone."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert processes.is_gone(int(child.stdout))


def test_a_killed_unreaped_process_is_gone() -> None:
    """A zombie (killed, not yet waited for) is gone although kill(pid, 0) still succeeds."""
    child = _zombie()
    try:
        os.kill(child.pid, 0)  # the old test said "alive"
        assert processes.is_gone(child.pid)
    finally:
        child.wait()


def test_a_reused_pid_is_gone() -> None:
    """The pid runs, but started at another time: not the holder any more."""
    pid, start = processes.parse_token(processes.token()) or (0, None)
    assert start is not None
    assert processes.is_gone(pid, str(int(start) + 1))
    assert not processes.is_gone(pid, start)


def test_what_is_not_a_token_is_never_gone() -> None:
    """Only a well-formed token can make castoff reclaim something."""
    for text in ("", "alice", "12x", "1.2.3", "-5"):
        assert not processes.token_is_gone(text)
    assert processes.parse_token("42") == (42, None)
