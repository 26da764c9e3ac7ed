"""The command seam: exit codes, missing commands, timeouts that kill the process group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from validate_sample import wait_for

from castoff.release.validate.commands import OUTPUT_LIMIT, argv_of, run_command, tail


def test_output_and_exit_code_are_captured(tmp_path: Path) -> None:
    """stdout and stderr are merged and the exit code kept."""
    result = run_command(argv_of("echo out; echo err >&2; exit 3"), cwd=tmp_path, timeout=10)
    assert result.exit_code == 3
    assert "out" in result.output
    assert "err" in result.output


def test_missing_program_is_reported_not_raised(tmp_path: Path) -> None:
    """An argv whose program does not exist yields an error result."""
    result = run_command(("castoff-no-such-program-xyz",), cwd=tmp_path, timeout=10)
    assert result.exit_code is None
    assert "command not found" in result.describe()


def test_missing_shell_command_says_not_found(tmp_path: Path) -> None:
    """A shell command naming a missing program says so."""
    result = run_command(argv_of("castoff-no-such-program-xyz --flag"), cwd=tmp_path, timeout=10)
    assert result.exit_code == 127
    assert "command not found" in result.describe()


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A hanging command and its children are killed at the timeout."""
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    result = run_command(argv_of(script), cwd=tmp_path, timeout=1)
    assert result.timed_out
    assert result.exit_code is None
    assert "timed out after 1s" in result.describe()
    child = int(pidfile.read_text())
    assert wait_for(lambda: _gone(child))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie reparented to init is dead too.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


def test_placeholders_are_shell_quoted_in_strings() -> None:
    """{version} is substituted quoted into shell strings and verbatim into argv lists."""
    assert argv_of("echo {version}", version="1.0 rc") == ("/bin/sh", "-c", "echo '1.0 rc'")
    assert argv_of(["echo", "v{version}"], version="1.0") == ("echo", "v1.0")


def test_long_output_keeps_its_tail(tmp_path: Path) -> None:
    """Output longer than the limit keeps the end, marked as cut."""
    code = f"print('x' * {OUTPUT_LIMIT * 2}); print('THE END')"
    result = run_command((sys.executable, "-c", code), cwd=tmp_path, timeout=20)
    assert result.output.endswith("THE END\n")
    assert result.output.startswith("[...")
    assert len(tail("abc", 10)) == 3


def test_background_child_holding_the_output_does_not_time_out(tmp_path: Path) -> None:
    """A command that exits 0 leaving a child on its stdout is done, not timed out."""
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result = run_command(
        argv_of(f"sleep 30 & echo $! > {pidfile}; echo done"), cwd=tmp_path, timeout=10
    )
    assert time.monotonic() - started < 5
    assert (result.exit_code, result.timed_out) == (0, False)
    assert result.output.startswith("done\n")
    assert "background" in result.output
    assert wait_for(lambda: _gone(int(pidfile.read_text())))


def test_command_closing_its_output_early_is_still_awaited(tmp_path: Path) -> None:
    """Closing stdout does not end the command: its exit code is still waited for."""
    result = run_command(
        argv_of("echo hi; exec >&- 2>&-; sleep 0.5; exit 4"), cwd=tmp_path, timeout=10
    )
    assert (result.exit_code, result.output) == (4, "hi\n")
