"""Applying a release: files → commit → tag → push.

:func:`apply_release` releases a :class:`~castoff.release.next_version.NextVersion`
(from :func:`castoff.release.next_version.compute_next`) in four steps, each
idempotent so that a re-run after a crash at any point completes what is
missing and never doubles anything:

1. :func:`write_files` — version files (and the CHANGELOG) updated; files
   already at the new version are left alone;
2. :func:`make_commit` — the release commit, skipped when HEAD already is it
   (or there is nothing to commit);
3. :func:`make_tag` — the annotated (or signed) tag; a tag already on HEAD is
   "already tagged", one on another commit is a :class:`TagConflict`;
4. :func:`push_release` — ``git push --atomic`` of the branch and the tag.

:func:`check_releasable` refuses, before anything is written, what would stop
the release part-way; :func:`release_notes_text` gives the tag message and
the CHANGELOG section. Git runs only through :func:`castoff.release.git.run_git`.
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
    TagConflict,
    UsageError,
)
from castoff.release import git, pending, textfiles
from castoff.release.next_version import NextVersion, files_version, head_parent
from castoff.release.version import VersionSettings, version_settings
from castoff.release.versionfiles import FileChange, VersionFile, plan_updates


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
        started_here = head == record.base or head_parent(repo) == record.base
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
            declared = files_version(repo, s, [])
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
