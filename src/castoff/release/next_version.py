"""The next version from git: release tags, the commits since, an interrupted release.

:func:`compute_next` reads the release tags and the commits since the last
release (only those: cost follows the commits since the release, not the
history) and asks :func:`castoff.release.version.plan_next`. A release an
earlier run started and did not tag (:mod:`castoff.release.pending`) is
finished, not bumped again. Nothing is written here: applying the release
(files → commit → tag → push) is :mod:`castoff.release.tagging`, which reads
the version files and HEAD's parent through :func:`files_version` and
:func:`head_parent`.

Git runs only through :mod:`castoff.release.git`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from castoff.config import Config
from castoff.errors import ConflictError, GitError, NotFound, UsageError, VersionError
from castoff.release import git, pending
from castoff.release.model import Change, TagInfo
from castoff.release.version import (
    Plan,
    Version,
    VersionSettings,
    parse,
    plan_next,
    version_settings,
)
from castoff.release.versionfiles import VersionFile, find_version


@dataclass(frozen=True)
class NextVersion:
    """The answer of ``castoff version next``; ``no_release`` when nothing is releasable."""

    current: str | None
    next: str | None
    bump: str | None
    reasons: tuple[Change, ...]
    scheme: str
    tag: str | None
    no_release: bool
    message: str
    package: str | None = None
    previous_tag: str | None = None
    since_tag: str | None = None
    head_tagged: bool = False
    commit_count: int = 0
    warnings: tuple[str, ...] = ()
    config_source: str = "defaults"


def compute_next(
    repo: Path,
    config: Config,
    *,
    bump: str | None = None,
    version: str | None = None,
    prerelease: str | None = None,
    package: str | None = None,
) -> NextVersion:
    """The current and next version of ``package`` (or the project) at ``repo``'s HEAD.

    ``bump`` (major|minor|patch) and ``version`` override the commits;
    ``prerelease`` (rc|beta|alpha) makes or continues a prerelease. Raises
    VersionError (exit 2) for a malformed or non-increasing ``version``.

    An interrupted release (see :mod:`castoff.release.pending`) is finished,
    not bumped again: its version is the answer while HEAD is the commit it
    started on or its release commit. Asking for another version then is a
    ConflictError (exit 3). With HEAD already carrying the latest release tag
    (no commits since), ``--version`` of that release is "already tagged" and
    ``--bump`` / ``--prerelease`` have nothing to release.
    """
    from castoff.release.commits import parse_commit

    s = version_settings(config, package)
    if version is not None and (bump is not None or prerelease is not None):
        # one rule for every face (CLI, MCP, release prepare)
        other = "--bump" if bump is not None else "--prerelease"
        raise VersionError(
            f"{other} and --version exclude each other"
            + ("; spell the prerelease in --version (e.g. 1.2.0-rc.1)" if bump is None else "")
        )
    head = _head(repo)
    tags = _release_tags(repo, s) if head else []
    current_tag = tags[-1] if tags else None
    final_tag = next((t for t in reversed(tags) if not t[1].is_prerelease), None)
    head_tagged = bool(current_tag and head == current_tag[0].sha)
    warnings: list[str] = []
    file_version = files_version(repo, s, warnings)
    if current_tag is not None and head_tagged:
        done = _already_released(s, current_tag, bump, version, prerelease, config.source)
        if done is not None:
            return done
    interrupted = _interrupted(repo, s, head, current_tag, file_version) if head else None
    start = file_version if s.initial_version == "files" else parse(s.initial_version, s.scheme)
    tip = "HEAD"
    if interrupted is not None:
        start = parse(interrupted.current, s.scheme) if interrupted.current else None
        tip = interrupted.base
    elif current_tag and file_version is not None and file_version != current_tag[1]:
        warnings.append(
            f"version files say {file_version} but the latest tag {current_tag[0].name} "
            f"says {current_tag[1]}"
        )
    current = current_tag[1] if current_tag else start
    last_final = final_tag[1] if final_tag else (None if current_tag else start)
    if last_final is not None and last_final.is_prerelease:
        last_final = None
    since = final_tag[0].sha if final_tag else None
    rev = f"{since}..{tip}" if since else tip
    changes: list[Change] = []
    count = 0
    if head:
        for commit in git.iter_commits(repo, rev, s.paths):
            count += 1
            changes.extend(parse_commit(commit))
    plan = plan_next(
        scheme=s.scheme,
        current=current,
        last_final=last_final,
        changes=changes,
        rules=s.rules,
        bump_override=bump,
        version_override=version,
        prerelease=prerelease,
        prerelease_start=s.prerelease_start,
        prerelease_style=s.prerelease_style,
        since=final_tag[0].name if final_tag else "the first commit (no release tag yet)",
    )
    nxt = plan.next
    message = plan.message if head else "the repository has no commits yet"
    if interrupted is not None:
        overridden = bool(bump or version or prerelease)
        nxt, message = _finish(interrupted, plan, s, any_override=overridden)
    return NextVersion(
        current=str(current) if current else None,
        next=str(nxt) if nxt else None,
        bump=plan.bump,
        reasons=plan.reasons,
        scheme=s.scheme,
        tag=s.tag_format.format(version=nxt) if nxt else None,
        no_release=nxt is None,
        message=message,
        package=s.package,
        previous_tag=current_tag[0].name if current_tag else None,
        since_tag=final_tag[0].name if final_tag else None,
        head_tagged=head_tagged,
        commit_count=count,
        warnings=tuple(warnings),
        config_source=config.source,
    )


def _already_released(
    s: VersionSettings,
    current_tag: tuple[TagInfo, Version],
    bump: str | None,
    version: str | None,
    prerelease: str | None,
    source: str,
) -> NextVersion | None:
    """The answer for a re-run on a HEAD that carries the latest release tag, or None.

    ``--version`` naming that release: already tagged. ``--bump`` /
    ``--prerelease``: no commits since the release, nothing to release (a
    plain run finds that from the commits, and may still finalize a
    prerelease on the same commit).
    """
    tag, released = current_tag
    if version is not None:
        if parse(version, s.scheme) != released:
            return None
        why = f"{tag.name} is already on HEAD"
    elif bump is not None or prerelease is not None:
        asked = f"--bump {bump}" if bump is not None else f"--prerelease {prerelease}"
        why = f"no commits since {tag.name}, which is on HEAD ({asked} has nothing to release)"
    else:
        return None
    return NextVersion(
        current=str(released),
        next=None,
        bump=None,
        reasons=(),
        scheme=s.scheme,
        tag=None,
        no_release=True,
        message=why,
        package=s.package,
        previous_tag=tag.name,
        since_tag=None if released.is_prerelease else tag.name,
        head_tagged=True,
        config_source=source,
    )


def _interrupted(
    repo: Path,
    s: VersionSettings,
    head: str,
    current_tag: tuple[TagInfo, Version] | None,
    file_version: Version | None,
) -> pending.PendingRelease | None:
    """The release an earlier run started and did not tag, if HEAD is still where it left it.

    From the record under ``.castoff/`` (HEAD is the commit it started on, or
    the release commit on top of it); without a record, HEAD is recognised
    as a release commit by its message (``commit_message`` for the version
    the files declare) when that version is above the latest tag and untagged.
    """
    record = pending.read(repo, s.package)
    if record is not None and git.tag_sha(repo, record.tag) is None:
        if head == record.base:
            return record
        if head_parent(repo) == record.base and _head_message(repo) == pending.normalize_message(
            record.message
        ):
            return record
    if file_version is None or (current_tag is not None and not file_version > current_tag[1]):
        return None
    tag = s.tag_format.format(version=file_version)
    if git.tag_sha(repo, tag) is not None:
        return None
    pattern = pending.message_pattern(
        s.commit_message, version=str(file_version), tag=tag, package=s.package
    )
    message = _head_message(repo)
    base = head_parent(repo)
    if base is None or not pattern.fullmatch(message):
        return None
    if current_tag is not None:
        current: Version | None = current_tag[1]
    elif s.initial_version != "files":
        current = parse(s.initial_version, s.scheme)
    else:
        current = files_version(repo, s, [], rev=base)
    return pending.PendingRelease(
        str(file_version), tag, str(current) if current else None, base, message, s.package
    )


def _finish(
    interrupted: pending.PendingRelease,
    plan: Plan,
    s: VersionSettings,
    *,
    any_override: bool,
) -> tuple[Version, str]:
    """The interrupted release's version and why; ConflictError if another one was asked for."""
    target = parse(interrupted.version, s.scheme)
    why = f"finishes the interrupted release {interrupted.tag} (started on {interrupted.base[:12]})"
    if plan.next is not None and plan.next == target:
        return target, f"{why}; {plan.message}"
    if not any_override:
        return target, why
    raise ConflictError(
        f"release {interrupted.tag} was started and not finished; run again without "
        f"--version/--bump/--prerelease to finish it, or restore the version files and delete "
        f"{pending.record_path(Path(), s.package)} to drop it"
    )


