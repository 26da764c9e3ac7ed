"""Every git invocation castoff makes lives here (one subprocess seam).

Other modules never spawn git themselves: they call these functions, which
return plain values or the dataclasses of :mod:`castoff.release.model`, and
raise :class:`~castoff.errors.NotAGitRepository`, :class:`~castoff.errors.NotFound`
(unknown ref) or :class:`~castoff.errors.GitError` with one clear line.

API at a glance::

    run_git(repo, *args, input=None) -> str          # stdout, stripped of one final newline
    repo_root(path) -> Path                          # top of the work tree
    resolve_ref(repo, ref) -> str                    # full commit sha, NotFound if unknown
    iter_commits(repo, rev_range, paths=()) -> Iterator[Commit]   # streams `git log -z`
    list_tags(repo, tag_format) -> list[TagInfo]     # release tags, oldest version first
    latest_release_tag(repo, tag_format, reachable_from="HEAD", include_prereleases=False)
    tag_sha(repo, tag) -> str | None                 # commit a tag points at
    is_shallow / remote_url / head_sha / current_branch / status_porcelain / is_clean
    check_mailmap(repo, people) -> dict[Person, Person]
    contributor_keys(repo, rev) / contributor_history(repo, rev, shallow)
    count_commits(repo, rev_range) / has_commits(repo)
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from packaging.version import InvalidVersion, Version

from castoff.errors import GitError, NotAGitRepository, NotFound
from castoff.release.model import Commit, Person, TagInfo

#: ``git log`` format: header lines then the raw message; commits end with NUL (-z).
LOG_FORMAT = "%H%n%P%n%aN%n%aE%n%at%n%B"
_CHUNK = 1 << 20
_RELEASE_EVERY = 8 << 20
_SPOOL_MIN_FREE = 1 << 30
_PUNCH_HOLE = 0x02  # FALLOC_FL_PUNCH_HOLE
_KEEP_SIZE = 0x01  # FALLOC_FL_KEEP_SIZE
_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>\d+)\.(?P<patch>\d+)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


def _git_env() -> dict[str, str] | None:
    """The environment for git: inherited, but never paged or localized."""
    env = dict(os.environ)
    env["GIT_PAGER"] = "cat"
    env["LC_ALL"] = "C"
    env.pop("GIT_TRACE", None)
    return env


def _classify(repo: Path, args: Sequence[str], stderr: str) -> Exception:
    line = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), "git failed")
    line = line.removeprefix("fatal: ").removeprefix("error: ")
    if "not a git repository" in stderr.lower():
        return NotAGitRepository(f"{repo} is not a git repository")
    if (
        "unknown revision" in stderr
        or "bad revision" in stderr
        or "ambiguous argument" in stderr
        or "Needed a single revision" in stderr
    ):
        return NotFound(f"unknown git ref: {line}")
    return GitError(f"git {args[0] if args else ''} failed: {line}")


def run_git(repo: Path, *args: str, input: str | None = None) -> str:
    """Run ``git -C repo ARGS`` and return stdout (one trailing newline removed)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            input=input.encode() if input is not None else None,
            env=_git_env(),
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (not found on PATH)") from exc
    except NotADirectoryError as exc:
        raise NotAGitRepository(f"{repo} is not a directory") from exc
    if out.returncode != 0:
        raise _classify(repo, args, out.stderr.decode(errors="replace"))
    text = out.stdout.decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\n") else text


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path``."""
    if not path.exists():
        raise NotAGitRepository(f"{path} does not exist")
    return Path(run_git(path, "rev-parse", "--show-toplevel")).resolve()


def resolve_ref(repo: Path, ref: str) -> str:
    """The full sha of the commit ``ref`` names; NotFound if it names none."""
    if ref.startswith("-"):
        raise NotFound(f"unknown git ref: {ref}")
    try:
        return run_git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
    except (GitError, NotFound) as exc:
        raise NotFound(f"unknown git ref: {ref}") from exc


def has_commits(repo: Path) -> bool:
    """True when HEAD names a commit (False in a fresh repository)."""
    try:
        resolve_ref(repo, "HEAD")
    except NotFound:
        return False
    return True


def head_sha(repo: Path) -> str:
    """The sha HEAD points at."""
    return resolve_ref(repo, "HEAD")


def current_branch(repo: Path) -> str | None:
    """The checked-out branch name, or None when HEAD is detached."""
    try:
        return run_git(repo, "symbolic-ref", "--quiet", "--short", "HEAD") or None
    except (GitError, NotFound):
        return None


def status_porcelain(repo: Path) -> list[str]:
    """``git status --porcelain`` lines (untracked files included)."""
    out = run_git(repo, "status", "--porcelain", "--untracked-files=normal")
    return [line for line in out.splitlines() if line]


def is_clean(repo: Path) -> bool:
    """True when the work tree and index have no changes (untracked files count)."""
    return not status_porcelain(repo)


def is_shallow(repo: Path) -> bool:
    """True for a shallow clone (history is cut off)."""
    return run_git(repo, "rev-parse", "--is-shallow-repository") == "true"


def remote_url(repo: Path, name: str = "origin") -> str | None:
    """The fetch URL of remote ``name``, or None when there is no such remote."""
    try:
        return run_git(repo, "remote", "get-url", name) or None
    except (GitError, NotFound):
        return None


def tag_sha(repo: Path, tag: str) -> str | None:
    """The commit sha tag ``tag`` points at (peeled), or None if there is no such tag."""
    try:
        return run_git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}")
    except (GitError, NotFound):
        return None


def count_commits(repo: Path, rev_range: str) -> int:
    """How many commits ``git rev-list rev_range`` lists."""
    return int(run_git(repo, "rev-list", "--count", rev_range, "--") or 0)


# -- commits -----------------------------------------------------------------


#: One commit's fields as :func:`iter_commit_fields` yields them:
#: ``(sha, parents, author name, author email, unix time, subject, body)``;
#: ``parents`` is space-separated (empty for a root commit).
CommitFields = tuple[str, str, str, str, str, str, str]


def split_record(record: str) -> CommitFields:
    """One ``LOG_FORMAT`` record (without its NUL) as its fields; subject = first line."""
    sha, parents, name, email, stamp, raw = record.split("\n", 5)
    subject, _, body = raw.strip("\n").partition("\n")
    return sha, parents, name, email, stamp, subject.strip(), body.strip("\n").rstrip()


def parse_log_record(record: str) -> Commit:
    """One ``LOG_FORMAT`` record (without its NUL) as a Commit."""
    sha, parents, name, email, stamp, subject, body = split_record(record)
    return Commit(
        sha,
        tuple(parents.split()),
        Person(name, email),
        datetime.fromtimestamp(int(stamp or 0), UTC),
        subject,
        body,
    )


def _spool_dir() -> str | None:
    """A tmpfs folder to spool ``git log`` output through, or None (then: a pipe).

    Only with room to spare (``_SPOOL_MIN_FREE``): git can run ahead of the
    reader, and a full tmpfs would fail the walk.
    """
    if os.environ.get("CASTOFF_GIT_PIPE"):
        return None
    folder = "/dev/shm"
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_bavail * stats.f_frsize < _SPOOL_MIN_FREE or not os.access(folder, os.W_OK):
        return None
    return folder


def _chunks_from_pipe(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
    assert proc.stdout is not None
    read = proc.stdout.read
    while chunk := read(_CHUNK):
        yield chunk


def _chunks_from_spool(proc: subprocess.Popen[bytes], reader: int, writer: int) -> Iterator[bytes]:
    """Read behind git as it writes a tmpfs file; consumed pages are released as we go."""
    consumed = released = 0
    while True:
        chunk = os.read(reader, _CHUNK)
        if chunk:
            consumed += len(chunk)
            if consumed - released >= _RELEASE_EVERY:
                released = _release(writer, consumed)
            yield chunk
        elif proc.poll() is None:
            time.sleep(0.001)
        else:
            while chunk := os.read(reader, _CHUNK):
                yield chunk
            return


def _release(fd: int, upto: int) -> int:
    """Punch out the first ``upto`` bytes of a spool file (best effort); the new mark."""
    upto -= upto % 4096
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate(fd, _PUNCH_HOLE | _KEEP_SIZE, ctypes.c_long(0), ctypes.c_long(upto))
    except (OSError, AttributeError):  # pragma: no cover - not Linux / no fallocate
        pass
    return upto


def iter_log_records(repo: Path, args: Sequence[str]) -> Iterator[str]:
    """Stream the NUL-separated records of ``git log -z ARGS`` (decoded, lossy UTF-8)."""
    for batch in iter_log_batches(repo, args):
        yield from batch


def iter_log_batches(repo: Path, args: Sequence[str]) -> Iterator[list[str]]:
    """The records of ``git log -z ARGS`` in batches (one per chunk read; decoded, lossy UTF-8).

    git writes into an unlinked tmpfs file that is read right behind it (on
    Linux): measured here, a pipe made git spend ~70% more CPU than the
    output itself costs. Elsewhere (or with ``CASTOFF_GIT_PIPE=1``) a pipe.
    """
    cmd = ["git", "-C", str(repo), "log", "-z", "--no-color", "--encoding=UTF-8", *args]
    with tempfile.TemporaryFile() as errors:
        spool = _spool_dir()
        reader = writer = -1
        try:
            if spool is not None:
                try:
                    writer, name = tempfile.mkstemp(prefix="castoff-log-", dir=spool)
                    reader = os.open(name, os.O_RDONLY)
                    Path(name).unlink()
                except OSError:  # no room or no permission after all: use a pipe
                    for fd in (reader, writer):
                        if fd >= 0:
                            os.close(fd)
                    spool, reader, writer = None, -1, -1
            out: int = writer if spool is not None else subprocess.PIPE
            proc = subprocess.Popen(cmd, stdout=out, stderr=errors, env=_git_env(), bufsize=0)
        except FileNotFoundError as exc:
            raise GitError("git is not installed (not found on PATH)") from exc
        finished = False
        try:
            if spool is None:
                chunks = _chunks_from_pipe(proc)
            else:
                chunks = _chunks_from_spool(proc, reader, writer)
            # The record in progress, in pieces: only each new chunk is searched for a NUL,
            # and a record spanning many reads is joined once (linear in its size).
            pending: list[bytes | memoryview] = []
            for chunk in chunks:
                cut = chunk.rfind(b"\0")
                if cut < 0:
                    pending.append(chunk)
                    continue
                if pending:
                    pending.append(memoryview(chunk)[:cut])
                    done = b"".join(pending)
                    pending = []
                else:
                    done = chunk[:cut]
                if cut + 1 < len(chunk):
                    pending.append(chunk[cut + 1 :])
                text = done.decode("utf-8", errors="replace")
                del done  # a huge message is not held as bytes while it is parsed
                batch = text.split("\0")
                del text
                yield batch
            code = proc.wait()
            finished = True
            if code != 0:
                errors.seek(0)
                raise _classify(repo, ["log"], errors.read().decode(errors="replace"))
            tail = b"".join(pending)
            del pending
            if tail.strip(b"\n"):
                yield [tail.decode("utf-8", errors="replace")]
        finally:
            if not finished:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            for fd in (reader, writer):
                if fd >= 0:
                    os.close(fd)


def _log_args(
    rev_range: str | Sequence[str], paths: Iterable[str], first_parent: bool
) -> list[str]:
    revs = [rev_range] if isinstance(rev_range, str) else list(rev_range)
    for rev in revs:
        if rev.startswith("-") and not rev.startswith("--"):
            raise NotFound(f"unknown git ref: {rev}")
    args = [f"--format={LOG_FORMAT}"]
    if first_parent:
        args.append("--first-parent")
    return [*args, "--end-of-options", *revs, "--", *paths]


def iter_commit_fields(
    repo: Path,
    rev_range: str | Sequence[str],
    paths: Iterable[str] = (),
    *,
    first_parent: bool = False,
) -> Iterator[CommitFields]:
    """Like :func:`iter_commits`, but yields plain field tuples (the fast path).

    Same splitting as :func:`split_record`, inlined: this runs once per commit.
    A record longer than one read can only be the first of its batch; it is
    split by :func:`_split_huge` and released from the batch at once.
    """
    for batch in iter_log_batches(repo, _log_args(rev_range, paths, first_parent)):
        if len(batch[0]) > _CHUNK:
            huge = batch[0]
            batch[0] = ""
            fields = _split_huge(huge)
            del huge
            if fields is not None:
                yield fields
        for raw in batch:
            record = raw.lstrip("\n") if raw[:1] == "\n" else raw
            if not record:
                continue
            sha, parents, name, email, stamp, msg = record.split("\n", 5)
            subject, _, body = msg.strip("\n").partition("\n")
            if body:
                body = body.strip("\n").rstrip()
            yield sha, parents, name, email, stamp, subject.strip(), body


def _split_huge(raw: str) -> CommitFields | None:
    """:func:`split_record` for a record too big to copy freely: only the body is copied.

    Same result as the inlined split of :func:`iter_commit_fields` (None for
    a record of only newlines).
    """
    pos = 0
    while raw.startswith("\n", pos):
        pos += 1
    if pos == len(raw):
        return None
    head: list[str] = []
    for _ in range(5):
        nl = raw.find("\n", pos)
        if nl < 0:
            raise ValueError(f"malformed git log record: {raw[:80]!r}")
        head.append(raw[pos:nl])
        pos = nl + 1
    sha, parents, name, email, stamp = head
    while raw.startswith("\n", pos):
        pos += 1
    end = len(raw)
    while end > pos and raw[end - 1].isspace():
        end -= 1
    nl = raw.find("\n", pos, end)
    if nl < 0:
        return sha, parents, name, email, stamp, raw[pos:end].strip(), ""
    start = nl + 1
    while raw.startswith("\n", start):
        start += 1
    return sha, parents, name, email, stamp, raw[pos:nl].strip(), raw[start:end]


def iter_commits(
    repo: Path,
    rev_range: str | Sequence[str],
    paths: Iterable[str] = (),
    *,
    first_parent: bool = False,
) -> Iterator[Commit]:
    """Stream the commits of ``rev_range`` (``"A..B"``, ``"B"`` or a list of revs), newest first.

    Reads ``git log -z`` incrementally: memory stays flat whatever the history
    size. Merge and root commits are included; messages that are not UTF-8
    are decoded with replacement characters. The subject is the first line.
    """
    for raw in iter_log_records(repo, _log_args(rev_range, paths, first_parent)):
        record = raw.lstrip("\n")
        if record:
            yield parse_log_record(record)


# -- tags --------------------------------------------------------------------


@lru_cache(maxsize=32)
def tag_pattern(tag_format: str) -> re.Pattern[str]:
    """The regex matching tags of ``tag_format`` (e.g. ``v{version}``), capturing the version."""
    head, _, tail = tag_format.partition("{version}")
    return re.compile(f"^{re.escape(head)}(?P<version>.+?){re.escape(tail)}$")


def version_key(version: str) -> tuple[Version, tuple[tuple[int, int, str], ...]] | None:
    """A sort key for a semver or PEP 440 version string, or None if it is neither."""
    try:
        return (Version(version), ())
    except InvalidVersion:
        pass
    m = _SEMVER.match(version)
    if m is None:
        return None
    # A semver prerelease PEP 440 cannot read (``1.0.0-foo.bar``): sorts before the release.
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in (m["pre"] or "").split("."))
    return (Version(f"{m['major']}.{m['minor']}.{m['patch']}a0"), pre)


def is_prerelease(version: str) -> bool:
    """True for versions such as ``1.0.0-rc.1`` or ``1.0.0rc1``."""
    m = _SEMVER.match(version)
    if m is not None:
        return m["pre"] is not None
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return False


def list_tags(repo: Path, tag_format: str) -> list[TagInfo]:
    """Release tags matching ``tag_format``, sorted by version (oldest first).

    Tags whose name does not match, or whose version part is not a version,
    are skipped. ``sha`` is the commit the tag points at (annotated tags peeled).
    """
    fmt = "%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(creatordate:unix)"
    out = run_git(repo, "for-each-ref", f"--format={fmt}", "refs/tags")
    pattern = tag_pattern(tag_format)
    found: list[tuple[tuple[Version, tuple[tuple[int, int, str], ...]], TagInfo]] = []
    for line in out.splitlines():
        name, obj, peeled, stamp = [*line.split("\0"), "", "", ""][:4]
        m = pattern.match(name)
        if m is None:
            continue
        version = m["version"]
        key = version_key(version)
        if key is None:
            continue
        created = datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else None
        found.append((key, TagInfo(name, version, peeled or obj, created)))
    found.sort(key=lambda pair: pair[0])
    return [tag for _, tag in found]


def reachable_tags(repo: Path, tag_format: str, reachable_from: str = "HEAD") -> list[TagInfo]:
    """Release tags whose commit is an ancestor of ``reachable_from`` (oldest version first)."""
    merged = set(run_git(repo, "tag", "--merged", resolve_ref(repo, reachable_from)).splitlines())
    return [t for t in list_tags(repo, tag_format) if t.name in merged]


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """True when commit ``ancestor`` is in the history of ``descendant`` (or is it)."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "merge-base", "--is-ancestor", ancestor, descendant],
        capture_output=True,
        env=_git_env(),
        check=False,
    )
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    raise _classify(repo, ["merge-base"], proc.stderr.decode(errors="replace"))


