"""Running a check's command: one subprocess seam with timeouts and captured output.

Each command runs in its own process group (a new session) with stdout and
stderr merged. When it outlives its timeout the whole group is terminated,
then killed, so a hanging build cannot leave children behind. A command that
cannot start (not found, not executable) is reported, never raised.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from castoff.release.validate.settings import Command

#: How much of a command's output a result keeps (its tail).
OUTPUT_LIMIT = 64 * 1024
_GRACE_SECONDS = 2.0
#: Exit codes of ``/bin/sh -c`` when the command is missing / not executable.
_SHELL_NOT_FOUND = 127
_SHELL_NOT_EXECUTABLE = 126


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

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line saying how the command ended."""
        shown = display(self.argv)
        if self.error:
            return f"`{shown}` could not run: {self.error}"
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
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        try:
            out, _ = proc.communicate(timeout=_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            # A grandchild escaped the group and holds the pipe: give up on the rest.
            if proc.stdout is not None:
                proc.stdout.close()
            out = b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = tail(out.decode("utf-8", errors="replace"))
    duration = time.monotonic() - start
    code = None if timed_out else proc.returncode
    return CommandResult(argv, code, text, duration, timed_out=timed_out, timeout=timeout)
