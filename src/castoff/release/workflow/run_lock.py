"""One release run at a time in a repository: the lock on ``.castoff/release.lock``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from castoff.errors import ConflictError

FINISHED = "finished"


@contextmanager
def one_run_at_a_time(root: Path) -> Iterator[bool]:
    """An exclusive lock on ``.castoff/release.lock`` for the whole run (freed even by SIGKILL).

    Two runs at once would both plan a release, or race for the same step's
    lease and for git's index; the second is refused instead. The file says
    ``pid N`` while a run holds it and gains a ``finished`` line when the run
    ends (normally or by an error); yields True when the previous run did not
    finish (killed): its scratch worktrees and directories are cleaned up.
    """
    import fcntl

    from castoff.workspace import ensure_state_dir, state_dir

    path = ensure_state_dir(state_dir(root)) / "release.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConflictError(
                f"another castoff release run is in progress here ({holder}); "
                "wait for it, or see `castoff release status`"
            ) from exc
        handle.seek(0)
        before = handle.read().split()
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield bool(before) and before[-1] != FINISHED
        finally:
            handle.write(f"{FINISHED}\n")
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
