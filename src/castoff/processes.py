"""Which process owns something, and whether that process still runs.

castoff marks what a process holds (a task lease, a scratch worktree) with a
*process token*: ``<pid>.<start>`` where ``start`` is the process's start time
in clock ticks since boot (``/proc/<pid>/stat``, field 22), or plain ``<pid>``
where ``/proc`` is not available. :func:`is_gone` then answers "is the holder
dead?" without being fooled by

- a killed process that its parent has not reaped yet (a zombie: ``kill(pid,
  0)`` still succeeds, yet it will never work again), or
- a pid reused by an unrelated process after a reboot or a wrap-around (its
  start time differs).

Only ``True`` is acted upon (a lease reclaimed, a worktree removed), so every
doubt (another user's process, an unreadable ``/proc``) answers ``False``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid ..." — comm may hold spaces and parentheses.
    return raw[raw.rfind(b")") + 2 :].decode("ascii", "replace").split()


def start_time(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot, or None without ``/proc``."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


@cache
def token() -> str:
    """This process's token: ``<pid>.<start>`` (or ``<pid>``)."""
    pid = os.getpid()
    start = start_time(pid)
    return f"{pid}.{start}" if start else str(pid)


def parse_token(text: str) -> tuple[int, str | None] | None:
    """``(pid, start)`` from a token, or None when ``text`` is not one."""
    pid_text, _, start = text.partition(".")
    if not pid_text.isdigit() or (start and not start.isdigit()):
        return None
    return int(pid_text), start or None


def is_gone(pid: int, start: str | None = None) -> bool:
    """True when the process ``pid`` (started at ``start``, if known) no longer runs."""
    fields = _stat_fields(pid)
    if fields is not None:
        state = fields[0] if fields else ""
        if state in {"Z", "X", "x"}:  # zombie / dead: killed, only waiting to be reaped
            return True
        return start is not None and len(fields) > 19 and fields[19] != start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, owned by someone else
        return False
    return False


def token_is_gone(text: str) -> bool:
    """:func:`is_gone` for a token; False for anything that is not a token."""
    parsed = parse_token(text)
    return parsed is not None and is_gone(*parsed)
