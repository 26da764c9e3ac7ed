"""Pre-flight gates: is this commit shippable as ``version`` / ``tag``?

:func:`run_preflight` assembles the checks — git state, version files,
changelog, tests, build, ``twine check``, install smoke test and the project's
own checks — and runs the independent ones concurrently. Nothing in the
repository is written: builds happen in a temporary directory, removed after.
That directory is named ``castoff-validate-<pid>-…`` and holds a lock its
owner keeps; one left by a killed run (the lock is free) is removed by
:func:`cleanup_stale_workdirs`.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from castoff.config import Config
from castoff.errors import CastoffError
from castoff.release import git
from castoff.release.validate.commands import argv_of, run_command
from castoff.release.validate.model import Check, Outcome, ProgressCallback, ValidationReport
from castoff.release.validate.package import PackageJob, clean_env, same_version
from castoff.release.validate.runner import run_report, select_checks, skip_check
from castoff.release.validate.settings import CustomCheck, ValidateSettings, load_settings
from castoff.release.validate.smoke import smoke_test
from castoff.workspace import STATE_DIRNAME

#: The built-in pre-flight checks, in report order (custom checks follow as ``custom.<id>``).
PREFLIGHT_CHECKS = (
    "clean-tree",
    "branch",
    "upstream",
    "tag-free",
    "version-files",
    "changelog",
    "tests",
    "build",
    "twine-check",
    "smoke",
)


# -- git state -----------------------------------------------------------------


def check_clean_tree(root: Path) -> Outcome:
    """The work tree and index hold no uncommitted change (castoff's own state dir aside)."""
    lines = [ln for ln in git.status_porcelain(root) if not ln[3:].startswith(f"{STATE_DIRNAME}/")]
    if not lines:
        return Outcome.passed("the working tree is clean")
    shown = ", ".join(ln[3:] for ln in lines[:5]) + (" …" if len(lines) > 5 else "")
    return Outcome.failed(
        f"{len(lines)} uncommitted change(s): {shown}",
        "commit or stash the changes; a release is built from committed files only",
        output="\n".join(lines),
    )


def check_branch(root: Path, allowed: list[str]) -> Outcome:
    """HEAD is on an allowed release branch (patterns like ``release/*`` allowed)."""
    branch = git.current_branch(root)
    shown = ", ".join(allowed)
    if branch is not None:
        if any(fnmatch.fnmatchcase(branch, pattern) for pattern in allowed):
            return Outcome.passed(f"on release branch {branch}")
        return Outcome.failed(
            f"on branch {branch}, which is not a release branch ({shown})",
            "switch to a release branch, or add this one to release_branches",
        )
    head = git.head_sha(root)
    # Detached HEAD (CI checkouts): fine when it is the tip of an allowed branch.
    refs = git.run_git(
        root,
        "for-each-ref",
        "--points-at",
        head,
        "--format=%(refname:short)",
        "refs/heads",
        "refs/remotes",
    )
    for ref in refs.splitlines():
        name = ref.split("/", 1)[1] if ref.startswith(("origin/", "upstream/")) else ref
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed):
            return Outcome.passed(f"detached HEAD at the tip of {ref}")
    return Outcome.failed(
        f"HEAD is detached at {head[:7]}, which is not the tip of a release branch ({shown})",
        "check out the release branch",
    )


def check_upstream(root: Path) -> Outcome:
    """The branch is not behind its upstream (as of the last fetch)."""
    try:
        upstream = git.run_git(
            root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"
        )
    except CastoffError:
        return Outcome.skipped("the branch has no upstream to compare with")
    counts = git.run_git(root, "rev-list", "--left-right", "--count", f"HEAD...{upstream}")
    ahead, behind = (int(n) for n in counts.split())
    if behind:
        return Outcome.failed(
            f"{behind} commit(s) behind {upstream} (as of the last fetch)",
            "git pull --rebase, then validate again",
            details={"upstream": upstream, "ahead": ahead, "behind": behind},
        )
    note = f", {ahead} commit(s) ahead" if ahead else ""
    return Outcome.passed(
        f"up to date with {upstream}{note} (as of the last fetch)",
        details={"upstream": upstream, "ahead": ahead, "behind": behind},
    )


def check_tag_free(root: Path, tag: str) -> Outcome:
    """The release tag does not exist yet (on HEAD it is a re-run: a warning)."""
    sha = git.tag_sha(root, tag)
    if sha is None:
        return Outcome.passed(f"tag {tag} does not exist yet")
    if sha == git.head_sha(root):
        return Outcome.warned(f"tag {tag} already exists on HEAD (a re-run after tagging?)")
    return Outcome.failed(
        f"tag {tag} already exists on commit {sha[:7]}",
        "release a higher version; a published tag is never moved",
        details={"sha": sha},
    )