def head_parent(repo: Path) -> str | None:
    """HEAD's first parent's sha, or None (a root commit, no commits)."""
    try:
        return git.run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}") or None
    except (GitError, NotFound):
        return None


def _head_message(repo: Path) -> str:
    return pending.normalize_message(git.run_git(repo, "log", "-1", "--format=%B", "HEAD"))


def _head(repo: Path) -> str | None:
    """HEAD's sha, or None in a repository without commits (one git call)."""
    try:
        return git.run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") or None
    except (GitError, NotFound):
        return None


def _release_tags(repo: Path, s: VersionSettings) -> list[tuple[TagInfo, Version]]:
    """Release tags reachable from HEAD (down to the nearest final release), lowest first.

    Cost follows the commits since the last release, not the history: the
    tags are listed (``for-each-ref``, no reachability walk), then history is
    walked from HEAD only until the first commit carrying a final release
    tag. Tags of a higher version not met on that walk (another branch, an
    old branch merged later) are checked one by one with ``merge-base``.
    """
    by_sha: dict[str, list[tuple[TagInfo, Version]]] = {}
    for tag, version in _all_release_tags(repo, s):
        by_sha.setdefault(tag.sha, []).append((tag, version))
    if not by_sha:
        return []
    found: list[tuple[TagInfo, Version]] = []
    for record in git.iter_log_records(repo, ["--format=%H", "HEAD", "--"]):
        tagged = by_sha.get(record.strip())
        if tagged:
            found.extend(tagged)
            if any(not v.is_prerelease for _, v in tagged):
                break
    seen = {t.name for t, _ in found}
    top = max((v for _, v in found), default=None)
    higher = [
        (t, v)
        for pairs in by_sha.values()
        for t, v in pairs
        if t.name not in seen and (top is None or v > top)
    ]
    for tag, version in higher[:_MAX_ANCESTRY_CHECKS]:
        if _is_ancestor(repo, tag.sha):
            found.append((tag, version))
    found.sort(key=lambda pair: pair[1])
    return found


