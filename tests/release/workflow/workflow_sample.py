"""Helpers for the release-workflow tests (also used by tests/resilience).

- :func:`build_light_repository`: the demo's sample repository ("skyline")
  with a light configuration: pre-flight skips the build, twine check and
  smoke install (the rollback build is ``python -m compileall``), so a whole
  release takes a few seconds.
- :func:`castoff_json`: ``python -m castoff ... --json`` in a subprocess.
- :func:`release_tasks` / :func:`assert_released_once`: the end state, read
  through the Orchestrator API and git.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from castoff.demo import build_sample_repository
from castoff.orchestrator.models import Task
from castoff.orchestrator.service import Orchestrator

VERSION = "2.0.0"
TAG = "v2.0.0"
LIGHT = '[tool.castoff.validate]\nskip = ["build", "twine-check", "smoke"]\n'
DEFAULT_STEPS = (
    "version",
    "notes",
    "release_commit",
    "validate",
    "rollback",
    "announce_draft",
    "tag",
)
STEP_ORDER = (*DEFAULT_STEPS[:-1], "highlights_draft", "highlights", "tag", "push", "announce_send")


def build_light_repository(path: Path) -> Path:
    """The demo repository at ``path``, its pre-flight made light, committed as a chore."""
    repo = build_sample_repository(path)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    assert "[tool.castoff.validate]\n" in text
    pyproject.write_text(text.replace("[tool.castoff.validate]\n", LIGHT))
    git(repo, "commit", "-q", "-am", "chore: light checks for tests")
    return repo


@pytest.fixture(scope="session")
def light_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The light sample repository, built once per test process (never released)."""
    return build_light_repository(tmp_path_factory.mktemp("template") / "skyline")


@pytest.fixture
def light_repo(light_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the light sample repository (no castoff state yet)."""
    return Path(shutil.copytree(light_template, tmp_path / "skyline", symlinks=True))


@pytest.fixture(scope="module")
def released(light_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    """One light sample repository released with ``prepare --yes`` (shared, read-only)."""
    repo = Path(shutil.copytree(light_template, tmp_path_factory.mktemp("released") / "skyline"))
    run = prepare(repo, "--yes")
    assert run.code == 0, (run.data, run.stderr)
    return repo, run


def set_config(repo: Path, old: str, new: str, message: str = "chore: configure") -> None:
    """Replace ``old`` by ``new`` in pyproject.toml and commit it."""
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    assert old in text, old
    pyproject.write_text(text.replace(old, new))
    git(repo, "commit", "-q", "-am", message)


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=os.environ
    )
    return out.stdout.strip()


def castoff(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point, no TTY, empty stdin."""
    return subprocess.run(
        [sys.executable, "-m", "castoff", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        input="",
        timeout=timeout,
        check=False,
    )


@dataclass
class Run:
    """One ``castoff ... --json`` run: exit code, parsed JSON, stderr."""

    code: int
    data: dict[str, Any]
    stderr: str


def castoff_json(*args: str, env: dict[str, str] | None = None) -> Run:
    """``castoff ARGS --json``; the JSON on stdout parsed."""
    out = castoff(*args, "--json", env=env)
    try:
        data = json.loads(out.stdout) if out.stdout.strip() else {}
    except json.JSONDecodeError as exc:  # pragma: no cover - a failure shows what came out
        raise AssertionError(
            f"not JSON (exit {out.returncode}): {out.stdout}\n{out.stderr}"
        ) from exc
    return Run(out.returncode, data, out.stderr)


def prepare(repo: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return castoff_json("release", "prepare", "-C", str(repo), *args, env=env)


def resume(repo: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return castoff_json("release", "resume", "-C", str(repo), *args, env=env)


@dataclass
class ReleaseTasks:
    """The release root task and its (non-archived) subtasks by step key."""

    root: Task
    steps: dict[str, Task]
    archived: list[Task]


def release_tasks(repo: Path, database_url: str | None = None) -> ReleaseTasks:
    """The latest release graph in ``repo``'s store, read through the Orchestrator API."""
    with Orchestrator.open(repo, database_url=database_url, actor="test") as orch:
        page = orch.query_tasks(specialist_type=["coordinator"], task_type=["deployment"])
        roots = [t for t in page.tasks if isinstance(t.context, dict)]
        assert roots, "no release root task"
        root = orch.get_task(roots[-1].id)
        children = orch.query_tasks(parent_task_id=root.id, include_artifacts=True, limit=100).tasks
    live = [t for t in children if t.status != "archived"]
    live.sort(key=lambda t: STEP_ORDER.index(str(t.context["step"])))  # type: ignore[index]
    steps = {str(t.context["step"]): t for t in live}  # type: ignore[index]
    archived = [t for t in children if t.status == "archived"]
    return ReleaseTasks(root, steps, archived)


def events(repo: Path, task_id: str, database_url: str | None = None) -> list[Any]:
    """The task's events, oldest first."""
    with Orchestrator.open(repo, database_url=database_url, actor="test") as orch:
        return list(reversed(orch.events(task_id=task_id, limit=1000)))


def assert_released_once(
    repo: Path, steps: tuple[str, ...] = DEFAULT_STEPS, database_url: str | None = None
) -> ReleaseTasks:
    """One release commit, one new tag on it, one CHANGELOG section, every task completed
    once with one set of artifacts, the root completed with its report."""
    commits = git(repo, "log", "--format=%H", "--grep", "chore(release)").split()
    assert len(commits) == 1, commits
    assert git(repo, "tag", "--list").split() == ["v1.0.0", TAG]
    assert git(repo, "rev-parse", f"{TAG}^{{commit}}") == commits[0]
    assert git(repo, "rev-parse", "HEAD") == commits[0]
    changelog = (repo / "CHANGELOG.md").read_text()
    assert changelog.count(f"## [{VERSION}]") == 1, changelog
    assert git(repo, "status", "--porcelain") == ""
    worktrees = git(repo, "worktree", "list", "--porcelain").count("worktree ")
    assert worktrees == 1, "a rollback-verification worktree was left behind"
    state = release_tasks(repo, database_url)
    assert tuple(state.steps) == steps
    for key, task in state.steps.items():
        assert task.status == "completed", (key, task.status, task.error)
        names = Counter(a.name for a in task.artifacts)
        agent = isinstance(task.context, dict) and task.context.get("agent")
        assert names["result.json"] == (0 if agent else 1), (key, names)
        assert max(names.values(), default=1) == 1, (key, names)
    assert state.root.status == "completed"
    report = Counter(a.name for a in state.root.artifacts)
    assert report["release-report.md"] == 1, report
    assert report["release-report.json"] == 1, report
    return state
