"""A monorepo package released end to end: `release prepare --package NAME` on a real
monorepo of two Python packages (built, twine-checked and installed for real)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monorepo_sample import CHORE_LOCK, FEAT_A, FIX_B, build_monorepo
from workflow_sample import Run, castoff_json, git, prepare, release_tasks, resume

from castoff.orchestrator.service import Orchestrator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private HOME and git identity for the module's shared repositories."""
    home = tmp_path_factory.mktemp("mono-home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Mono Maintainer\n\temail = mono@example.com\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgSign = false\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.delenv("CASTOFF_DATABASE_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def released_a(
    private_git: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Run, str]:
    """The monorepo after `release prepare --package pkg-a --yes` (shared, read-only);
    with the commit it started from."""
    repo = build_monorepo(tmp_path_factory.mktemp("mono") / "mono")
    start = git(repo, "rev-parse", "HEAD")
    run = prepare(repo, "--package", "pkg-a", "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr[-3000:])
    return repo, run, start


def _results(repo: Path) -> dict[str, dict[str, Any]]:
    """Each step's result.json (documents it names read in), of the latest release."""
    from castoff.release.workflow.graph import step_results

    state = release_tasks(repo)
    with Orchestrator.open(repo, actor="test") as orch:
        return step_results(orch, list(state.steps.values()))


def _artifact(repo: Path, step: str, name: str) -> str:
    state = release_tasks(repo)
    art = next(a for a in state.steps[step].artifacts if a.name == name)
    with Orchestrator.open(repo, actor="test") as orch:
        return orch.read_artifact(art.sha256).decode()


def test_package_release_commit_and_tag_are_the_packages(released_a: tuple[Path, Run, str]) -> None:
    """One release commit touching only packages/a, tagged pkg-a-v1.1.0, one CHANGELOG section."""
    repo, run, start = released_a
    assert run.data["outcome"] == "released"
    assert (run.data["version"], run.data["tag"]) == ("1.1.0", "pkg-a-v1.1.0")
    commits = git(repo, "rev-list", f"{start}..HEAD").split()
    assert len(commits) == 1
    assert git(repo, "rev-parse", "pkg-a-v1.1.0^{commit}") == commits[0]
    touched = git(repo, "show", "--format=", "--name-only", "HEAD").split()
    assert sorted(touched) == [
        "packages/a/CHANGELOG.md",
        "packages/a/pyproject.toml",
        "packages/a/src/pkg_a/__init__.py",
    ]
    changelog = (repo / "packages/a/CHANGELOG.md").read_text()
    assert changelog.count("## [1.1.0]") == 1
    assert "alpha learns to count" in changelog
    assert "beta stops dropping items" not in changelog
    assert not (repo / "CHANGELOG.md").exists()
    assert 'version = "2.0.0"' in (repo / "packages/b/pyproject.toml").read_text()
    assert sorted(git(repo, "tag", "--list").split()) == [
        "pkg-a-v1.0.0",
        "pkg-a-v1.1.0",
        "pkg-b-v2.0.0",
    ]
    assert git(repo, "status", "--porcelain") == ""


def test_package_notes_and_tag_message_hold_only_its_commits(
    released_a: tuple[Path, Run, str],
) -> None:
    """The notes, the tag message and the drafts name pkg-a's commit, not pkg-b's."""
    repo, _run, _start = released_a
    notes = json.loads(_artifact(repo, "notes", "notes.json"))
    subjects = [e["description"] for g in notes["groups"] for e in g["entries"]]
    assert subjects == [FEAT_A.partition(": ")[2]]
    assert notes["previous_tag"] == "pkg-a-v1.0.0"
    message = git(repo, "for-each-ref", "--format=%(contents)", "refs/tags/pkg-a-v1.1.0")
    assert "alpha learns to count" in message
    assert "beta" not in message
    assert CHORE_LOCK.split(": ")[1] not in message
    social = _artifact(repo, "announce_draft", "social.txt")
    assert social.startswith("pkg-a 1.1.0"), social


def test_package_validation_builds_and_installs_its_own_distribution(
    released_a: tuple[Path, Run, str],
) -> None:
    """Pre-flight checked packages/a's files, built pkg-a in its directory and smoke-tested it."""
    repo, _run, _start = released_a
    report = _results(repo)["validate"]["report"]
    assert report["package"] == "pkg-a"
    assert report["tag"] == "pkg-a-v1.1.0"
    checks = {c["id"]: c for c in report["checks"]}
    assert {k: c["status"] for k, c in checks.items() if c["status"] != "pass"} == {
        "upstream": "skipped",
        "tests": "skipped",
    }
    assert checks["version-files"]["details"]["files"] == {
        "packages/a/pyproject.toml": "1.1.0",
        "packages/a/src/pkg_a/__init__.py": "1.1.0",
    }
    assert checks["changelog"]["message"] == "packages/a/CHANGELOG.md has an entry for 1.1.0"
    assert checks["tag-free"]["message"] == "tag pkg-a-v1.1.0 does not exist yet"
    build = checks["build"]["details"]
    assert build["directory"] == "packages/a"
    assert sorted(a["name"] for a in build["artifacts"]) == [
        "pkg_a-1.1.0-py3-none-any.whl",
        "pkg_a-1.1.0.tar.gz",
    ]
    assert checks["smoke"]["details"]["modules"] == ["pkg_a"]
    assert checks["smoke"]["message"] == "pkg_a.__version__ = 1.1.0 in a fresh venv"


def test_package_rollback_plan_goes_back_to_its_previous_tag(
    released_a: tuple[Path, Run, str],
) -> None:
    """The plan undoes pkg-a-v1.1.0 back to pkg-a-v1.0.0, built in packages/a of that tag;
    its risks come from pkg-a's files and the shared ones, never from pkg-b's."""
    repo, _run, _start = released_a
    plan = _results(repo)["rollback"]["plan"]
    assert (plan["package"], plan["new_tag"], plan["previous_tag"]) == (
        "pkg-a",
        "pkg-a-v1.1.0",
        "pkg-a-v1.0.0",
    )
    assert plan["project"] == "pkg-a"
    assert plan["verified"]
    assert plan["verification"]["build"]["exit_code"] == 0  # `test -f pyproject.toml` there
    risky = [path for risk in plan["risks"] for path in risk["paths"]]
    assert "uv.lock" in risky
    assert "packages/b/poetry.lock" not in risky
    assert plan["commit_count"] == 2  # the feat and the release commit: pkg-a's commits
    assert {s["tag"] or plan["new_tag"] for s in plan["steps"] if s["layer"] == "git"} == {
        "pkg-a-v1.1.0"
    }
    revert = next(s for s in plan["steps"] if s["key"] == "git.revert-release")
    restore = "git restore --source=pkg-a-v1.0.0 --staged --worktree -- packages/a"
    assert restore in revert["instructions"]


def test_status_and_the_component_commands_pick_the_package(
    released_a: tuple[Path, Run, str],
) -> None:
    """status --package, announce --tag, rollback --to and validate postdeploy --package."""
    repo, _run, _start = released_a
    status = castoff_json("release", "status", "--package", "pkg-a", "-C", str(repo))
    assert (status.code, status.data["tag"]) == (0, "pkg-a-v1.1.0")
    none = castoff_json("release", "status", "--package", "pkg-b", "-C", str(repo))
    assert none.code == 2
    assert "no release of pkg-b" in none.stderr
    draft = castoff_json(
        "announce", "draft", "--tag", "pkg-a-v1.1.0", "--channel", "social", "-C", str(repo)
    )
    assert draft.code == 0, draft.stderr
    assert draft.data["drafts"]["social"]["content"].startswith("pkg-a 1.1.0")
    back = castoff_json("rollback", "run", "--to", "pkg-a-v1.0.0", "-C", str(repo))
    assert (back.code, back.data["status"], back.data["new_tag"]) == (0, "dry_run", "pkg-a-v1.1.0")
    asked = castoff_json("rollback", "plan", "-C", str(repo))
    assert asked.code == 2
    assert "choose --package (pkg-a, pkg-b)" in asked.stderr
    post = castoff_json("validate", "postdeploy", "--package", "pkg-a", "-C", str(repo))
    assert (post.code, post.data["version"], post.data["package"]) == (0, "1.1.0", "pkg-a")


@pytest.fixture(scope="module")
def released_b(
    released_a: tuple[Path, Run, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Run, str]:
    """A copy of the pkg-a-released monorepo, then `release prepare --package pkg-b --yes`."""
    repo = Path(shutil.copytree(released_a[0], tmp_path_factory.mktemp("mono-b") / "mono"))
    start = git(repo, "rev-parse", "HEAD")
    run = prepare(repo, "--package", "pkg-b", "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr[-3000:])
    return repo, run, start


def test_second_package_is_released_after_the_first(released_b: tuple[Path, Run, str]) -> None:
    """pkg-b's release touches only packages/b, holds only its fix, builds pkg-b."""
    repo, run, start = released_b
    assert (run.data["outcome"], run.data["tag"]) == ("released", "pkg-b-v2.0.1")
    assert len(git(repo, "rev-list", f"{start}..HEAD").split()) == 1
    touched = git(repo, "show", "--format=", "--name-only", "HEAD").split()
    assert all(p.startswith("packages/b/") for p in touched), touched
    message = git(repo, "for-each-ref", "--format=%(contents)", "refs/tags/pkg-b-v2.0.1")
    assert FIX_B.partition(": ")[2] in message
    assert "alpha" not in message
    report = _results(repo)["validate"]["report"]
    build = next(c for c in report["checks"] if c["id"] == "build")
    assert {a["name"] for a in build["details"]["artifacts"]} == {
        "pkg_b-2.0.1-py3-none-any.whl",
        "pkg_b-2.0.1.tar.gz",
    }
    plan = _results(repo)["rollback"]["plan"]
    assert plan["previous_tag"] == "pkg-b-v2.0.0"
    risky = {path for risk in plan["risks"] for path in risk["paths"]}
    assert {"uv.lock", "packages/b/poetry.lock"} <= risky
    # pkg-a's release is still the latest of pkg-a, and nothing is left to release for it
    again = prepare(repo, "--package", "pkg-a", "--yes")
    assert (again.code, again.data["outcome"]) == (0, "nothing_to_release")


def test_one_release_in_progress_at_a_time(private_git: None, tmp_path: Path) -> None:
    """pkg-a stopped before its tag: preparing pkg-b is a conflict (exit 3), resuming it is
    refused (exit 2); resuming pkg-a finishes it, then pkg-b can be prepared."""
    repo = build_monorepo(tmp_path / "mono", light=True)
    stopped = prepare(repo, "--package", "pkg-a")
    assert (stopped.code, stopped.data["outcome"]) == (4, "partial")
    other = prepare(repo, "--package", "pkg-b", "--yes")
    assert other.code == 3
    assert "release pkg-a-v1.1.0 is in progress" in other.stderr
    wrong = resume(repo, "--package", "pkg-b", "--yes")
    assert wrong.code == 2
    assert "no release of pkg-b in progress" in wrong.stderr
    assert git(repo, "tag", "--list", "pkg-b-*").split() == ["pkg-b-v2.0.0"]
    done = resume(repo, "--package", "pkg-a", "--yes")
    assert (done.code, done.data["tag"]) == (0, "pkg-a-v1.1.0")
    then = prepare(repo, "--package", "pkg-b", "--yes")
    assert (then.code, then.data["tag"]) == (0, "pkg-b-v2.0.1"), then.stderr
