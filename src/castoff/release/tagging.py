"""Version tagging: the next version from git, then files → commit → tag → push.

:func:`compute_next` reads the release tags and the commits since the last
release (only those: cost follows the commits since the release, not the
history) and asks :func:`castoff.release.version.plan_next`.
:func:`apply_release` performs the release in four steps, each idempotent so
that a re-run after a crash at any point completes what is missing and never
doubles anything:

1. :func:`write_files` — version files (and the CHANGELOG) updated; files
   already at the new version are left alone;
2. :func:`make_commit` — the release commit, skipped when HEAD already is it
   (or there is nothing to commit);
3. :func:`make_tag` — the annotated (or signed) tag; a tag already on HEAD is
   "already tagged", one on another commit is a :class:`TagConflict`;
4. :func:`push` — ``git push --atomic`` of the branch and the tag.

Git runs only through :func:`castoff.release.git.run_git`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from castoff.config import Config
from castoff.errors import (
    ConfigError,
    ConflictError,
    DirtyWorkingTree,
    GitError,
    NotFound,
    TagConflict,
    UsageError,
    VersionError,
)
from castoff.release import git, pending, textfiles
from castoff.release.model import Change, TagInfo
from castoff.release.version import (
    Plan,
    Version,
    VersionSettings,
    parse,
    plan_next,
    version_settings,
)
from castoff.release.versionfiles import FileChange, VersionFile, find_version, plan_updates


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


@dataclass(frozen=True)
class TagResult:
    """What :func:`apply_release` did (or, with ``dry_run``, would do)."""

    version: str
    tag: str
    status: str  # "tagged" | "already tagged" | "dry run"
    files: tuple[FileChange, ...] = ()
    commit: str | None = None
    committed: bool = False
    pushed: bool = False
    steps: tuple[str, ...] = field(default_factory=tuple)


# -- next version -------------------------------------------------------------


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
    file_version = _files_version(repo, s, warnings)
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
    )
    nxt = plan.next
    message = plan.message
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
        if _parent(repo) == record.base and _head_message(repo) == pending.normalize_message(
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
    base = _parent(repo)
    if base is None or not pattern.fullmatch(message):
        return None
    if current_tag is not None:
        current: Version | None = current_tag[1]
    elif s.initial_version != "files":
        current = parse(s.initial_version, s.scheme)
    else:
        current = _files_version(repo, s, [], rev=base)
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


def _parent(repo: Path) -> str | None:
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


def _files_version(
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


# -- applying -----------------------------------------------------------------


def apply_release(
    repo: Path,
    config: Config,
    nxt: NextVersion,
    notes_text: str,
    *,
    push: bool = False,
    dry_run: bool = False,
    changelog: Callable[[str], str] | None = None,
) -> TagResult:
    """Release ``nxt``: write files, commit, tag (message ``notes_text``), optionally push.

    ``changelog`` turns the CHANGELOG's text into its new text (it must be
    idempotent); it is written and committed with the version files. Every step
    skips what is already done, so a re-run after a crash finishes the release.
    Raises TagConflict (exit 3) when the tag names another commit,
    DirtyWorkingTree / UsageError when the tree or branch is not releasable.
    """
    if nxt.next is None or nxt.tag is None:
        raise UsageError(f"nothing to release: {nxt.message}")
    s = version_settings(config, nxt.package)
    tag_at = git.tag_sha(repo, nxt.tag)
    head = git.head_sha(repo)
    if tag_at is not None:
        if tag_at != head:
            raise TagConflict(f"tag {nxt.tag} already exists on commit {tag_at[:12]}, not HEAD")
        if not dry_run:
            pending.clear(repo, s.package)
        pushed = push_release(repo, s, nxt.tag) if push and not dry_run else False
        return TagResult(nxt.next, nxt.tag, "already tagged", commit=head, pushed=pushed)
    check_releasable(repo, s, changelog_path=s.changelog, push=push)
    files = plan_files(repo, s, nxt, changelog)
    if dry_run:
        return TagResult(nxt.next, nxt.tag, "dry run", tuple(files), commit=head)
    _record(repo, s, nxt, head)
    steps = ["files"]
    write_files(repo, files)
    commit, committed = make_commit(repo, s, nxt, files)
    if committed:
        steps.append("commit")
    make_tag(repo, s, nxt.tag, notes_text or f"Release {nxt.next}")
    pending.clear(repo, s.package)
    steps.append("tag")
    pushed = False
    if push:
        pushed = push_release(repo, s, nxt.tag)
        steps.append("push")
    return TagResult(
        nxt.next, nxt.tag, "tagged", tuple(files), commit, committed, pushed, tuple(steps)
    )


def _record(repo: Path, s: VersionSettings, nxt: NextVersion, head: str) -> None:
    """Note the release about to be written, unless an interrupted run noted it already.

    An interrupted release of another version is a ConflictError: finishing
    this one would lose it.
    """
    assert nxt.next is not None
    assert nxt.tag is not None
    record = pending.read(repo, s.package)
    if record is not None and git.tag_sha(repo, record.tag) is None:
        started_here = head == record.base or _parent(repo) == record.base
        if started_here and record.tag == nxt.tag:
            return  # the interrupted run's record: its base is where the release started
        if started_here and head == record.base:
            raise ConflictError(
                f"release {record.tag} was started here and not finished; finish it with "
                f"`castoff version tag`, or restore the version files and delete "
                f"{pending.record_path(Path(), s.package)}"
            )
    pending.write(
        repo,
        pending.PendingRelease(
            nxt.next, nxt.tag, nxt.current, head, release_message(s, nxt), s.package
        ),
    )


def check_releasable(
    repo: Path, s: VersionSettings, *, changelog_path: Path, push: bool = False
) -> None:
    """Refuse what would stop the release part-way, before anything is written.

    A dirty tree (except files castoff writes), detached HEAD, a non-release
    branch; with ``push``, a missing remote; with ``sign``, git unable to sign
    (a throwaway signed object is made: no ref changes, git gc drops it).
    """
    import fnmatch

    branch = git.current_branch(repo)
    if branch is None and not s.allow_detached:
        raise UsageError("HEAD is detached; check out a release branch (or set allow_detached)")
    if branch is not None and not any(fnmatch.fnmatchcase(branch, p) for p in s.release_branches):
        raise UsageError(
            f"branch {branch!r} is not a release branch ({', '.join(s.release_branches)})"
        )
    ours = {VersionFile.parse(v).path for v in s.version_files}
    ours.add(_relative(repo, changelog_path))
    dirty = []
    for line in git.status_porcelain(repo):
        path = line[3:].split(" -> ")[-1].strip('"')
        if path not in ours and not path.startswith(".castoff/"):
            dirty.append(path)
    if dirty:
        raise DirtyWorkingTree(
            f"the working tree has uncommitted changes: {', '.join(sorted(dirty)[:5])}"
        )
    if not s.commit and s.version_files:
        raise ConfigError(
            "version.commit = false with version_files would tag a commit whose files still "
            "say the old version; drop version_files (the tag is the version) or set commit = true"
        )
    if push and git.remote_url(repo, s.remote) is None:
        raise UsageError(f"no git remote named {s.remote!r} to push to (nothing was written)")
    if s.sign:
        _check_signing(repo)


def _check_signing(repo: Path) -> None:
    """UsageError when git cannot sign (no key, no gpg / ssh-keygen): before any write."""
    try:
        git.run_git(repo, "commit-tree", "-S", "-m", "castoff signing check", "HEAD^{tree}")
    except GitError as exc:
        raise UsageError(
            f"sign = true but git cannot sign ({exc.message}); configure user.signingkey "
            "(and gpg.format) or set sign = false (nothing was written)"
        ) from exc


def _relative(repo: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def plan_files(
    repo: Path, s: VersionSettings, nxt: NextVersion, changelog: Callable[[str], str] | None
) -> list[FileChange]:
    """The version-file (and CHANGELOG) changes the release makes."""
    assert nxt.next is not None
    files: list[FileChange] = []
    if s.version_files:
        old = nxt.current or nxt.next
        if nxt.previous_tag is None:
            # first release: the files may hold a version that is not the start
            # (initial_version = "0.0.0", python-semantic-release's habit)
            declared = _files_version(repo, s, [])
            if declared is not None and str(declared) not in (old, nxt.next):
                old = str(declared)
        files = plan_updates(repo, s.version_files, old, nxt.next)
    if changelog is not None and s.commit:  # commit = false: the tag only, no files
        path = _relative(repo, s.changelog)
        before = textfiles.read_text(s.changelog)
        after = changelog(before)
        status = "update" if after != before else "already"
        files.append(FileChange(path, "changelog", status, before, after))
    return files


def write_files(repo: Path, files: list[FileChange]) -> list[str]:
    """Step 1: write the planned file updates (atomic per file)."""
    from castoff.release.versionfiles import write_changes

    return write_changes(repo, files)


def release_message(s: VersionSettings, nxt: NextVersion) -> str:
    """The release commit message from ``commit_message``."""
    return s.commit_message.format(
        version=nxt.next, current_version=nxt.current or "", tag=nxt.tag, package=nxt.package or ""
    )


def make_commit(
    repo: Path, s: VersionSettings, nxt: NextVersion, files: list[FileChange]
) -> tuple[str, bool]:
    """Step 2: commit the released files; skipped if HEAD already is that commit.

    Returns (HEAD sha after the step, whether a commit was made).
    """
    paths = [f.path for f in files]
    if not s.commit or not paths:
        return git.head_sha(repo), False
    changed = git.run_git(repo, "status", "--porcelain", "--", *paths)
    if not changed:
        return git.head_sha(repo), False  # done before (or nothing differs)
    git.run_git(repo, "add", "--", *paths)
    git.run_git(repo, "commit", "-q", "-F", "-", "--", *paths, input=release_message(s, nxt))
    return git.head_sha(repo), True


def make_tag(repo: Path, s: VersionSettings, tag: str, message: str) -> bool:
    """Step 3: create the annotated (``-s`` signed when configured) tag on HEAD.

    Returns False when it already points at HEAD; TagConflict if it points elsewhere.
    """
    head = git.head_sha(repo)
    existing = git.tag_sha(repo, tag)
    if existing == head:
        return False
    if existing is not None:
        raise TagConflict(f"tag {tag} already exists on commit {existing[:12]}, not HEAD")
    kind = "-s" if s.sign else "-a"
    git.run_git(repo, "tag", kind, "--cleanup=verbatim", "-F", "-", tag, head, input=message)
    return True


def push_release(repo: Path, s: VersionSettings, tag: str) -> bool:
    """Step 4: push the branch and the tag together (``git push --atomic``)."""
    if git.remote_url(repo, s.remote) is None:
        raise UsageError(f"no git remote named {s.remote!r} to push to")
    branch = git.current_branch(repo)
    refs = [f"refs/tags/{tag}"]
    if branch is not None:
        refs.insert(0, f"refs/heads/{branch}")
    try:
        git.run_git(repo, "push", "--atomic", "--quiet", s.remote, *refs)
    except GitError as exc:
        raise ConflictError(f"push to {s.remote} was refused: {exc}") from exc
    return True


def release_notes_text(
    repo: Path, config: Config, nxt: NextVersion
) -> tuple[str, Callable[[str], str] | None]:
    """The tag message (the notes engine's text format) and the CHANGELOG transform.

    The transform inserts this release's Markdown section (idempotent: a
    section for the version is never added twice); it is None when
    ``version.update_changelog`` is false or there is nothing to write about.
    """
    from castoff.errors import UsageError as NoNotes
    from castoff.release import changelog
    from castoff.release import notes as notes_engine
    from castoff.release.notes_render import NotesRenderer

    title = f"Release {nxt.next}"
    # a monorepo package's notes: its commits, between its tags (links name its tags)
    cfg = notes_engine.NotesConfig.from_config(config, nxt.package)
    try:
        since = nxt.since_tag if nxt.package else None
        s = version_settings(config, nxt.package)
        notes = notes_engine.generate_notes(
            repo, since, config=cfg, version=nxt.next, paths=s.paths
        )
    except NoNotes:
        return title + "\n", None
    forge = notes_engine.forge_of(repo, cfg)
    text = NotesRenderer(cfg, "text", forge=forge)(notes)
    if not config.section("version").get("update_changelog", True):
        return text, None
    section = NotesRenderer(cfg, "md", forge=forge)(notes)
    version = nxt.next

    def add_section(existing: str) -> str:
        return changelog.insert_section(existing, section, version)

    return text, add_section
