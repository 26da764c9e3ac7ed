"""Prove the rollback target is restorable: build it in a scratch git worktree.

:func:`verify_plan` checks the target tag out with ``git worktree add`` in a
fresh temporary directory (prefix :data:`WORKTREE_PREFIX`), runs the
configured build (and test) command there — by default, for a Python project,
``python -m build --wheel`` as pre-flight builds it — records the result and
always removes the worktree. The worktree is *locked* with a reason naming the owning
process, so :func:`cleanup_stale_worktrees` (run before each verification and
each rollback run, and by maintenance) removes the ones whose process died and
leaves running verifications alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from castoff import processes
from castoff.config import Config
from castoff.errors import CastoffError, GitError, NotFound
from castoff.release import git
from castoff.release.rollback.model import CommandResult, RollbackPlan, Verification
from castoff.release.rollback.settings import load_settings
from castoff.release.version import version_settings

WORKTREE_PREFIX = "castoff-rollback-verify-"
_LOCK_REASON = re.compile(r"castoff rollback verify pid=(\d+(?:\.\d+)?)")
_TAIL_LINES = 40

Progress = Callable[[str], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_command(
    command: str, cwd: Path, *, timeout: float, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run a configured shell command through castoff's one command runner.

    :func:`castoff.release.validate.commands.run_command` bounds every wait: at
    the timeout the whole process group is killed, and a command that exits
    while a background child holds its output is done (the leftovers killed).
    """
    from castoff.release.validate import commands

    result = commands.run_command(
        commands.argv_of(command), cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})}
    )
    output = result.output if result.error is None else f"could not run: {result.error}"
    return CommandResult(
        command=command,
        exit_code=result.exit_code,
        duration_seconds=round(result.duration_seconds, 3),
        output_tail="\n".join(output.splitlines()[-_TAIL_LINES:]),
        timed_out=result.timed_out,
    )


def _add_worktree(root: Path, sha: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
    try:
        git.run_git(
            root,
            "worktree",
            "add",
            "--detach",
            "--lock",
            "--reason",
            f"castoff rollback verify pid={processes.token()}",
            str(path),
            sha,
        )
    except CastoffError:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path


def remove_worktree(root: Path, path: Path) -> None:
    """Remove a (locked) scratch worktree and its directory; never raises for leftovers."""
    with contextlib.suppress(GitError, NotFound):
        git.run_git(root, "worktree", "remove", "--force", "--force", str(path))
    shutil.rmtree(path, ignore_errors=True)
    git.run_git(root, "worktree", "prune")


def verify_plan(
    root: Path, config: Config, plan: RollbackPlan, *, on_progress: Progress | None = None
) -> Verification:
    """Build (and optionally test) the plan's target tag in a scratch worktree.

    A monorepo package's plan is built in the package's directory of the worktree,
    with that package's ``[rollback.packages.<name>]`` settings.
    """
    say = on_progress or (lambda _message: None)
    started = _now()
    if plan.previous_tag is None:
        return Verification("not_applicable", None, None, started, _now())
    settings = load_settings(config, plan.package)
    directory = version_settings(config, plan.package).directory if plan.package else ""
    sha = git.tag_sha(root, plan.previous_tag)

    def failed(error: str, **results: CommandResult | None) -> Verification:
        return Verification(
            "failed", plan.previous_tag, sha, started, _now(), error=error, **results
        )

    if sha is None:
        return failed(f"tag {plan.previous_tag} no longer exists")
    say(f"checking out {plan.previous_tag} in a scratch worktree")
    path = _add_worktree(root, sha)
    try:
        env = {"CASTOFF_ROLLBACK_TARGET": plan.previous_tag}
        cwd = path / directory if directory else path
        if plan.package:
            env["CASTOFF_PACKAGE"] = plan.package
            if not cwd.is_dir():
                return failed(f"{directory} does not exist at {plan.previous_tag}")
        command = settings.build_command or default_build_command(config, plan.package, cwd)
        if not command:
            return failed(
                "no [rollback] build_command configured and "
                f"{plan.previous_tag} is not a Python project: nothing proves the target builds"
            )
        say(f"building {plan.previous_tag}: {command}")
        build = run_command(command, cwd, timeout=settings.verify_timeout, env=env)
        if not build.ok:
            reason = "timed out" if build.timed_out else f"exited with {build.exit_code}"
            return failed(f"build of {plan.previous_tag} {reason}", build=build)
        test = None
        if settings.test_command:
            say(f"testing {plan.previous_tag}: {settings.test_command}")
            test = run_command(settings.test_command, cwd, timeout=settings.verify_timeout, env=env)
            if not test.ok:
                reason = "timed out" if test.timed_out else f"exited with {test.exit_code}"
                return failed(f"tests of {plan.previous_tag} {reason}", build=build, test=test)
        return Verification(
            "passed", plan.previous_tag, sha, started, _now(), build=build, test=test
        )
    finally:
        say("removing the scratch worktree")
        remove_worktree(root, path)


def default_build_command(config: Config, package: str | None, target: Path) -> str | None:
    """How a target with no ``build_command`` is built: a wheel, if it is a Python project.

    The same build pre-flight runs on the release (``python -m build``, isolated
    unless ``[validate] build_isolation = false``), here on the previous release's
    files; the wheel lands in the scratch worktree and goes with it. None when
    the target has no Python packaging metadata (or the ``build`` package is
    missing): then only a configured command can prove it builds.
    """
    from castoff.release.validate.package import has_module, is_python_project
    from castoff.release.validate.settings import load_settings as validate_settings

    if not is_python_project(target) or not has_module("build"):
        return None
    argv = [sys.executable, "-m", "build", "--wheel", "--outdir", ".castoff-rollback-dist"]
    if not validate_settings(config, package).build_isolation:
        argv.append("--no-isolation")
    return shlex.join(argv)


def cleanup_stale_worktrees(root: Path) -> list[str]:
    """Remove verification worktrees left by crashed processes; return their paths.

    Public for maintenance: one ``git worktree list`` when there is nothing to
    do. A worktree whose owning process (named in its lock) still runs is left
    alone, as is every worktree castoff did not create.
    """
    removed: list[str] = []
    out = git.run_git(root, "worktree", "list", "--porcelain")
    for block in out.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        path = fields.get("worktree", "")
        if not Path(path).name.startswith(WORKTREE_PREFIX):
            continue
        owner = _LOCK_REASON.search(fields.get("locked", ""))
        if owner and not processes.token_is_gone(owner[1]):
            continue
        remove_worktree(root, Path(path))
        removed.append(path)
    return removed