_MAX_ANCESTRY_CHECKS = 50


def _is_ancestor(repo: Path, sha: str) -> bool:
    try:
        git.run_git(repo, "merge-base", "--is-ancestor", sha, "HEAD")
    except (GitError, NotFound):
        return False
    return True


def _all_release_tags(repo: Path, s: VersionSettings) -> list[tuple[TagInfo, Version]]:
    """Every tag matching the tag format whose version parses in the scheme."""
    fmt = "%(refname:strip=2)%00%(objectname)%00%(*objectname)"
    head, _, tail = s.tag_format.partition("{version}")
    out = git.run_git(repo, "for-each-ref", f"--format={fmt}", f"refs/tags/{head}*")
    found: list[tuple[TagInfo, Version]] = []
    for line in out.splitlines():
        name, obj, peeled = [*line.split("\0"), "", ""][:3]
        if not (name.startswith(head) and name.endswith(tail)) or len(name) <= len(head + tail):
            continue
        text = name[len(head) : len(name) - len(tail)]
        try:
            found.append((TagInfo(name, text, peeled or obj), parse(text, s.scheme)))
        except VersionError:
            continue
    return found


def files_version(
    repo: Path, s: VersionSettings, warnings: list[str], *, rev: str | None = None
) -> Version | None:
    """The version the version files declare (the first readable one), noting disagreements.

    Each source is named by file and key (``pyproject.toml (project.version)``),
    so two entries of one file that disagree are told apart. ``rev`` reads
    the files as committed there instead of the work tree.
    """
    seen: list[tuple[str, Version]] = []
    for spec in s.version_files:
        vf = VersionFile.parse(spec)
        try:
            if rev is None:
                text = (repo / vf.path).read_text(encoding="utf-8")
            else:
                text = git.run_git(repo, "show", f"{rev}:{vf.path}")
            found = find_version(text, vf)
            if found is not None:
                seen.append((f"{vf.path} ({found[1]})", parse(found[0], s.scheme)))
        except (OSError, UsageError) as exc:
            warnings.append(f"{vf.path}: {exc}")
    for where, v in seen[1:]:
        if v != seen[0][1]:
            warnings.append(f"{where} says {v} but {seen[0][0]} says {seen[0][1]}")
    return seen[0][1] if seen else None
