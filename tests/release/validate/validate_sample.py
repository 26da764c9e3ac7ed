"""A small real Python project for validation tests and the validate benchmark.

``write_sample`` lays out a hatchling-built package with a console script, a
CHANGELOG entry, a test script and a ``[tool.castoff.validate]`` table, then
commits it in a git repository with a fixed identity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sample Maintainer",
    "GIT_AUTHOR_EMAIL": "sample@example.com",
    "GIT_COMMITTER_NAME": "Sample Maintainer",
    "GIT_COMMITTER_EMAIL": "sample@example.com",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
}


def git(path: Path, *args: str) -> str:
    """Run git in ``path`` with a fixed identity; return stdout."""
    out = subprocess.run(
        ["git", *args],
        cwd=path,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return out.stdout.strip()


def write_sample(
    path: Path,
    *,
    version: str = "1.2.0",
    module_version: str | None = None,
    tests_pass: bool = True,
    validate: str = "",
    test_command: list[str] | None = None,
) -> Path:
    """Create and commit the sample project at ``path``; return ``path``.

    ``module_version`` sets ``__version__`` (default: ``version``), ``tests_pass``
    makes the test command fail, ``validate`` adds lines to the validate table,
    ``test_command`` replaces the sample's test script.
    """
    tests = (
        json.dumps(test_command)
        if test_command
        else f"'\"{sys.executable}\" tests/check_sample.py'"
    )
    files = {
        "pyproject.toml": f"""\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "sample-pkg"
version = "{version}"
description = "A sample package castoff validates."
readme = "README.md"
requires-python = ">=3.9"

[project.scripts]
sample-pkg = "sample_pkg.cli:main"

[tool.hatch.build.targets.wheel]
packages = ["src/sample_pkg"]

[tool.castoff]
version_files = ["pyproject.toml"]

[tool.castoff.validate]
test_command = {tests}
{validate}
""",
        "README.md": "# sample-pkg\n\nA sample package.\n",
        "CHANGELOG.md": f"# Changelog\n\n## [{version}] - 2024-01-02\n\n### Features\n\n- first\n",
        "src/sample_pkg/__init__.py": f'__version__ = "{module_version or version}"\n',
        "src/sample_pkg/cli.py": (
            "import sample_pkg\n\n\ndef main() -> None:\n"
            '    print("sample-pkg", sample_pkg.__version__)\n'
        ),
        "tests/check_sample.py": (
            "import sys\nfrom pathlib import Path\n\n"
            'sys.path.insert(0, str(Path(__file__).parent.parent / "src"))\n'
            "import sample_pkg\n\n"
            f'ok = {tests_pass!r} and sample_pkg.__version__.count(".") == 2\n'
            'print("1 passed" if ok else "FAILED test_version: 1 failed")\n'
            "sys.exit(0 if ok else 1)\n"
        ),
    }
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "feat: sample package")
    return path


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
