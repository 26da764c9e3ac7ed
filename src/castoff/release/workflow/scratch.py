"""What a killed release run leaves behind, and its removal.

A release run works in two kinds of scratch space outside the repository's
tree: rollback-verification worktrees (``git worktree``, locked with their
owner's process token) and pre-flight build directories
(``$TMPDIR/castoff-validate-<pid>-…``, flock-ed by their owner). A run killed
with SIGKILL cannot remove them; :func:`clean_scratch` removes those whose
owner is gone. The release runner calls it after an unclean exit, ``castoff
worker`` at start, and the orchestrator's ``maintenance_coordinator
scan_cleanup`` through the adapters (the orchestrator knows nothing of
releases, so the CLI and MCP server pass this function in as a cleaner).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from castoff.errors import NotAGitRepository


def clean_scratch(root: Path) -> list[str]:
    """Remove the scratch spaces of gone owners; what was removed (paths).

    Cheap when there is nothing to do: one ``git worktree list`` and one
    directory listing of ``$TMPDIR``. Outside a git repository only the
    scratch directories are looked at.
    """
    from castoff.release.rollback.verify import cleanup_stale_worktrees
    from castoff.release.validate.preflight import cleanup_stale_workdirs

    removed: list[str] = []
    with contextlib.suppress(NotAGitRepository):
        removed += cleanup_stale_worktrees(root)
    removed += [str(path) for path in cleanup_stale_workdirs()]
    return removed
