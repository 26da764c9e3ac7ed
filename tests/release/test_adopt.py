"""release.adopt: commitizen / python-semantic-release projects need no castoff config.

The histories in tests/fixtures/adopt/ were released by the real tools
(scripts/make-adopt-fixtures); castoff must name, and write, what they released.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from castoff.config import load_config
from castoff.errors import NotSupportedYet
from castoff.release import adopt, next_version, tagging

CZ_PYPROJECT = """\
[project]
name = "demo"

[tool.commitizen]
name = "cz_conventional_commits"
version = "{v}"
tag_format = "v$version"
version_files = ["src/demo/__init__.py:__version__"]
major_version_zero = true
"""

PSR_PYPROJECT = """\
[project]
name = "demo"
version = "{v}"

[tool.semantic_release]
version_toml = ["pyproject.toml:project.version"]
version_variables = ["src/demo/__init__.py:__version__"]
major_on_zero = false
allow_zero_version = true
tag_format = "v{{version}}"

[tool.semantic_release.branches.main]
match = "(main|trunk)"
"""


def test_no_tool_configured(tmp_path: Any) -> None:
    """A plain project adopts nothing."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert adopt.detect(tmp_path) is None


def test_commitizen_settings_are_translated(tmp_path: Any) -> None:
    """tag_format, version files, bump rules and message come from [tool.commitizen]."""
    (tmp_path / "pyproject.toml").write_text(CZ_PYPROJECT.format(v="0.1.0"))
    config = load_config(tmp_path)
    assert config.source == "commitizen ([tool.commitizen] in pyproject.toml)"
    assert config.tag_format == "v{version}"
    assert config.version_scheme == "pep440"
    assert config.version_files == [
        "pyproject.toml:tool.commitizen.version",
        "src/demo/__init__.py:__version__",
    ]
    section = config.section("version")
    assert section["major_version_zero"] is True
    assert section["patch_types"] == ["fix", "refactor", "perf"]
    assert section["commit_message"] == "bump: version {current_version} → {version}"


def test_commitizen_json_file(tmp_path: Any) -> None:
    """.cz.json is read too, and named in the source."""
    (tmp_path / ".cz.json").write_text(
        json.dumps({"commitizen": {"version": "1.0.0", "version_provider": "pep621"}})
    )
    data, source = adopt.detect(tmp_path) or ({}, "")
    assert source == "commitizen (.cz.json)"
    assert data["version_files"] == ["pyproject.toml:project.version"]
    assert data["tag_format"] == "{version}"


def test_commitizen_custom_rules_are_not_guessed(tmp_path: Any) -> None:
    """A non-conventional commitizen rule set is refused plainly."""
    (tmp_path / "pyproject.toml").write_text('[tool.commitizen]\nname = "cz_jira"\n')
    with pytest.raises(NotSupportedYet):
        adopt.detect(tmp_path)


def test_semantic_release_settings_are_translated(tmp_path: Any) -> None:
    """version_toml / version_variables / major_on_zero / branches come from PSR."""
    (tmp_path / "pyproject.toml").write_text(PSR_PYPROJECT.format(v="0.1.0"))
    config = load_config(tmp_path)
    assert config.source.startswith("python-semantic-release")
    assert config.version_files == [
        "pyproject.toml:project.version",
        "src/demo/__init__.py:__version__",
    ]
    assert config.release_branches == ["main", "trunk"]
    assert config.section("version")["major_version_zero"] is True
    assert config.section("version")["patch_types"] == ["fix", "perf"]


def test_castoff_releases_a_commitizen_project_like_cz(repo: Any) -> None:
    """castoff's own release of a cz project writes cz's files, message and tag."""
    repo.commit(
        "chore: init",
        {
            "pyproject.toml": CZ_PYPROJECT.format(v="0.1.0"),
            "src/demo/__init__.py": '__version__ = "0.1.0"\n',
        },
    )
    repo.commit("feat: a")
    config = load_config(repo.path)
    nxt = next_version.compute_next(repo.path, config)
    tagging.apply_release(repo.path, config, nxt, "notes")
    assert repo.git("log", "-1", "--format=%s") == "bump: version 0.1.0 → 0.2.0"
    assert (repo.path / "src/demo/__init__.py").read_text() == '__version__ = "0.2.0"\n'
    assert 'version = "0.2.0"' in (repo.path / "pyproject.toml").read_text()
    assert repo.git("tag", "--list") == "v0.2.0"


def test_commitizen_bare_path_means_every_line(repo: Any) -> None:
    """A bare cz version_files path replaces the version wherever it is (VERSION = "…")."""
    repo.commit(
        "chore: init",
        {
            "pyproject.toml": (
                '[tool.commitizen]\nversion = "1.0.0"\ntag_format = "v$version"\n'
                'version_files = ["src/demo/version.py", "conf.py:^release"]\n'
            ),
            "src/demo/version.py": 'VERSION = "1.0.0"\nBUILD = "x"\n',
            "conf.py": 'version = "1.0.0"\nrelease = "1.0.0"\n',
        },
    )
    repo.tag("v1.0.0")
    repo.commit("feat: a")
    config = load_config(repo.path)
    assert config.version_files == [
        "pyproject.toml:tool.commitizen.version",
        "src/demo/version.py:.*",
        "conf.py:^release",
    ]
    nxt = next_version.compute_next(repo.path, config)
    tagging.apply_release(repo.path, config, nxt, "notes")
    assert (repo.path / "src/demo/version.py").read_text() == 'VERSION = "1.1.0"\nBUILD = "x"\n'
    assert (repo.path / "conf.py").read_text() == 'version = "1.0.0"\nrelease = "1.1.0"\n'


