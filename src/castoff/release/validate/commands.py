"""Running a check's command: one subprocess seam with timeouts and captured output.

Each command runs in its own process group (a new session) with stdout and
stderr merged. When it outlives its timeout the whole group is terminated,
then killed, so a hanging build cannot leave children behind. A command that
cannot start (not found, not executable) is reported, never raised.

Cancellation: the runner sets :data:`STOP` (an event) for the checks it runs;
a command polls it and, once set, kills its process group and returns a
``cancelled`` result, so a cancelled validation stops within a fraction of a
second instead of waiting for a build to finish.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from castoff.release.validate.settings import Command

#: How much of a command's output a result keeps (its tail).
OUTPUT_LIMIT = 64 * 1024
_GRACE_SECONDS = 2.0
#: Exit codes of ``/bin/sh -c`` when the command is missing / not executable.
_SHELL_NOT_FOUND = 127
_SHELL_NOT_EXECUTABLE = 126
_POLL_SECONDS = 0.2

#: The event that cancels the current run's commands (set by the runner per check).
STOP: ContextVar[threading.Event | None] = ContextVar("castoff_validate_stop", default=None)


def stop_requested() -> bool:
    """True once the current run was cancelled."""
    event = STOP.get()
    return event is not None and event.is_set()


def pause(seconds: float) -> None:
    """Sleep ``seconds``, waking early when the run is cancelled."""
    event = STOP.get()
    if event is None:
        time.sleep(seconds)
    else:
        event.wait(seconds)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: exit code (None when it never ran or timed out), output, time."""

    argv: tuple[str, ...]
    exit_code: int | None
    output: str
    duration_seconds: float
    timed_out: bool = False
    error: str | None = None
    timeout: float | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line saying how the command ended."""
        shown = display(self.argv)
        if self.error:
            return f"`{shown}` could not run: {self.error}"
        if self.cancelled:
            return f"`{shown}` was cancelled"
        if self.timed_out:
            limit = self.timeout or self.duration_seconds
            return f"`{shown}` timed out after {limit:g}s and was killed"
        if self.exit_code in (_SHELL_NOT_FOUND, _SHELL_NOT_EXECUTABLE) and _is_shell(self.argv):
            return f"`{shown}` failed: command not found or not executable (exit {self.exit_code})"
        return f"`{shown}` exited with {self.exit_code}"


def _is_shell(argv: tuple[str, ...]) -> bool:
    return len(argv) == 3 and argv[:2] == ("/bin/sh", "-c")


def display(argv: tuple[str, ...]) -> str:
    """The command as a person would type it."""
    return argv[2] if _is_shell(argv) else shlex.join(argv)


def argv_of(command: Command, **placeholders: str) -> tuple[str, ...]:
    """The argv for ``command``, with ``{name}`` placeholders filled in.

    A string runs through ``/bin/sh -c`` (values are shell-quoted); a list is
    run as is (values substituted verbatim).
    """
    if isinstance(command, str):
        text = command
        for name, value in placeholders.items():
            text = text.replace("{" + name + "}", shlex.quote(value))
        return ("/bin/sh", "-c", text)
    return tuple(_fill(part, placeholders) for part in command)


def _fill(text: str, placeholders: Mapping[str, str]) -> str:
    for name, value in placeholders.items():
        text = text.replace("{" + name + "}", value)
    return text


def tail(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The last ``limit`` characters of ``text``, marked when cut."""
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters cut ...]\n" + text[-limit:]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, _GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # The leader is gone; children may linger in the group: finish them.
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def run_command(
    argv: tuple[str, ...],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` in ``cwd``; never raises for a failing, missing or hanging command."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            reason = f"{argv[0]}: command not found" if cwd.is_dir() else f"no directory {cwd}"
        return CommandResult(argv, None, "", time.monotonic() - start, error=reason)
    stop = STOP.get()
    deadline = start + timeout
    timed_out = cancelled = False
    try:
        while True:
            wait = deadline - time.monotonic()
            if stop is not None:
                wait = min(wait, _POLL_SECONDS)
            try:
                out, _ = proc.communicate(timeout=max(wait, 0.0))
                break
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    cancelled = True
                elif time.monotonic() < deadline:
                    continue  # still within the timeout: poll the stop event again
                else:
                    timed_out = True
                _kill_group(proc)
                out = _drain(proc)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = tail(out.decode("utf-8", errors="replace"))
    duration = time.monotonic() - start
    code = None if timed_out or cancelled else proc.returncode
    return CommandResult(
        argv, code, text, duration, timed_out=timed_out, timeout=timeout, cancelled=cancelled
    )


def _drain(proc: subprocess.Popen[bytes]) -> bytes:
    """What a killed command printed (nothing if an escaped grandchild holds the pipe)."""
    try:
        out, _ = proc.communicate(timeout=_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        if proc.stdout is not None:
            proc.stdout.close()
        return b""
    return out
