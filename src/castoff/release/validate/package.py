"""Build and ``twine check`` — outside the repository.

The project's tracked files are copied into a temporary directory and built
there, so validation never writes into the work tree. Python projects build
an sdist and a wheel with ``python -m build`` (the wheel from the sdist, which
also proves the sdist is complete); other projects run a configured build
command. :mod:`castoff.release.validate.smoke` then installs what was built.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from castoff.errors import CastoffError
from castoff.release import git
from castoff.release.validate.commands import CommandResult, argv_of, display, run_command
from castoff.release.validate.model import Outcome
from castoff.release.validate.settings import ValidateSettings

_COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".castoff",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "dist",
    "build",
    "*.egg-info",
)
_ENV_DROP = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV", "PYTHONSTARTUP")


def same_version(a: str, b: str) -> bool:
    """True when two version strings name the same version (``1.0.0-rc.1`` == ``1.0.0rc1``)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a.removeprefix("v")) == Version(b.removeprefix("v"))
    except InvalidVersion:
        return a.removeprefix("v") == b.removeprefix("v")


def mentions_version(text: str, version: str) -> bool:
    """True when ``text`` contains ``version`` (as written, or PEP 440-normalized)."""
    from packaging.version import InvalidVersion, Version

    candidates = {version}
    with contextlib.suppress(InvalidVersion):
        candidates.add(str(Version(version)))
    return any(re.search(rf"(?<![\w.]){re.escape(c)}(?![\w]|\.\d)", text) for c in candidates)