# -- version and changelog -------------------------------------------------------


def check_version_files(root: Path, specs: list[str], version: str, base: str = "") -> Outcome:
    """Every configured version file holds ``version``.

    Without ``specs``, the usual manifests in ``base`` (a monorepo package's directory,
    relative to ``root``) that declare a version are compared.
    """
    from castoff.release import versionfiles

    configured = bool(specs)
    if not configured:
        specs = versionfiles.detect(root, base)
    found: dict[str, str] = {}
    wrong: list[str] = []
    for spec in specs:
        vf = versionfiles.VersionFile.parse(spec)
        try:
            text = (root / vf.path).read_text(encoding="utf-8")
        except OSError as exc:
            wrong.append(f"{vf.path}: cannot be read ({exc.strerror})")
            continue
        declared = versionfiles.read_version(text, vf)
        if declared is None:
            if not configured:
                continue  # e.g. a dynamic version in pyproject.toml: nothing to compare
            if versionfiles.holds_version(text, vf, version):
                found[str(vf)] = version
            else:
                wrong.append(f"{vf} does not contain {version}")
            continue
        found[str(vf)] = declared
        if not same_version(declared, version):
            wrong.append(f"{vf} says {declared}")
    if wrong:
        return Outcome.failed(
            f"expected {version}: " + "; ".join(wrong),
            "bump every version file to the release version (the release workflow does it)",
            details={"files": found},
        )
    if not found:
        return Outcome.skipped(
            "no version file to compare",
            'list the files holding the version in version_files = ["pyproject.toml", ...]',
        )
    return Outcome.passed(f"{len(found)} version file(s) say {version}", details={"files": found})


def changelog_heading(version: str) -> re.Pattern[str]:
    """A Markdown heading naming ``version`` (``## [1.2.0] - …``, ``# v1.2.0``, ``## 1.2.0``)."""
    return re.compile(
        rf"^#{{1,6}}\s.*?(?<![\w.])\[?v?{re.escape(version)}\]?(?![\w]|\.\d)", re.MULTILINE
    )


