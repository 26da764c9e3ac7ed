"""Build, twine and smoke checks that need no Python build: custom build commands, bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.release.validate.model import CheckStatus
from castoff.release.validate.package import (
    copy_tree,
    mentions_version,
    same_version,
    wheel_contents,
)
from castoff.release.validate.preflight import run_preflight


def _project(repo: Any, validate: dict[str, Any]) -> Config:
    repo.commit("feat: app", {"app.sh": "echo app\n", "README.md": "# app\n"})
    return Config(root=repo.path, data={"validate": validate})


def test_build_command_runs_in_a_copy_not_the_repository(repo: Any) -> None:
    """A non-Python build command writes into the temporary copy; the repo stays untouched."""
    config = _project(repo, {"build": "mkdir out && cp app.sh out/ && echo built {version}"})
    report = run_preflight(repo.path, config, version="1.0.0", tag="v1.0.0", checks={"build"})
    build = report.result("build")
    assert build.status is CheckStatus.PASS
    assert "built 1.0.0" in build.output
    assert not (repo.path / "out").exists()
    assert repo.git("status", "--porcelain", "--ignored") == ""


def test_hanging_build_fails_at_its_timeout(repo: Any) -> None:
    """A build past build_timeout is killed and fails with a hint."""
    config = _project(repo, {"build": "sleep 30", "build_timeout": 0.5})
    report = run_preflight(repo.path, config, version="1.0.0", tag="v1.0.0", checks={"smoke"})
    build = report.result("build")
    assert build.status is CheckStatus.FAIL
    assert "timed out after 0.5s" in build.message
    assert "build_timeout" in build.remediation
    assert report.result("smoke").message == "needs build, which failed"


def test_non_python_project_without_build_command_skips_the_build(repo: Any) -> None:
    """No packaging metadata and build = true: skipped, saying how to configure it."""
    config = _project(repo, {})
    report = run_preflight(repo.path, config, version="1.0.0", tag="v1.0.0", checks={"build"})
    assert report.result("build").status is CheckStatus.SKIPPED
    assert "build =" in report.result("build").remediation


def test_non_python_smoke_command_runs_in_the_built_copy(repo: Any) -> None:
    """Without a wheel, smoke_command runs where the build ran and must print the version."""
    config = _project(repo, {"build": "echo {version} > VERSION", "smoke_command": "cat VERSION"})
    report = run_preflight(repo.path, config, version="2.0.0", tag="v2.0.0", checks={"smoke"})
    assert report.result("smoke").status is CheckStatus.PASS


def test_missing_test_tool_is_a_failed_check(repo: Any) -> None:
    """A test command naming a missing program fails with 'command not found'."""
    config = _project(repo, {"test_command": "castoff-no-such-test-runner -q"})
    report = run_preflight(repo.path, config, version="1.0.0", tag="v1.0.0", checks={"tests"})
    assert "command not found" in report.result("tests").message


def test_copy_tree_copies_tracked_files_only(repo: Any, tmp_path: Path) -> None:
    """Untracked and ignored files stay behind; tracked edits are copied as they are."""
    repo.commit("feat: x", {"a.txt": "1\n", ".gitignore": "*.log\n"})
    repo.write("a.txt", "edited\n")
    repo.write("junk.log", "x")
    repo.write("untracked.txt", "x")
    copy_tree(repo.path, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [".gitignore", "a.txt"]
    assert (tmp_path / "copy" / "a.txt").read_text() == "edited\n"


def test_wheel_contents_finds_packages_modules_and_scripts(tmp_path: Path) -> None:
    """Top-level packages and modules, and console scripts, are read from the wheel."""
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        zf.writestr("helper.py", "")
        zf.writestr("demo-1.0.dist-info/METADATA", "")
        zf.writestr(
            "demo-1.0.dist-info/entry_points.txt",
            "[console_scripts]\ndemo = demo:main\n\n[gui_scripts]\ndemo-gui = demo:gui\n",
        )
    assert wheel_contents(wheel) == (["demo", "helper"], ["demo"])


def test_version_spellings_compare_equal() -> None:
    """1.0.0-rc.1 equals 1.0.0rc1; v-prefixes are ignored; 1.0.0 is not 1.0.01."""
    assert same_version("1.0.0-rc.1", "1.0.0rc1")
    assert same_version("v2.0.0", "2.0.0")
    assert not same_version("1.0.0", "1.0.1")
    assert mentions_version("tool 1.0.0rc1 (built)", "1.0.0-rc.1")
    assert not mentions_version("tool 1.0.01", "1.0.0")


def test_a_package_builds_in_its_directory_and_its_wheel_is_the_one_tested(repo: Any) -> None:
    """--package: the build command runs in the package's directory of the copy; of the wheels
    a workspace build leaves, the smoke test takes the package's own."""
    from castoff.release.validate.package import PackageJob
    from castoff.release.validate.settings import load_settings

    repo.commit(
        "feat: b",
        {"packages/b/pyproject.toml": '[project]\nname = "pkg-b"\nversion = "2.0.0"\n'},
    )
    build = "pwd && mkdir -p ../../dist && touch ../../dist/pkg_a-1.0-py3-none-any.whl"
    config = Config(
        root=repo.path,
        data={
            "version": {"packages": {"pkg-b": {"path": "packages/b"}}},
            "validate": {"build": build + " ../../dist/pkg_b-2.0.0-py3-none-any.whl"},
        },
    )
    report = run_preflight(
        repo.path, config, version="2.0.0", tag="pkg-b-v2.0.0", checks={"build"}, package="pkg-b"
    )
    result = report.result("build")
    assert result.status is CheckStatus.PASS, result.message
    assert result.output.splitlines()[0].endswith("/src/packages/b")
    assert result.details["directory"] == "packages/b"
    wheels = [Path(f"/built/{n}-py3-none-any.whl") for n in ("pkg_a-1.0", "pkg_b-2.0.0")]
    job = PackageJob(
        repo.path, load_settings(config), "2.0.0", "t", Path("/w"), "packages/b", dists=wheels
    )
    assert job.wheel == wheels[1]
