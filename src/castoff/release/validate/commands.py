"""Running a check's command: one subprocess seam with timeouts and captured output.

Each command runs in its own process group (a new session) with stdout and
stderr merged. When it outlives its timeout the whole group is terminated,
then killed, so a hanging build cannot leave children behind. A command that
exits while a background child still holds its output is done: the leftovers
are killed after a short grace and the output says so. A command that
cannot start (not found, not executable) is reported, never raised.

Cancellation: the runner sets :data:`STOP` (an event) for the checks it runs;
a command polls it and, once set, kills its process group and returns a
``cancelled`` result, so a cancelled validation stops within a fraction of a
second instead of waiting for a build to finish.
"""

from __future__ import annotations

import contextlib
import os
import selectors
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
#: Seconds a command's output is still read after its process exited (background children).
LEFTOVER_GRACE = 0.5

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
    """SIGTERM the command's process group, SIGKILL what is left two seconds later."""
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


def _kill_leftovers(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of the (exited) command's process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Output:
    """The command's merged output, read as it comes (no thread: a selector on the pipe)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._pipe = proc.stdout
        self._fd = proc.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self.chunks: list[bytes] = []
        self.eof = False

    def read(self, seconds: float) -> None:
        """Read what arrives within ``seconds`` (returns at once on data or EOF)."""
        if self.eof:
            return
        if self._selector.select(max(seconds, 0.0)):
            data = os.read(self._fd, 65536)
            if data:
                self.chunks.append(data)
            else:
                self.eof = True

    def drain(self, seconds: float) -> None:
        """Read until EOF, for at most ``seconds`` (an escaped grandchild may hold the pipe)."""
        end = time.monotonic() + seconds
        while not self.eof and (left := end - time.monotonic()) > 0:
            self.read(left)

    def close(self) -> str:
        self._selector.close()
        self._pipe.close()
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def run_command(
    argv: tuple[str, ...],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` in ``cwd``; never raises for a failing, missing or hanging command.

    The command is done when its process exits: output still held open by a
    background child it left behind is read for :data:`LEFTOVER_GRACE` seconds,
    then the leftovers (the rest of its process group) are killed and the
    output says so.
    """
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
    output = _Output(proc)
    timed_out = cancelled = leftovers = False
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and (output.eof or now - exited_at >= LEFTOVER_GRACE):
                leftovers = not output.eof
                if leftovers:
                    _kill_leftovers(proc)
                    output.drain(_GRACE_SECONDS)
                break
            if stop is not None and stop.is_set():
                cancelled = True
            elif now >= deadline:
                timed_out = True
            if cancelled or timed_out:
                _kill_group(proc)
                output.drain(_GRACE_SECONDS)
                break
            wait = min(deadline - now, _POLL_SECONDS)
            if exited_at is not None:
                wait = min(wait, exited_at + LEFTOVER_GRACE - now)
            if output.eof:  # the command closed its output but still runs
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(wait, 0.0))
            else:
                output.read(wait)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        text = output.close()
    if leftovers:
        text += (
            f"\n[castoff: the command exited but processes it started in the background "
            f"still held its output after {LEFTOVER_GRACE:g}s; they were killed]\n"
        )
    duration = time.monotonic() - start
    code = None if timed_out or cancelled else proc.returncode
    return CommandResult(
        argv,
        code,
        tail(text),
        duration,
        timed_out=timed_out,
        timeout=timeout,
        cancelled=cancelled,
    )
