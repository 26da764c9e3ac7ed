"""A real monorepo for the release tests: two Python packages, each its own distribution.

:func:`build_monorepo` lays out ``packages/a`` (distribution ``pkg-a``, module
``pkg_a``, 1.0.0) and ``packages/b`` (``pkg-b``, ``pkg_b``, 2.0.0), each with its
own hatchling ``pyproject.toml``, README, CHANGELOG and ``__version__``, a
``castoff.toml`` naming both packages, the tags ``pkg-a-v1.0.0`` / ``pkg-b-v2.0.0``,
then one change per package and one shared one:

- ``feat(a): …`` touching only ``packages/a`` (pkg-a → 1.1.0);
- ``fix(b): …`` touching only ``packages/b`` and its own ``poetry.lock`` (pkg-b → 2.0.1);
- ``chore(deps): …`` changing the shared ``uv.lock`` at the top.

The build runs without isolation (hatchling is in castoff's environment), so a
full pre-flight — build, ``twine check``, install smoke test — works offline. With
``light=True`` those three are skipped (for crash-and-resume tests).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from workflow_sample import git

FEAT_A = "feat(a): alpha learns to count"
FIX_B = "fix(b): beta stops dropping items"
CHORE_LOCK = "chore(deps): refresh the shared lockfile"


def _package(name: str, module: str, version: str) -> dict[str, str]:
    return {
        "pyproject.toml": f"""\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "{version}"
description = "Package {name} of the castoff monorepo sample."
readme = "README.md"
requires-python = ">=3.9"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
""",
        "README.md": f"# {name}\n\nA package of the monorepo sample.\n",
        "CHANGELOG.md": f"# Changelog\n\n## [{version}] - 2024-01-02\n\n- first release\n",
        f"src/{module}/__init__.py": f'"""{name}."""\n\n__version__ = "{version}"\n',
    }


def _config(light: bool) -> str:
    python = shlex.quote(sys.executable)
    skip = '\nskip = ["build", "twine-check", "smoke"]' if light else ""
    return f"""\
[version.packages.pkg-a]
path = "packages/a"
version_files = ["pyproject.toml", "src/pkg_a/__init__.py"]

[version.packages.pkg-b]
path = "packages/b"
version_files = ["pyproject.toml", "src/pkg_b/__init__.py"]

[validate]
build_isolation = false{skip}

[rollback]
# runs in the package's directory of the previous release's worktree
build_command = "test -f pyproject.toml && {python} -m compileall -q src"
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def build_monorepo(path: Path, *, light: bool = False) -> Path:
    """Create and commit the monorepo sample at ``path``; return ``path``."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    files = {"castoff.toml": _config(light), "uv.lock": "version = 1\n"}
    files |= {f"packages/a/{k}": v for k, v in _package("pkg-a", "pkg_a", "1.0.0").items()}
    files |= {f"packages/b/{k}": v for k, v in _package("pkg-b", "pkg_b", "2.0.0").items()}
    files["packages/b/poetry.lock"] = "# lock 1\n"
    _write(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "chore: two packages")
    git(path, "tag", "-a", "pkg-a-v1.0.0", "-m", "pkg-a 1.0.0")
    git(path, "tag", "-a", "pkg-b-v2.0.0", "-m", "pkg-b 2.0.0")
    changes = (
        (FEAT_A, {"packages/a/src/pkg_a/count.py": "def count() -> int:\n    return 1\n"}),
        (FIX_B, {"packages/b/src/pkg_b/items.py": "ITEMS = []\n", "packages/b/poetry.lock": "2"}),
        (CHORE_LOCK, {"uv.lock": "version = 2\n"}),
    )
    for message, change in changes:
        _write(path, change)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", message)
    return path
