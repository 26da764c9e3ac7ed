"""The full pre-flight on a real sample project: built, installed and smoke-tested.

Each sample is validated once per module (a build and a venv take seconds);
the tests then read the shared report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from validate_sample import git, write_sample

from castoff.config import load_config
from castoff.release.validate import run_preflight
from castoff.release.validate.model import CheckStatus, ValidationReport

pytestmark = pytest.mark.slow
Validated = tuple[Path, ValidationReport, dict[str, bytes]]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _validate(factory: pytest.TempPathFactory, name: str, **sample: object) -> Iterator[Validated]:
    home = factory.mktemp(f"{name}-home")
    (home / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@example.com\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        root = write_sample(factory.mktemp(name) / "sample", **sample)  # type: ignore[arg-type]
        before = _snapshot(root)
        report = run_preflight(root, load_config(root), version="1.2.0", tag="v1.2.0")
        yield root, report, before


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Validated]:
    """The healthy sample, validated with the default isolated build."""
    yield from _validate(tmp_path_factory, "good")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Validated]:
    """A sample whose __version__ lags and whose tests fail (built without isolation)."""
    yield from _validate(
        tmp_path_factory,
        "broken",
        module_version="1.1.0",
        tests_pass=False,
        validate="build_isolation = false",
    )


def test_healthy_sample_passes_every_check(good: Validated) -> None:
    """All gates pass; only the missing upstream is skipped."""
    _, report, _ = good
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses == {
        "clean-tree": "pass",
        "branch": "pass",
        "upstream": "skipped",
        "tag-free": "pass",
        "version-files": "pass",
        "changelog": "pass",
        "tests": "pass",
        "build": "pass",
        "twine-check": "pass",
        "smoke": "pass",
    }
    assert report.ok


def test_build_produces_an_sdist_and_a_wheel(good: Validated) -> None:
    """The build check lists both distributions with their hashes."""
    build = good[1].result("build")
    names = [a["name"] for a in build.details["artifacts"]]
    assert names == ["sample_pkg-1.2.0-py3-none-any.whl", "sample_pkg-1.2.0.tar.gz"]
    assert all(len(a["sha256"]) == 64 for a in build.details["artifacts"])


def test_smoke_test_reads_the_installed_version(good: Validated) -> None:
    """The wheel installed in a fresh venv reports __version__ 1.2.0."""
    smoke = good[1].result("smoke")
    assert smoke.message == "sample_pkg.__version__ = 1.2.0 in a fresh venv"
    assert smoke.details["console_scripts"] == ["sample-pkg"]


def test_test_output_is_kept(good: Validated) -> None:
    """The test command's output is part of the result (for the artifact)."""
    assert "1 passed" in good[1].result("tests").output


def test_validation_modifies_nothing_in_the_repository(
    good: Validated,
) -> None:
    """No file is added, changed or removed in the work tree (ignored ones included)."""
    root, _, before = good
    assert _snapshot(root) == before
    assert git(root, "status", "--porcelain", "--ignored") == ""


def test_wrong_module_version_fails_the_smoke_test(
    broken: Validated,
) -> None:
    """__version__ 1.1.0 in a 1.2.0 wheel: the smoke test fails, naming both."""
    smoke = broken[1].result("smoke")
    assert smoke.status is CheckStatus.FAIL
    assert smoke.message == "installed sample_pkg.__version__ is 1.1.0, expected 1.2.0"


def test_failing_test_command_fails_the_tests_check(
    broken: Validated,
) -> None:
    """The failing test command fails 'tests' and keeps its output."""
    tests = broken[1].result("tests")
    assert tests.status is CheckStatus.FAIL
    assert "1 failed" in tests.output


def test_broken_sample_fails_only_the_right_checks(
    broken: Validated,
) -> None:
    """The build (without isolation) and twine still pass; the report fails on two checks."""
    report = broken[1]
    assert [c.id for c in report.failures] == ["tests", "smoke"]
    assert report.result("build").status is CheckStatus.PASS
    assert "--no-isolation" in report.result("build").details["command"]
    assert not report.ok
