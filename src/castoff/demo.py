"""``castoff demo``: a sample repository with a realistic history, released end to end.

The sample project ("skyline", a small Python package) has a previous release
``v1.0.0``, then features, fixes, a breaking change, a database migration, a
lockfile change, two regular contributors and a first-time contributor. The
demo runs a full ``release prepare --yes`` on it with the embedded SQLite store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from castoff.errors import UsageError
from castoff.release.git import run_git

MAINTAINER = ("Ada Maintainer", "ada@skyline.example")
ALICE = ("Alice Developer", "alice@skyline.example")
BOB = ("Bob Fixer", "bob@skyline.example")
CAROL = ("Carol Newcomer", "carol@newcomer.example")

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "skyline"
version = "{version}"  # bumped by castoff
description = "Forecasts for the sky above you (castoff demo project)."
readme = "README.md"
requires-python = ">=3.11"
dependencies = []

[project.scripts]
skyline = "skyline.cli:main"

[tool.castoff]
version_files = ["pyproject.toml", "src/skyline/__init__.py"]

[tool.castoff.validate]
test_command = "python -m unittest discover -s tests -q"

[tool.castoff.rollback]
build_command = "python -m compileall -q src"
deploy_command = "skyline-deploy --version {{previous}}"

[tool.castoff.announce]
project_name = "Skyline"
"""

INIT = '''"""Skyline: forecasts for the sky above you."""

__version__ = "{version}"
'''

CLI = '''"""The skyline command."""

import sys

from skyline import __version__


def main() -> int:
    if "--version" in sys.argv:
        print(f"skyline {__version__}")
        return 0
    print("clear skies")
    return 0
'''

TEST = """import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import skyline  # noqa: E402


class VersionTest(unittest.TestCase):
    def test_version_is_a_string(self) -> None:
        self.assertIsInstance(skyline.__version__, str)


if __name__ == "__main__":
    unittest.main()
"""

STATIONS = "def label(name: str | None) -> str:\n    return name or '?'\n"

CHANGELOG = """\
# Changelog

All notable changes to this project are documented here.

## [1.0.0] - 2026-10-01

### Features

- First stable release of the forecast API.
"""


@dataclass(frozen=True)
class DemoCommit:
    """One commit of the sample history."""

    message: str
    files: dict[str, str]
    author: tuple[str, str] = MAINTAINER


HISTORY_BEFORE = (
    DemoCommit(
        "feat: forecast API",
        {
            "pyproject.toml": PYPROJECT.format(version="1.0.0"),
            "src/skyline/__init__.py": INIT.format(version="1.0.0"),
            "src/skyline/cli.py": CLI,
            "tests/test_version.py": TEST,
            "CHANGELOG.md": CHANGELOG,
            "README.md": "# skyline\n\nForecasts for the sky above you.\n",
            ".gitignore": "__pycache__/\ndist/\n",
            "migrations/0001_initial.sql": "CREATE TABLE forecast (id INTEGER PRIMARY KEY);\n",
        },
    ),
    DemoCommit(
        "fix: round temperatures half-up", {"src/skyline/round.py": "MODE = 'half-up'\n"}, BOB
    ),
)

HISTORY_AFTER = (
    DemoCommit(
        "feat(api): hourly forecasts\n\nAdds /forecast/hourly. Closes #12",
        {"src/skyline/hourly.py": "def hourly() -> list[int]:\n    return [18, 19, 21]\n"},
        ALICE,
    ),
    DemoCommit(
        "fix(cli): show the version with --version (#15)",
        {"src/skyline/cli.py": CLI.replace("clear skies", "clear skies today")},
        BOB,
    ),
    DemoCommit(
        "feat(db): store station metadata\n\nRefs #18",
        {
            "migrations/0002_stations.sql": "CREATE TABLE station (id INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL);\n",
            "requirements.lock": "httpx==0.28.1\n",
        },
        ALICE,
    ),
    DemoCommit(
        "feat(api)!: forecasts use Celsius everywhere\n\n"
        "BREAKING CHANGE: the `unit` parameter is gone; convert on the client.",
        {"src/skyline/units.py": "UNIT = 'celsius'\n"},
        MAINTAINER,
    ),
    DemoCommit(
        "fix: handle stations without a name\n\n"
        "Fixes #21\n\nCo-authored-by: Bob Fixer <bob@skyline.example>",
        {"src/skyline/stations.py": STATIONS},
        CAROL,
    ),
    DemoCommit("docs: explain hourly forecasts", {"docs/hourly.md": "# Hourly forecasts\n"}, ALICE),
    DemoCommit(
        "perf: cache station lookups", {"src/skyline/cache.py": "CACHE: dict[str, str] = {}\n"}
    ),
)


def _commit(repo: Path, commit: DemoCommit) -> None:
    for rel, text in commit.files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    run_git(repo, "add", "-A")
    name, email = commit.author
    run_git(repo, "commit", "-q", f"--author={name} <{email}>", "-F", "-", input=commit.message)


def build_sample_repository(path: Path) -> Path:
    """Create the sample repository at ``path`` (which must not exist or be empty)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path} already exists and is not empty; choose another directory")
    path.mkdir(parents=True, exist_ok=True)
    run_git(path, "init", "-q", "-b", "main")
    run_git(path, "config", "user.name", MAINTAINER[0])
    run_git(path, "config", "user.email", MAINTAINER[1])
    run_git(path, "config", "commit.gpgsign", "false")
    run_git(path, "config", "tag.gpgsign", "false")
    run_git(path, "remote", "add", "origin", "https://github.com/castoff-demo/skyline.git")
    for commit in HISTORY_BEFORE:
        _commit(path, commit)
    run_git(path, "tag", "-a", "v1.0.0", "-m", "Release 1.0.0")
    for commit in HISTORY_AFTER:
        _commit(path, commit)
    return path