def check_changelog(path: Path, root: Path, version: str) -> Outcome:
    """The changelog has a section for ``version``."""
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    if not path.is_file():
        return Outcome.failed(
            f"{rel} does not exist",
            "castoff notes --update-changelog writes the section for this release",
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    if changelog_heading(version).search(text):
        return Outcome.passed(f"{rel} has an entry for {version}")
    return Outcome.failed(
        f"{rel} has no entry for {version}",
        "castoff notes --update-changelog writes the section for this release",
    )


# -- commands ----------------------------------------------------------------------


def check_tests(root: Path, settings: ValidateSettings, version: str, tag: str) -> Outcome:
    """The configured test command passes."""
    if settings.test_command is None:
        return Outcome.skipped(
            "no test command is configured",
            'set test_command = "pytest -q" in [tool.castoff.validate]',
        )
    argv = argv_of(settings.test_command, version=version, tag=tag)
    result = run_command(argv, cwd=root, timeout=settings.timeout, env=clean_env())
    if result.ok:
        return Outcome.passed(
            f"tests passed in {result.duration_seconds:.1f}s", output=result.output
        )
    hint = (
        "the tests hung: raise timeout or find the test that waits"
        if result.timed_out
        else "run the test command locally and fix the failures shown in the output"
    )
    return Outcome.failed(result.describe(), hint, output=result.output)


def check_custom(
    root: Path, spec: CustomCheck, settings: ValidateSettings, version: str, tag: str
) -> Outcome:
    """A project-defined check: expected exit code and, optionally, an output pattern."""
    argv = argv_of(spec.command, version=version, tag=tag)
    result = run_command(argv, cwd=root, timeout=spec.timeout or settings.timeout, env=clean_env())
    if result.exit_code != spec.expect_exit:
        expected = f"expected exit {spec.expect_exit}"
        return Outcome.failed(
            f"{result.describe()} ({expected})", "see the output", output=result.output
        )
    if spec.expect_output is not None and not re.search(
        spec.expect_output, result.output, re.MULTILINE
    ):
        return Outcome.failed(
            f"the output does not match {spec.expect_output!r}",
            "see the output",
            output=result.output,
        )
    return Outcome.passed(
        f"exit {result.exit_code}" + (", output matched" if spec.expect_output else ""),
        output=result.output,
    )


# -- assembling --------------------------------------------------------------------


def preflight_checks(
    root: Path,
    config: Config,
    settings: ValidateSettings,
    *,
    version: str,
    tag: str,
    workdir: Path,
    package: str | None = None,
) -> list[Check]:
    """Every pre-flight check for this project (or monorepo ``package``), unselected and
    unskipped.

    A package's version files and changelog are its own (``version_settings``), and
    its build, ``twine check`` and smoke test run in its directory.
    """
    from castoff.release.version import version_settings

    if package is not None:
        vs = version_settings(config, package)
        version_files, changelog, base = list(vs.version_files), vs.changelog, vs.directory
    else:
        version_files, changelog, base = config.version_files or [], config.changelog, ""
    job = PackageJob(root, settings, version, tag, workdir, subdir=base)
    checks = [
        Check("clean-tree", "Working tree clean", lambda: check_clean_tree(root)),
        Check("branch", "On a release branch", lambda: check_branch(root, config.release_branches)),
        Check("upstream", "Not behind upstream", lambda: check_upstream(root)),
        Check("tag-free", f"Tag {tag} is free", lambda: check_tag_free(root, tag)),
        Check(
            "version-files",
            "Version files consistent",
            lambda: check_version_files(root, version_files, version, base),
        ),
        Check("changelog", "Changelog entry", lambda: check_changelog(changelog, root, version)),
        Check("tests", "Test command", lambda: check_tests(root, settings, version, tag)),
        Check("build", "Build sdist and wheel", job.build),
        Check("twine-check", "twine check", job.twine, needs=("build",)),
        Check("smoke", "Install smoke test", lambda: smoke_test(job), needs=("build",)),
    ]
    for spec in settings.checks:
        checks.append(
            Check(
                f"custom.{spec.id}",
                f"Custom check {spec.id}",
                partial(check_custom, root, spec, settings, version, tag),
            )
        )
    return checks


def run_preflight(
    root: Path,
    config: Config,
    *,
    version: str,
    tag: str,
    on_progress: ProgressCallback | None = None,
    checks: set[str] | None = None,
    skip: Iterable[str] = frozenset(),
    concurrency: int | None = None,
    package: str | None = None,
) -> ValidationReport:
    """Run the pre-flight checks for releasing ``version`` as ``tag`` from ``root``.

    ``checks`` limits the run to those ids (plus what they need); ``skip`` and
    the config's ``skip`` list report those as skipped. ``package``: a monorepo
    package (see :func:`preflight_checks`; its ``[validate.packages.<name>]``
    settings apply). Raises only for bad input (unknown check ids, malformed
    config, unknown package); every check problem is a failed check in the report.
    """
    settings = load_settings(config, package)
    with _workdir() as tmp:
        all_checks = preflight_checks(
            root, config, settings, version=version, tag=tag, workdir=Path(tmp), package=package
        )
        selected, skipped = select_checks(
            all_checks, checks, set(skip) | (settings.skip & {c.id for c in all_checks})
        )
        plan = [skip_check(c) if c.id in skipped else c for c in selected]
        return run_report(
            "preflight",
            plan,
            version=version,
            tag=tag,
            concurrency=concurrency or settings.concurrency,
            on_progress=on_progress,
            package=package,
        )


WORKDIR_PREFIX = "castoff-validate-"
_OWNER_LOCK = ".owner.lock"


@contextmanager
def _workdir() -> Iterator[str]:
    """A scratch directory ``castoff-validate-<pid>-…`` locked by this process while in use."""
    with tempfile.TemporaryDirectory(
        prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", ignore_cleanup_errors=True
    ) as tmp:
        fd = os.open(Path(tmp) / _OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # freed by the kernel however the process ends
            yield tmp
        finally:
            os.close(fd)


def cleanup_stale_workdirs(base: Path | None = None) -> list[Path]:
    """Remove scratch directories whose owner is gone (its lock is free); the removed paths."""
    removed: list[Path] = []
    top = Path(base or tempfile.gettempdir())
    try:
        candidates = [p for p in top.iterdir() if p.name.startswith(WORKDIR_PREFIX)]
    except OSError:
        return removed
    for path in candidates:
        try:
            fd = os.open(path / _OWNER_LOCK, os.O_RDWR)
        except OSError:
            continue  # another user's, or one being made right now: not ours to judge
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its owner is still running
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)
        removed.append(path)
    return removed