def is_python_project(root: Path) -> bool:
    """True when ``root`` has packaging metadata (pyproject.toml, setup.py or setup.cfg)."""
    return any((root / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg"))


def project_name(root: Path) -> str | None:
    """The package name from pyproject.toml or package.json, if either names one."""
    import json
    import tomllib

    try:
        if (root / "pyproject.toml").is_file():
            name = (
                tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
                .get("project", {})
                .get("name")
            )
            if isinstance(name, str):
                return name
        if (root / "package.json").is_file():
            name = json.loads((root / "package.json").read_text("utf-8")).get("name")
            if isinstance(name, str):
                return name
    except (OSError, ValueError):
        return None
    return None


def _dist_key(name: str) -> str:
    """A distribution name as wheel and sdist file names spell it (PEP 427 / 625)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def clean_env(**extra: str) -> dict[str, str]:
    """The inherited environment minus variables that would leak another Python in."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def copy_tree(root: Path, dest: Path) -> int:
    """Copy the project's tracked files (as they are in the work tree) to ``dest``."""
    try:
        listing = git.run_git(root, "ls-files", "-z", "--cached", "--recurse-submodules")
    except CastoffError:
        shutil.copytree(root, dest, ignore=_COPY_IGNORE, symlinks=True)
        return sum(1 for p in dest.rglob("*") if p.is_file())
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for rel in filter(None, listing.split("\0")):
        src = root / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(src.readlink())
        elif src.is_file():
            shutil.copy2(src, target)
        else:
            continue
        count += 1
    return count


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@dataclass
class PackageJob:
    """Build and twine-check one project in a temporary workspace (kept for the smoke test).

    ``subdir``: a monorepo package's directory (relative to ``root``, the repository's
    top). The whole tracked tree is copied (a package may use files beside it), and
    the package is built from its directory in the copy.
    """

    root: Path
    settings: ValidateSettings
    version: str
    tag: str
    workdir: Path
    subdir: str = ""
    dists: list[Path] = field(default_factory=list)
    built: bool = False

    @property
    def source(self) -> Path:
        return self.workdir / "src"

    @property
    def project(self) -> Path:
        """The directory built in the copy: the package's, else the copy's top."""
        return self.source / self.subdir if self.subdir else self.source

    @property
    def dist_dir(self) -> Path:
        return self.workdir / "dist"

    @property
    def wheel(self) -> Path | None:
        """The wheel of this project: among several built, the one named like the project."""
        wheels = [p for p in self.dists if p.suffix == ".whl"]
        name = project_name(self.root / self.subdir)
        if name is not None and len(wheels) > 1:
            own = [p for p in wheels if _dist_key(p.name.split("-")[0]) == _dist_key(name)]
            wheels = own or wheels
        return wheels[0] if wheels else None

    # -- build -------------------------------------------------------------
    def build(self) -> Outcome:
        """Build the project in a copy of its tracked tree."""
        python = is_python_project(self.root / self.subdir)
        if self.settings.build is False:
            return Outcome.skipped("building is turned off (build = false)")
        if self.settings.build is True and not python:
            where = f"{self.subdir} is" if self.subdir else "this is"
            return Outcome.skipped(
                f"{where} not a Python project (no pyproject.toml, setup.py or setup.cfg) "
                "and no build command is configured",
                'set build = "your build command" in [tool.castoff.validate]',
            )
        if self.source.exists():
            shutil.rmtree(self.source)
        files = copy_tree(self.root, self.source)
        self.dist_dir.mkdir(parents=True, exist_ok=True)
        env = clean_env(SETUPTOOLS_SCM_PRETEND_VERSION=self.version)
        if self.settings.build is True:
            if not has_module("build"):
                return Outcome.failed(
                    "the `build` package is not installed in castoff's environment",
                    "pip install build (it ships with castoff's dependencies)",
                )
            argv: tuple[str, ...] = (sys.executable, "-m", "build", "--outdir", str(self.dist_dir))
            if not self.settings.build_isolation:
                argv += ("--no-isolation",)
            argv += (str(self.project),)
        else:
            argv = argv_of(self.settings.build, version=self.version, tag=self.tag)
        result = run_command(argv, cwd=self.project, timeout=self.settings.build_timeout, env=env)
        details: dict[str, object] = {"command": display(argv), "files_copied": files}
        if self.subdir:
            details["directory"] = self.subdir
        if not result.ok:
            return Outcome.failed(
                result.describe(),
                _build_hint(result, self.settings.build_isolation),
                output=result.output,
                details=details,
            )
        if self.settings.build is not True:
            # a package's build may write to its own dist/ or (a workspace build) the top's
            for top in dict.fromkeys((self.project, self.source)):
                for pattern in ("dist/*.whl", "dist/*.tar.gz"):
                    for path in sorted(top.glob(pattern)):
                        shutil.copy2(path, self.dist_dir / path.name)
        self.dists = sorted(self.dist_dir.glob("*.whl")) + sorted(self.dist_dir.glob("*.tar.gz"))
        self.built = True
        details["artifacts"] = [{"name": p.name, "sha256": _sha256(p)} for p in self.dists]
        if python and self.settings.build is True:
            wheels = [p for p in self.dists if p.suffix == ".whl"]
            sdists = [p for p in self.dists if p.name.endswith(".tar.gz")]
            if not wheels or not sdists:
                return Outcome.failed(
                    "the build did not produce both an sdist and a wheel",
                    "check the build backend's configuration",
                    output=result.output,
                    details=details,
                )
            built_version = (self.wheel or wheels[0]).name.split("-")[1]
            if not same_version(built_version, self.version):
                return Outcome.failed(
                    f"built version {built_version}, expected {self.version}",
                    "bump the project's version (castoff version next) before validating",
                    output=result.output,
                    details=details,
                )
        names = ", ".join(p.name for p in self.dists) or "no Python distributions"
        return Outcome.passed(
            f"built {names} in {result.duration_seconds:.1f}s",
            output=result.output,
            details=details,
        )

    # -- twine check -------------------------------------------------------
    def twine(self) -> Outcome:
        """``twine check`` on the built sdist and wheel."""
        if not self.settings.twine_check:
            return Outcome.skipped("twine check is turned off (twine_check = false)")
        if not self.dists:
            return Outcome.skipped("the build produced no Python distributions to check")
        if not has_module("twine"):
            return Outcome.failed(
                "the `twine` package is not installed in castoff's environment",
                "pip install twine (it ships with castoff's dependencies)",
            )
        argv = (sys.executable, "-m", "twine", "check", *(str(p) for p in self.dists))
        result = run_command(
            argv, cwd=self.workdir, timeout=self.settings.timeout, env=clean_env(NO_COLOR="1")
        )
        if not result.ok:
            return Outcome.failed(
                result.describe(),
                "fix the package metadata twine reports (long_description, classifiers)",
                output=result.output,
            )
        if "WARNING" in result.output:
            return Outcome.warned(
                "twine check passed with warnings",
                "see the output: usually a missing or unrendered long_description",
                output=result.output,
            )
        return Outcome.passed(
            f"twine check passed on {len(self.dists)} file(s)", output=result.output
        )


def wheel_contents(wheel: Path) -> tuple[list[str], list[str]]:
    """Top-level importable modules and console-script names a wheel installs."""
    modules: set[str] = set()
    scripts: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            top, _, rest = name.partition("/")
            if top.endswith((".dist-info", ".data")):
                if top.endswith(".dist-info") and rest == "entry_points.txt":
                    scripts = _console_scripts(zf.read(name).decode("utf-8", errors="replace"))
                continue
            if rest == "__init__.py" and top.isidentifier():
                modules.add(top)
            elif not rest and top.endswith(".py") and top[:-3].isidentifier():
                modules.add(top[:-3])
    return sorted(modules), scripts


def _console_scripts(text: str) -> list[str]:
    scripts: list[str] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif section == "console_scripts" and "=" in line:
            scripts.append(line.split("=", 1)[0].strip())
    return scripts


def _build_hint(result: CommandResult, isolated: bool) -> str:
    if result.timed_out:
        return "the build hung: raise build_timeout or find the step that waits"
    if result.error:
        return "install the build tool or fix the build command"
    if isolated and "Could not find a version" in result.output:
        return (
            "the isolated build could not install its backend: "
            "check network access, or set build_isolation = false"
        )
    return "run the build by hand in a clean checkout and fix the error shown in the output"