_MAX_ANCESTOR_PROBES = 16


def latest_release_tag(
    repo: Path,
    tag_format: str,
    reachable_from: str = "HEAD",
    *,
    include_prereleases: bool = False,
    exclude_sha: str | None = None,
) -> TagInfo | None:
    """The highest-version release tag reachable from ``reachable_from``, or None.

    Prerelease tags (``v1.0.0-rc.1``) are skipped unless ``include_prereleases``;
    tags on commit ``exclude_sha`` are skipped (the release being described).
    Probes candidates newest first with ``merge-base --is-ancestor`` (cheap for
    recent tags) and falls back to one ``git tag --merged`` walk.
    """
    target = resolve_ref(repo, reachable_from)
    candidates = [
        t
        for t in reversed(list_tags(repo, tag_format))
        if (include_prereleases or not is_prerelease(t.version)) and t.sha != exclude_sha
    ]
    for probe, tag in enumerate(candidates):
        if probe == _MAX_ANCESTOR_PROBES:
            merged = set(run_git(repo, "tag", "--merged", target).splitlines())
            return next((t for t in candidates[probe:] if t.name in merged), None)
        if tag.sha == target or is_ancestor(repo, tag.sha, target):
            return tag
    return None


def shallow_commits(repo: Path) -> set[str]:
    """The commits whose parents a shallow clone cut off (empty for a full clone)."""
    path = Path(run_git(repo, "rev-parse", "--path-format=absolute", "--git-path", "shallow"))
    try:
        return set(path.read_text().split())
    except FileNotFoundError:
        return set()


