"""What ``release prepare`` was asked, and what it decides from that.

:class:`ReleaseOptions` is how it was asked to run. With no release open,
:func:`decide` turns the options into the :class:`~.contract.ReleasePlan` (the
version to release) or the plain answer that there is nothing to release, and
refuses a release tag that already exists on another commit before anything is
written. With a release open, :func:`check_one_release_at_a_time`,
:func:`check_same_release` (``prepare``) and :func:`check_package` (``resume``)
refuse to go on with options or a package it was not planned with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.config import Config
from castoff.errors import ConflictError, NotFound, TagConflict, UsageError
from castoff.release.workflow import graph
from castoff.release.workflow.contract import ReleasePlan
from castoff.release.workflow.outcome import ReleaseOutcome, abandon_hint

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task


@dataclass(frozen=True)
class ReleaseOptions:
    """How ``release prepare`` was asked to run."""

    bump: str | None = None
    version: str | None = None
    prerelease: str | None = None
    package: str | None = None
    push: bool = False
    announce: bool = False
    yes: bool = False
    dry_run: bool = False
    agent: bool = False
    skip_rollback_check: bool = False


def decide(root: Path, config: Config, options: ReleaseOptions) -> ReleasePlan | ReleaseOutcome:
    """The version to release, or the plain answer that there is nothing to release.

    ``root`` is the repository's top (the CLI and the MCP server resolved it).
    A release tag that already exists on another commit is refused here, before
    anything is written (TagConflict, exit 3).
    """
    from castoff.release.next_version import compute_next

    nxt = compute_next(
        root,
        config,
        bump=options.bump,
        version=options.version,
        prerelease=options.prerelease,
        package=options.package,
    )
    if nxt.no_release or nxt.next is None or nxt.tag is None:
        return ReleaseOutcome("nothing_to_release", f"nothing to release: {nxt.message}", 0)
    head, tagged = _head_and_tag(root, nxt.tag)
    if tagged is not None and tagged != head:
        raise TagConflict(
            f"tag {nxt.tag} already exists on commit {tagged[:12]}, not on HEAD {head[:12]}; "
            f"release another version (--version / --bump), or delete the tag if it is a "
            f"mistake (`git tag -d {nxt.tag}`)",
            tag=nxt.tag,
        )
    return ReleasePlan.of(
        nxt,
        head,
        push=options.push,
        announce=options.announce,
        agent=options.agent,
        skip_rollback_check=options.skip_rollback_check,
        dry_run=options.dry_run,
    )


def _head_and_tag(root: Path, tag: str) -> tuple[str, str | None]:
    """HEAD's sha and the commit ``tag`` points at (None: no such tag), in one git call."""
    from castoff.release import git

    ref = f"refs/tags/{tag}"
    found: dict[str, str] = {}
    for line in git.run_git(root, "show-ref", "--head", "--dereference", ref).splitlines():
        sha, _, name = line.partition(" ")
        found[name] = sha
    head = found.get("HEAD") or git.head_sha(root)
    return head, found.get(f"{ref}^{{}}") or found.get(ref)


def check_one_release_at_a_time(release: Task, options: ReleaseOptions) -> None:
    """Another monorepo package's release is open: a conflict (exit 3) that says what to do.

    The releases of a monorepo's packages share the branch: were a second one
    prepared while the first waits, the first's tag would follow HEAD onto the
    second's release commit, and rolling it back would revert the wrong commit.
    """
    plan = graph.plan_of(release)
    if options.package is None or options.package == plan.package:
        return
    raise ConflictError(
        f"release {plan.tag} is in progress, and a repository has one release in progress at "
        f"a time: finish it with `castoff release resume --yes` before preparing "
        f"{options.package}, or {abandon_hint(release.id)}"
    )


def check_same_release(release: Task, options: ReleaseOptions) -> None:
    """Resuming through ``prepare``: refuse options the open release was not planned with."""
    plan = graph.plan_of(release)
    asked = {
        "--push": options.push and not plan.push,
        "--announce": options.announce and not plan.announce,
        "--agent": options.agent and not plan.agent,
        "--skip-rollback-check": options.skip_rollback_check and not plan.skip_rollback_check,
        f"--version {options.version}": options.version not in (None, plan.version),
        f"--bump {options.bump}": options.bump not in (None, plan.bump),
        f"--package {options.package}": options.package not in (None, plan.package),
    }
    differ = [flag for flag, different in asked.items() if different]
    if differ:
        raise UsageError(
            f"release {plan.tag} is already in progress, planned without {', '.join(differ)}; "
            f"finish it with `castoff release resume`, or {abandon_hint(release.id)}"
        )


def check_package(release: Task, package: str | None) -> None:
    """Refuse to continue a release of another monorepo package than ``package``.

    One release is open at a time in a repository, whatever its package: the
    releases share the branch, and the tag of one must not land on the release
    commit of another (see docs/release.md, Monorepos).
    """
    plan = graph.plan_of(release)
    if package is None or plan.package == package:
        return
    raise NotFound(
        f"no release of {package} in progress: release {plan.tag} is; finish it with "
        f"`castoff release resume`, or {abandon_hint(release.id)}"
    )
