"""Install smoke test: the built wheel in a fresh virtualenv must report the new version.

The wheel — not the source tree — is installed into a new ``venv`` (stdlib);
commands then run from an empty directory so nothing from the repository can
be imported by accident. Without a configured ``smoke_command`` the test
imports the wheel's top-level packages and compares ``__version__``; failing
that it runs each console script with ``--version``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from castoff.release.validate.commands import CommandResult, argv_of, display, run_command
from castoff.release.validate.model import Outcome
from castoff.release.validate.package import (
    PackageJob,
    clean_env,
    has_module,
    mentions_version,
    same_version,
    wheel_contents,
)

_PROBE = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        found[name] = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        value = getattr(module, "__version__", None)
        found[name] = {"version": value if isinstance(value, str) else None}
print(json.dumps(found))
"""


@dataclass
class _Session:
    """Commands sharing one time budget, their outputs logged for the artifact."""

    cwd: Path
    deadline: float
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    def run(self, argv: tuple[str, ...], *, shown: str | None = None) -> CommandResult:
        remaining = max(1.0, self.deadline - time.monotonic())
        result = run_command(argv, cwd=self.cwd, timeout=remaining, env=self.env)
        self.log.append(f"$ {shown or display(argv)}\n{result.output}".rstrip())
        return result

    @property
    def output(self) -> str:
        return "\n".join(self.log)


def smoke_test(job: PackageJob) -> Outcome:
    """Install ``job``'s wheel in a fresh venv and confirm it reports ``job.version``.

    A monorepo package's job installs that package's wheel (see :attr:`PackageJob.wheel`).
    """
    settings = job.settings
    wheel = job.wheel  # a monorepo package's own, when the build made several
    deadline = time.monotonic() + settings.timeout
    if wheel is None:
        if settings.smoke_command is not None and job.built:
            return _smoke_command(job, _Session(job.project, deadline, clean_env()), sys.executable)
        return Outcome.skipped(
            "no wheel was built, so there is nothing to install",
            "configure smoke_command to smoke-test a non-Python build",
        )
    venv = job.workdir / "smoke-venv"
    empty = job.workdir / "empty"
    empty.mkdir(exist_ok=True)
    session = _Session(empty, deadline, clean_env())
    problem = _install(session, venv, wheel, settings.smoke_install_args)
    if problem:
        return Outcome.failed(
            problem,
            "see the output: the wheel and its dependencies must install from the index",
            output=session.output,
        )
    bindir = venv / "bin"
    session.env = clean_env(
        VIRTUAL_ENV=str(venv), PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if settings.smoke_command is not None:
        return _smoke_command(job, session, str(bindir / "python"))
    return _default_probe(job, session, wheel, bindir)


def _install(session: _Session, venv: Path, wheel: Path, extra: tuple[str, ...]) -> str:
    """Create ``venv`` and install ``wheel``; an error message, or "" on success."""
    fast = has_module("pip")  # castoff's pip installs into the venv: no pip copy needed there
    create = (sys.executable, "-m", "venv", *(("--without-pip",) if fast else ()), str(venv))
    result = session.run(create)
    if not result.ok:
        return f"could not create the virtualenv: {result.describe()}"
    python = str(venv / "bin" / "python")
    pip = (sys.executable, "-m", "pip", "--python", python) if fast else (python, "-m", "pip")
    result = session.run((*pip, "install", "--quiet", *extra, str(wheel)))
    if not result.ok:
        return f"installing {wheel.name} failed: {result.describe()}"
    return ""


def _smoke_command(job: PackageJob, session: _Session, python: str) -> Outcome:
    assert job.settings.smoke_command is not None
    argv = argv_of(job.settings.smoke_command, version=job.version, tag=job.tag, python=python)
    result = session.run(argv)
    if not result.ok:
        return Outcome.failed(
            result.describe(),
            "run the smoke command by hand in a fresh venv",
            output=session.output,
        )
    if not mentions_version(result.output, job.version):
        return Outcome.failed(
            f"`{display(argv)}` succeeded but did not print {job.version}",
            "make the smoke command print the installed version (e.g. `tool --version`)",
            output=session.output,
        )
    return Outcome.passed(f"`{display(argv)}` reported {job.version}", output=session.output)


def _default_probe(job: PackageJob, session: _Session, wheel: Path, bindir: Path) -> Outcome:
    modules, scripts = wheel_contents(wheel)
    details = {"wheel": wheel.name, "modules": modules, "console_scripts": scripts}
    probe = (str(bindir / "python"), "-c", _PROBE, *modules)
    result = session.run(probe, shown=f"python -c <import probe> {' '.join(modules)}")
    if not result.ok:
        return Outcome.failed(
            f"the import probe failed: {result.describe()}", output=session.output
        )
    try:
        found: dict[str, dict[str, str | None]] = json.loads(result.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Outcome.failed("the import probe printed no result", output=session.output)
    for name, info in found.items():
        if info.get("error"):
            return Outcome.failed(
                f"`import {name}` failed in the fresh venv: {info['error']}",
                "a module or a dependency is missing from the wheel",
                output=session.output,
                details=details,
            )
    versions = {m: v for m, info in found.items() if (v := info.get("version"))}
    for module, reported in versions.items():
        if not same_version(reported, job.version):
            return Outcome.failed(
                f"installed {module}.__version__ is {reported}, expected {job.version}",
                f"update __version__ in {module} (and list that file in version_files)",
                output=session.output,
                details=details,
            )
    if versions:
        shown = ", ".join(f"{m}.__version__" for m in versions)
        return Outcome.passed(
            f"{shown} = {job.version} in a fresh venv", output=session.output, details=details
        )
    for script in scripts:
        result = session.run((str(bindir / script), "--version"), shown=f"{script} --version")
        if result.ok and mentions_version(result.output, job.version):
            return Outcome.passed(
                f"`{script} --version` reported {job.version}",
                output=session.output,
                details=details,
            )
        return Outcome.failed(
            f"`{script} --version` did not report {job.version} ({result.describe()})",
            "make --version print the installed version, or set smoke_command",
            output=session.output,
            details=details,
        )
    return Outcome.warned(
        f"imported {', '.join(modules) or 'nothing'}, but nothing reports a version",
        "add __version__ or configure smoke_command to confirm the installed version",
        output=session.output,
        details=details,
    )