# -- identities ----------------------------------------------------------------


def contributor_keys(repo: Path, rev: str) -> set[str]:
    """Identity keys (after mailmap) of every author and co-author in the history of ``rev``."""
    return contributor_history(repo, rev)[0]


def contributor_history(
    repo: Path, rev: str, shallow: Collection[str] = ()
) -> tuple[set[str], bool]:
    """:func:`contributor_keys`, and whether that history is complete.

    ``shallow``: the commits a shallow clone cut off (:func:`shallow_commits`);
    the history is incomplete when the walk reaches one of them.
    """
    fmt = "--format=%aE%x1f%aN%x1f%(trailers:key=Co-authored-by,valueonly,separator=%x1e)"
    if shallow:
        fmt = fmt.replace("=", "=%H%x1f", 1)
    complete = True
    keys: set[str] = set()
    raw_coauthors: set[str] = set()
    for raw in iter_log_records(repo, [fmt, "--end-of-options", rev, "--"]):
        record = raw.lstrip("\n")
        if shallow:
            sha, _, record = record.partition("\x1f")
            if sha in shallow:
                complete = False
        email, _, rest = record.partition("\x1f")
        name, _, trailers = rest.partition("\x1f")
        keys.add((email or name).lower())
        if trailers.strip():
            raw_coauthors.update(t.strip() for t in trailers.split("\x1e") if "<" in t)
    people = []
    for contact in raw_coauthors:
        name, _, email = contact.rpartition("<")
        people.append(Person(name.strip(), email.rstrip("> \n")))
    mapped = check_mailmap(repo, people)
    keys.update(mapped.get(p, p).key for p in people)
    return keys, complete


def check_mailmap(repo: Path, people: Iterable[Person]) -> dict[Person, Person]:
    """Map each person to their canonical identity (``git check-mailmap`` semantics)."""
    unique = [p for p in dict.fromkeys(people) if p.email]
    if not unique:
        return {}
    contacts = "".join(f"{p.name} <{p.email}>\n" for p in unique)
    out = run_git(repo, "check-mailmap", "--stdin", input=contacts)
    result: dict[Person, Person] = {}
    for person, line in zip(unique, out.splitlines(), strict=False):
        name, _, email = line.rpartition(" <")
        result[person] = Person(name.strip() or person.name, email.rstrip(">") or person.email)
    return result
