"""The validation API both adapters call: default versions, stored reports, one result shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from validate_sample import git, write_sample

from castoff.config import load_config
from castoff.errors import UsageError
from castoff.release.validate.api import (
    postdeploy_release,
    preflight_release,
    validate_postdeploy,
    validate_preflight,
)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The sample project (building off) with release tags v1.0.0 and v1.2.0-rc.1."""
    root = write_sample(tmp_path / "sample", validate="build = false")
    git(root, "tag", "v1.0.0")
    git(root, "commit", "-q", "--allow-empty", "-m", "feat: more")
    git(root, "tag", "v1.2.0-rc.1")
    return root


def _health(root: Path, base: str) -> None:
    text = (root / "pyproject.toml").read_text()
    line = f'health = [{{ id = "api", url = "{base}/health", deadline_seconds = 1 }}]\n'
    (root / "pyproject.toml").write_text(text + line)


def test_preflight_stores_its_report_and_lists_it(sample: Path) -> None:
    """The library stores the report (so MCP calls store it too) and returns the paths."""
    report = validate_preflight(sample, version="1.2.0", checks=["tests"])
    names = [Path(a).name for a in report.artifacts]
    assert names[:2] == ["preflight-1.2.0.json", "preflight-1.2.0.md"]
    stored = json.loads((sample / ".castoff" / "validate" / names[0]).read_text())
    assert (stored["ok"], stored["failed"]) == (True, [])
    assert stored["artifacts"] == list(report.artifacts)


def test_preflight_without_a_release_is_bad_input(tmp_path: Path) -> None:
    """Nothing releasable and no version: UsageError; preflight_release says why."""
    root = write_sample(tmp_path / "s", validate="build = false")
    git(root, "tag", "v1.2.0")
    assert preflight_release(root, load_config(root)).version is None
    with pytest.raises(UsageError, match="nothing to release"):
        validate_preflight(root)


def test_postdeploy_defaults_to_the_latest_release_tag(
    sample: Path, serve: Callable[..., Any]
) -> None:
    """The deployed version is the latest tag, prereleases included (not the next version)."""
    base, _ = serve(lambda path, n: (200, {"version": "1.2.0-rc.1"}))
    _health(sample, base)
    assert postdeploy_release(sample, load_config(sample)).version == "1.2.0-rc.1"
    report = validate_postdeploy(sample)
    assert (report.version, report.ok) == ("1.2.0-rc.1", True)
    assert Path(report.artifacts[0]).name == "postdeploy-1.2.0-rc.1.json"


def test_postdeploy_with_nothing_configured_and_no_tag_is_empty(tmp_path: Path) -> None:
    """No checks and no release tag: an empty passing report, nothing stored, no error."""
    root = write_sample(tmp_path / "s", validate="build = false")
    report = validate_postdeploy(root)
    assert (report.checks, report.ok, report.artifacts) == ((), True, ())
    assert not (root / ".castoff" / "validate").exists()
    with pytest.raises(UsageError, match="unknown check"):
        validate_postdeploy(root, checks=["health.api"])


def test_postdeploy_configured_without_a_tag_asks_for_a_version(
    tmp_path: Path, serve: Callable[..., Any]
) -> None:
    """Checks configured but no release tag and no version: UsageError naming --version."""
    root = write_sample(tmp_path / "s", validate="build = false")
    base, _ = serve(lambda path, n: (200, {"version": "1.2.0"}))
    _health(root, base)
    with pytest.raises(UsageError, match="no release tag found: pass a version"):
        validate_postdeploy(root)
    assert validate_postdeploy(root, version="1.2.0").ok


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """Two packages (no version_files configured), tagged pkg-a-v1.0.0 / pkg-b-v2.0.0,
    then a feature in packages/a."""
    root = tmp_path / "mono"
    files = {
        "castoff.toml": '[version.packages.pkg-a]\npath = "packages/a"\n'
        '[version.packages.pkg-b]\npath = "packages/b"\n[validate]\nbuild = false\n',
        "packages/a/pyproject.toml": '[project]\nname = "pkg-a"\nversion = "1.0.0"\n',
        "packages/a/CHANGELOG.md": "# Changelog\n\n## [1.0.0] - 2024-01-02\n",
        "packages/b/pyproject.toml": '[project]\nname = "pkg-b"\nversion = "2.0.0"\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "chore: packages")
    git(root, "tag", "pkg-a-v1.0.0")
    git(root, "tag", "pkg-b-v2.0.0")
    (root / "packages/a/x.py").write_text("x = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feat: x")
    return root


def test_a_package_is_validated_with_its_version_tag_and_files(monorepo: Path) -> None:
    """--package: its next version and tag, its default version file and changelog, a report
    stored under its name; without it a monorepo asks for one."""
    config = load_config(monorepo)
    a = preflight_release(monorepo, config, package="pkg-a")
    assert (a.version, a.tag) == ("1.1.0", "pkg-a-v1.1.0")
    b = preflight_release(monorepo, config, "1.2.0", "pkg-b")
    assert (b.version, b.tag) == ("1.2.0", "pkg-b-v1.2.0")
    deployed = postdeploy_release(monorepo, config, package="pkg-b")
    assert (deployed.version, deployed.tag) == ("2.0.0", "pkg-b-v2.0.0")
    report = validate_preflight(
        monorepo, version="1.0.0", checks=["version-files", "changelog"], package="pkg-a"
    )
    assert (report.package, report.tag) == ("pkg-a", "pkg-a-v1.0.0")
    assert report.result("version-files").details["files"] == {"packages/a/pyproject.toml": "1.0.0"}
    assert report.result("changelog").message == "packages/a/CHANGELOG.md has an entry for 1.0.0"
    assert Path(report.artifacts[0]).name == "preflight-pkg-a-1.0.0.json"
    with pytest.raises(UsageError, match=r"choose --package \(pkg-a, pkg-b\)"):
        validate_preflight(monorepo)
