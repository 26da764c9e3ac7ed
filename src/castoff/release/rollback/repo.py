"""Read what a rollback plan needs from the repository, then build the plan.

The git-facing half of planning: tags, the diff between the two releases, the
few file texts the risk analysis reads, the packages the project publishes.
Every git call goes through :func:`castoff.release.git.run_git`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.errors import GitError, NotFound, UsageError
from castoff.release import git
from castoff.release.model import Change, TagInfo
from castoff.release.rollback.model import FileChange, PackageRef, RollbackPlan
from castoff.release.rollback.plan import build_plan
from castoff.release.rollback.risks import analyze_risks, paths_needing_content
from castoff.release.rollback.settings import load_settings
from castoff.release.version import package_names, tag_format_of, version_settings


def changed_files(root: Path, old: str, new: str) -> list[FileChange]:
    """``git diff --name-status -M old new`` as FileChanges."""
    out = git.run_git(root, "diff", "--name-status", "-z", "-M", "--no-color", old, new, "--")
    tokens = out.split("\0")
    result: list[FileChange] = []
    i = 0
    while i < len(tokens) and tokens[i]:
        status = tokens[i][0]
        if status in ("R", "C"):
            result.append(FileChange(status, tokens[i + 2], old_path=tokens[i + 1]))
            i += 3
        else:
            result.append(FileChange(status, tokens[i + 1]))
            i += 2
    return result


def file_text(root: Path, ref: str, path: str) -> str | None:
    """The text of ``path`` at ``ref``, or None when it does not exist there."""
    try:
        return git.run_git(root, "show", f"{ref}:{path}")
    except (GitError, NotFound):
        return None


def tree_paths(root: Path, ref: str) -> frozenset[str]:
    """Every file path in ``ref``'s tree."""
    out = git.run_git(root, "ls-tree", "-r", "-z", "--name-only", ref)
    return frozenset(p for p in out.split("\0") if p)


