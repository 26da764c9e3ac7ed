"""release.workflow.scratch: what killed runs left behind is removed, also by maintenance."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from castoff.release.rollback.verify import WORKTREE_PREFIX
from castoff.release.validate.preflight import WORKDIR_PREFIX
from castoff.release.workflow.scratch import clean_scratch


def _dead_pid() -> int:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return int(out.stdout)


def _leftovers(repo: Any, tmp: Path) -> tuple[Path, Path]:
    """A rollback worktree locked by a dead process and a pre-flight folder nobody holds."""
    repo.commit("feat: start")
    repo.tag("v1.0.0")
    worktree = tmp / f"{WORKTREE_PREFIX}crashed"
    repo.git("worktree", "add", "--detach", "--lock", "--reason",
             f"castoff rollback verify pid={_dead_pid()}", str(worktree), "v1.0.0")  # fmt: skip
    workdir = tmp / f"{WORKDIR_PREFIX}{_dead_pid()}-x"
    workdir.mkdir()
    (workdir / ".owner.lock").write_text("")
    return worktree, workdir


def test_clean_scratch_removes_both_kinds(repo: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """Both leftovers go; the repository's own worktree list is clean again."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    worktree, workdir = _leftovers(repo, tmp)
    assert sorted(clean_scratch(repo.path)) == sorted([str(worktree), str(workdir)])
    assert not worktree.exists()
    assert not workdir.exists()
    assert clean_scratch(repo.path) == []


def test_clean_scratch_outside_git_looks_only_at_folders(tmp_path: Path, monkeypatch: Any) -> None:
    """A session directory that is no git repository is not an error."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert clean_scratch(plain) == []


def test_maintenance_scan_cleanup_removes_leftovers(
    repo: Any, tmp_path: Path, run_castoff: Any
) -> None:
    """`castoff orchestrator maintenance-coordinator --action scan_cleanup` cleans them up."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    worktree, workdir = _leftovers(repo, tmp)
    env = {"TMPDIR": str(tmp)}
    init = run_castoff("orchestrator", "initialize-session", "-C", str(repo.path), env=env)
    assert init.returncode == 0, init.stderr
    out = run_castoff("orchestrator", "maintenance-coordinator", "--action", "scan_cleanup",
                      "-C", str(repo.path), "--json", env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    findings = json.loads(out.stdout)["findings"]
    assert {f["kind"] for f in findings} == {"stale_scratch"}
    assert len(findings) == 2
    assert not worktree.exists()
    assert not workdir.exists()
    assert list(tmp.iterdir()) == []