def test_commitizen_pyproject_in_version_files_keeps_both_versions(repo: Any) -> None:
    """version_files = ["pyproject.toml"] beside [tool.commitizen] version: both move."""
    text = (
        '[project]\nname = "demo"\nversion = "{v}"\n\n'
        '[tool.commitizen]\nversion = "{v}"\ntag_format = "v$version"\n'
        'version_files = ["pyproject.toml"]\n'
    )
    repo.commit("chore: init", {"pyproject.toml": text.format(v="1.0.0")})
    repo.tag("v1.0.0")
    repo.commit("fix: a")
    config = load_config(repo.path)
    nxt = next_version.compute_next(repo.path, config)
    tagging.apply_release(repo.path, config, nxt, "notes")
    assert (repo.path / "pyproject.toml").read_text() == text.format(v="1.0.1")


@pytest.mark.parametrize(
    ("scheme", "style"), [("semver", "compact"), ("semver2", "dotted"), ("pep440", "dotted")]
)
def test_commitizen_prerelease_spelling(tmp_path: Any, scheme: str, style: str) -> None:
    """cz's semver spells 1.1.0-rc0 (compact); semver2 1.1.0-rc.0 (dotted)."""
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.commitizen]\nversion = "1.0.0"\nversion_scheme = "{scheme}"\n'
    )
    assert load_config(tmp_path).section("version")["prerelease_style"] == style


def test_commitizen_semver_prereleases_count_like_cz(repo: Any) -> None:
    """After cz's v1.1.0-rc0 (compact), the next rc is rc1, never stuck below rc0."""
    repo.commit(
        "chore: init",
        {
            "pyproject.toml": (
                '[tool.commitizen]\nversion = "1.1.0-rc0"\ntag_format = "v$version"\n'
                'version_scheme = "semver"\n'
            )
        },
    )
    repo.git("tag", "v1.0.0")
    repo.commit("feat: a")
    repo.git("tag", "v1.1.0-rc0")
    repo.commit("fix: b")
    config = load_config(repo.path)
    assert next_version.compute_next(repo.path, config, prerelease="rc").next == "1.1.0-rc1"


def test_semantic_release_first_release_settings(tmp_path: Any) -> None:
    """PSR: no tag starts from 0.0.0; allow_zero_version defaults to false (PSR 10)."""
    default = PSR_PYPROJECT.replace("allow_zero_version = true\n", "")
    (tmp_path / "pyproject.toml").write_text(default.format(v="0.1.0"))
    section = load_config(tmp_path).section("version")
    assert (section["initial_version"], section["allow_zero_version"]) == ("0.0.0", False)
    (tmp_path / "pyproject.toml").write_text(PSR_PYPROJECT.format(v="0.1.0"))
    assert load_config(tmp_path).section("version")["allow_zero_version"] is True


# -- histories the real tools released (tests/fixtures/adopt, scripts/make-adopt-fixtures) --

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adopt"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _clone_at(name: str, dest: Path, rev: str | None = None) -> Path:
    """The bundle cloned to ``dest``; with ``rev``: main reset there, later tags removed."""
    subprocess.run(
        ["git", "clone", "-q", str(FIXTURES / MANIFEST[name]["bundle"]), str(dest)], check=True
    )
    if rev is not None:
        _git(dest, "checkout", "-q", "-f", "-B", "main", rev)
        later = _git(dest, "tag", "--no-merged", "HEAD").split()
        if later:
            _git(dest, "tag", "-d", *later)
    return dest


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_version_next_names_each_version_the_tool_released(name: str, tmp_path: Path) -> None:
    """Before each release the tool made, castoff's next version is exactly the tool's."""
    entry = MANIFEST[name]
    repo = _clone_at(name, tmp_path / name)
    assert set(_git(repo, "tag", "--list").split()) == {r["tag"] for r in entry["releases"]}
    for release in entry["releases"]:
        tag = release["tag"]
        _git(repo, "checkout", "-q", "--detach", f"{tag}^{{commit}}~1")
        config = load_config(repo)
        assert config.source.startswith(entry["tool"])
        nxt = next_version.compute_next(repo, config, prerelease=release["prerelease"])
        assert (nxt.tag, nxt.warnings) == (tag, ()), f"{name}: before {tag}: {nxt.message}"
    if entry["tail_releases_nothing"]:
        _git(repo, "checkout", "-q", "main")
        nxt = next_version.compute_next(repo, load_config(repo))
        assert nxt.no_release, f"{name}: at the end: {nxt.next} ({nxt.message})"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_castoff_writes_what_the_tool_wrote(name: str, tmp_path: Path) -> None:
    """castoff's release from each pre-release commit writes the tool's files and message."""
    for i, release in enumerate(MANIFEST[name]["releases"]):
        tag = release["tag"]
        probe = _clone_at(name, tmp_path / "probe") if i == 0 else tmp_path / "probe"
        tool_commit = _git(probe, "rev-parse", f"{tag}^{{commit}}")
        repo = _clone_at(name, tmp_path / str(i), f"{tool_commit}~1")
        config = load_config(repo)
        nxt = next_version.compute_next(repo, config, prerelease=release["prerelease"])
        tagging.apply_release(repo, config, nxt, "notes")
        changed = _git(probe, "diff", "--name-only", f"{tool_commit}~1", tool_commit).split()
        for path in changed:
            theirs = _git(probe, "show", f"{tool_commit}:{path}")
            assert (repo / path).read_text().strip() == theirs, f"{name} {tag}: {path}"
        theirs_subject = _git(probe, "log", "-1", "--format=%s", tool_commit)
        assert _git(repo, "log", "-1", "--format=%s") == theirs_subject
        assert _git(repo, "tag", "--points-at", "HEAD") == tag