def _load(text: str | None, kind: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = json.loads(text) if kind == "json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def detect_packages(root: Path, ref: str, directory: str = "") -> list[PackageRef]:
    """Packages published from ``ref``: PyPI (pyproject), npm (package.json), crates.io.

    ``directory``: a monorepo package's (its manifests are read there).
    """
    at = f"{directory}/" if directory else ""
    found: list[PackageRef] = []
    pyproject = _load(file_text(root, ref, f"{at}pyproject.toml"), "toml")
    name = pyproject.get("project", {}).get("name") or (
        pyproject.get("tool", {}).get("poetry", {}).get("name")
    )
    if isinstance(name, str) and name:
        found.append(PackageRef("pypi", name))
    package_json = _load(file_text(root, ref, f"{at}package.json"), "json")
    if isinstance(package_json.get("name"), str) and not package_json.get("private"):
        found.append(PackageRef("npm", package_json["name"]))
    cargo = _load(file_text(root, ref, f"{at}Cargo.toml"), "toml").get("package", {})
    if isinstance(cargo.get("name"), str) and cargo.get("publish", True) is not False:
        found.append(PackageRef("crates", cargo["name"]))
    return found


def find_tag(root: Path, config: Config, name: str, package: str | None = None) -> TagInfo:
    """The release tag ``name`` (of monorepo ``package``); NotFound (exit 2) when no such
    tag exists."""
    for tag in git.list_tags(root, tag_format_of(config, package)):
        if tag.name == name:
            return tag
    sha = git.tag_sha(root, name)
    if sha is None:
        raise NotFound(f"unknown tag: {name}")
    return TagInfo(name=name, version=name, sha=sha)


def previous_release(
    root: Path,
    config: Config,
    *,
    new_ref: str,
    new_tag: str,
    new_version: str,
    package: str | None = None,
) -> TagInfo | None:
    """The highest non-prerelease tag below ``new_version`` reachable from ``new_ref``
    (monorepo ``package``: of its tag format)."""
    new_key = git.version_key(new_version)
    candidates = [
        t
        for t in git.reachable_tags(root, tag_format_of(config, package), new_ref)
        if t.name != new_tag and not git.is_prerelease(t.version)
    ]
    if new_key is not None:
        candidates = [t for t in candidates if (k := git.version_key(t.version)) and k < new_key]
    return candidates[-1] if candidates else None


def check_target(
    root: Path, target: TagInfo, *, new_tag: str, new_version: str, new_sha: str
) -> None:
    """Refuse (UsageError, exit 2) a target that is not older than the release being undone.

    Versions are compared when both parse; otherwise the target's commit must
    be a strict ancestor of the release's.
    """
    if target.name == new_tag:
        raise UsageError(
            f"--to {target.name} is the release being rolled back; "
            "pick an older release tag to go back to"
        )
    target_key, new_key = git.version_key(target.version), git.version_key(new_version)
    if target_key is not None and new_key is not None:
        if target_key >= new_key:
            raise UsageError(
                f"--to {target.name} ({target.version}) is not older than {new_tag} "
                f"({new_version}), the release being rolled back; pick an older release tag"
            )
        return
    if target.sha == new_sha or not git.is_ancestor(root, target.sha, new_sha):
        raise UsageError(
            f"--to {target.name} is not an earlier commit of {new_tag}, the release being "
            "rolled back; pick an older release tag"
        )


def intermediate_releases(
    root: Path,
    config: Config,
    *,
    new_ref: str,
    new_tag: str,
    new_version: str,
    target: TagInfo,
    package: str | None = None,
) -> list[TagInfo]:
    """Release tags between ``target`` and the new release, reachable from it; newest first.

    Prereleases count: every tag newer than the target is undone, so that after
    the rollback the target is the latest release again.
    """
    low, high = git.version_key(target.version), git.version_key(new_version)
    if low is None or high is None:
        return []
    between = [
        t
        for t in git.reachable_tags(root, tag_format_of(config, package), new_ref)
        if t.name not in (new_tag, target.name)
        and (k := git.version_key(t.version)) is not None
        and low < k < high
    ]
    return list(reversed(between))


def resolve_new_release(
    root: Path, config: Config, version: str | None, package: str | None = None
) -> tuple[str, str, str]:
    """``(new_version, new_tag, new_ref)`` of the release to plan for.

    With ``version``: that release (its tag if it exists, else HEAD, planned
    before tagging). Without: the latest release tag reachable from HEAD. A
    monorepo ``package``'s tags are in its own tag format.
    """
    tag_format = tag_format_of(config, package)
    if version:
        tag = tag_format.format(version=version)
        return version, tag, tag if git.tag_sha(root, tag) else "HEAD"
    latest = git.latest_release_tag(root, tag_format, "HEAD", include_prereleases=True)
    if latest is None:
        raise UsageError(
            "no release tag yet: pass --version X to plan the rollback of the release "
            "you are preparing"
        )
    return latest.version, latest.name, latest.name


def _changes(root: Path, rev_range: str, paths: tuple[str, ...] = ()) -> tuple[list[Change], int]:
    from castoff.release.commits import parse_commit

    changes: list[Change] = []
    count = 0
    for commit in git.iter_commits(root, rev_range, paths):
        count += 1
        changes.extend(parse_commit(commit))
    return changes, count


def plan_rollback(
    root: Path,
    config: Config,
    *,
    new_version: str,
    new_tag: str,
    new_ref: str = "HEAD",
    target_tag: str | None = None,
    now: datetime | None = None,
    package: str | None = None,
) -> RollbackPlan:
    """Plan how to undo release ``new_tag`` (at ``new_ref``) back to ``target_tag``.

    ``target_tag`` defaults to the previous release; None found means a first
    release, which gives a plan saying so. An unknown ``target_tag`` raises
    NotFound; a target not older than ``new_tag`` raises UsageError. Releases
    between the target and ``new_tag`` are undone too (see
    :func:`intermediate_releases`).

    ``package``: a monorepo package. Its tags are the releases; the breaking
    changes are those of its commits; the file risks come from its files and
    the shared ones (every file outside all packages: lockfiles, CI, deploy
    config), never from another package's (see :func:`package_scope`).
    """
    settings = load_settings(config, package)
    vs = version_settings(config, package) if package is not None else None
    in_scope = package_scope(config, package)
    new_sha = git.resolve_ref(root, new_ref)
    if target_tag is not None:
        target = find_tag(root, config, target_tag, package)
        check_target(root, target, new_tag=new_tag, new_version=new_version, new_sha=new_sha)
        previous: TagInfo | None = target
    else:
        previous = previous_release(
            root, config, new_ref=new_ref, new_tag=new_tag, new_version=new_version, package=package
        )
    release = next(iter(git.iter_commits(root, f"{new_sha}^!")), None)
    risks = []
    count = 0
    between: list[TagInfo] = []
    subjects: dict[str, tuple[str, bool]] = {}
    if previous is not None:
        between = intermediate_releases(
            root,
            config,
            new_ref=new_ref,
            new_tag=new_tag,
            new_version=new_version,
            target=previous,
            package=package,
        )
        for tag in between:
            commit = next(iter(git.iter_commits(root, f"{tag.sha}^!")), None)
            if commit is not None:
                subjects[tag.sha] = (commit.subject, commit.is_merge)
        changes, count = _changes(root, f"{previous.sha}..{new_sha}", vs.paths if vs else ())
        changed = [
            c
            for c in changed_files(root, previous.sha, new_sha)
            if in_scope(c.path) or (c.old_path is not None and in_scope(c.old_path))
        ]
        new_paths, old_paths = paths_needing_content(changed, settings.migration_paths)
        new_texts = {p: t for p in new_paths if (t := file_text(root, new_sha, p)) is not None}
        old_texts = {p: t for p in old_paths if (t := file_text(root, previous.sha, p)) is not None}
        risks = analyze_risks(
            changed,
            changes,
            new_texts=new_texts,
            old_texts=old_texts,
            tree=tree_paths(root, new_sha),
            migration_patterns=settings.migration_paths,
            previous=previous.name,
        )
    packages = detect_packages(root, new_sha, vs.directory if vs else "")
    return build_plan(
        project=packages[0].name if packages else (package or root.name),
        new_version=new_version,
        new_tag=new_tag,
        new_ref=new_ref,
        new_sha=new_sha,
        previous=previous,
        settings=settings,
        created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        release_subject=release.subject if release else "",
        release_is_merge=release.is_merge if release else False,
        branch=git.current_branch(root),
        packages=packages,
        risks=risks,
        commit_count=count,
        intermediate=between,
        intermediate_subjects=subjects,
        package=package,
        paths=vs.paths if vs else (),
    )


def package_scope(config: Config, package: str | None) -> Callable[[str], bool]:
    """Which changed paths count for rolling back ``package``: its own, and the shared
    files outside every package (lockfiles, CI, deploy config at the top); never another
    package's. Without a package, every path."""
    if package is None:
        return lambda _path: True
    own = version_settings(config, package).paths
    others = [p for name in package_names(config) for p in version_settings(config, name).paths]

    def under(path: str, prefixes: Iterable[str]) -> bool:
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in prefixes)

    return lambda path: under(path, own) or not under(path, others)
