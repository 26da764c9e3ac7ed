"""History cut into release sections, read in one pass per slice, slices in parallel.

A :class:`Section` is the range of one release: the commits reachable from
its tip (the release tag, or HEAD for Unreleased) and from no older release.
:func:`collect_sections` reads several consecutive sections with ONE
``git log`` stream, assigning each commit to the oldest section whose tip
reaches it (labels flow from children to parents, and ``git log`` shows
children first). :func:`full_history` splits the sections of a whole
history into contiguous slices, one per worker process (ranges between tags
are independent), then joins the results; only the first-timer computation
needs every slice, so it runs in the parent between two worker phases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from castoff.errors import GitError, NotFound, UsageError
from castoff.release import git
from castoff.release.commits import STANDARD_TYPES, body_prefixes, parse_fields
from castoff.release.model import Change, Person, ReleaseNotes, TagInfo
from castoff.release.notes import NotesConfig, build_notes, compare_target, forge_of
from castoff.release.refs import Forge

Rendered = Callable[[ReleaseNotes], str]


@dataclass(frozen=True)
class Section:
    """One release range: ``tip`` and its ancestors not reachable from older sections."""

    index: int
    tip: str
    tag: TagInfo | None = None
    previous: str | None = None
    #: Where an untagged section's compare link ends (the ``--to`` ref, see
    #: :func:`castoff.release.notes.compare_target`).
    to_ref: str = "HEAD"


@dataclass
class Collected:
    """What one section's commits yielded."""

    section: Section
    changes: list[Change] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)
    commit_count: int = 0

    @property
    def contributors(self) -> list[Person]:
        return list(self.people.values())


@dataclass
class Walk:
    """One ``git log`` pass over consecutive sections.

    ``links`` maps a section tip (or an excluded commit) to the index of a
    section one of whose commits has it as a parent: the evidence that the
    tip is in that section's history (see :func:`is_chain`).
    """

    sections: list[Collected]
    links: dict[str, int] = field(default_factory=dict)


def collect_sections(
    root: Path,
    sections: Sequence[Section],
    excluded: Sequence[str],
    cfg: NotesConfig,
    forge: Forge | None = None,
    *,
    keep_body: bool = True,
    shallow: set[str] | None = None,
    paths: Sequence[str] = (),
) -> Walk:
    """Parse the commits of ``sections`` with one ``git log`` (commits of ``excluded`` left out).

    ``shallow``: the commits a shallow clone cut off (looked up when None).
    ``paths``: only commits touching them (``git log -- <paths>``).
    """
    out = [Collected(s) for s in sections]
    tips: dict[str, int] = {}
    for pos, s in enumerate(sections):
        tips.setdefault(s.tip, pos)
    revs = [*dict.fromkeys(s.tip for s in sections), *(f"^{sha}" for sha in excluded)]
    if shallow is None:
        shallow = shallow_boundary(root)
    prefixes = body_prefixes(STANDARD_TYPES | set(cfg.types))
    include_merges = cfg.include_merges
    # Per-section accumulators as plain lists: the loop below runs once per commit.
    counts = [0] * len(sections)
    changes_of = [c.changes for c in out]
    people_of = [c.people for c in out]
    pending: dict[str, int] = {}
    links: dict[str, int] = {}
    people: dict[tuple[str, str], tuple[Person, str]] = {}
    coauthored: list[tuple[int, int]] = []  # (section position, index of its change)
    last = len(sections) - 1
    for sha, parents, name, email, _, subject, body in git.iter_commit_fields(root, revs, paths):
        label = pending.pop(sha, None)
        tip = tips.get(sha)
        if tip is not None:
            if label is not None:
                links[sha] = sections[label].index
            if label is None or tip < label:
                label = tip
        if label is None:  # clock skew put a parent before its child: keep the last section
            label = last
        last = label
        for parent in parents.split():
            old = pending.get(parent)
            if old is None or label < old:
                pending[parent] = label
        if shallow and sha in shallow:
            raise GitError(
                f"{root} is a shallow clone and the history of this range is cut at "
                f"{sha[:12]}: run `git fetch --unshallow --tags` first"
            )
        counts[label] += 1
        if " " in parents and not include_merges:
            continue
        known = people.get((name, email))
        if known is None:
            author = Person(name, email)
            known = people[name, email] = (author, author.key)
        author, key = known
        section_people = people_of[label]
        if key not in section_people:
            section_people[key] = author
        changes = parse_fields(sha, author, subject, body, prefixes, forge, keep_body, True)
        if changes:
            bucket = changes_of[label]
            if len(changes[0].authors) > 1:
                coauthored += [(label, len(bucket) + i) for i in range(len(changes))]
            bucket += changes
    for pos, count in enumerate(counts):
        out[pos].commit_count = count
    for sha in excluded:
        if sha in pending:
            links[sha] = sections[pending[sha]].index
    if coauthored:
        _apply_mailmap(root, out, coauthored)
    return Walk(out, links)


def is_chain(sections: Sequence[Section], links: dict[str, int], to_sha: str) -> bool:
    """True when the walks showed each section's tip to be in the next section's history.

    Then every tag is reachable from ``to_sha`` and excluding only the
    previous tip is exact. (A tip is proven to be in section ``k``'s history
    when one of section ``k``'s commits has it as a parent.)
    """
    if not sections or sections[-1].tip != to_sha:
        return False
    for i, s in enumerate(sections[:-1]):
        nxt = next((t for t in sections[i + 1 :] if t.tip != s.tip), None)
        if nxt is None:
            return s.tip == to_sha
        if links.get(s.tip) != nxt.index:
            return False
    return True


def shallow_boundary(root: Path) -> set[str]:
    """The commits whose parents this clone lacks (empty unless shallow)."""
    if not git.is_shallow(root):
        return set()
    return git.shallow_commits(root)


def _apply_mailmap(root: Path, out: list[Collected], coauthored: list[tuple[int, int]]) -> None:
    """Map co-authors through .mailmap and count them as contributors of their section."""
    coauthors = {p for pos, i in coauthored for p in out[pos].changes[i].authors[1:]}
    mapping = git.check_mailmap(root, coauthors)
    for pos, i in coauthored:
        bucket = out[pos]
        change = bucket.changes[i]
        authors = tuple(dict.fromkeys(mapping.get(p, p) for p in change.authors))
        if authors != change.authors:
            bucket.changes[i] = replace(change, authors=authors)
        for person in authors[1:]:
            bucket.people.setdefault(person.key, person)


def plan_sections(
    root: Path, to_sha: str, cfg: NotesConfig, *, exact: bool = False, to_ref: str = "HEAD"
) -> list[Section]:
    """Sections of the whole history up to ``to_sha``, oldest first (Unreleased last).

    ``exact`` keeps only tags git says are merged into ``to_sha`` (a walk of
    the whole history); otherwise every release tag is planned and the walks
    verify that the tags form a chain themselves (:func:`is_chain`).
    """
    if exact:
        tags = git.reachable_tags(root, cfg.tag_format, to_sha)
    else:
        tags = git.list_tags(root, cfg.tag_format)
    if not cfg.include_prereleases:
        tags = [t for t in tags if not git.is_prerelease(t.version)]
    sections: list[Section] = []
    previous: str | None = None
    for tag in tags:
        sections.append(Section(len(sections), tag.sha, tag, previous))
        previous = tag.name
    if not tags or tags[-1].sha != to_sha:
        sections.append(Section(len(sections), to_sha, None, previous, to_ref))
    return sections


def _finish(
    collected: Collected,
    first_timers: Sequence[Person],
    cfg: NotesConfig,
    forge: Forge | None,
    render: Rendered | None,
) -> ReleaseNotes | str:
    s = collected.section
    on = s.tag.created_at.date() if s.tag and s.tag.created_at else datetime.now(UTC).date()
    notes = build_notes(
        collected.changes,
        config=cfg,
        version=s.tag.version if s.tag else None,
        on=on,
        tag=s.tag.name if s.tag else None,
        previous_tag=s.previous,
        contributors=collected.contributors,
        first_timers=first_timers,
        forge=forge,
        commit_count=collected.commit_count,
        to_ref=s.to_ref,
    )
    return render(notes) if render is not None else notes


def _first_timers(people: Sequence[Sequence[Person]]) -> list[list[Person]]:
    """For each section (oldest first), the contributors seen in no earlier section."""
    seen: set[str] = set()
    result = []
    for group in people:
        result.append([p for p in group if p.key not in seen])
        seen.update(p.key for p in group)
    return result


def _chunks(sections: Sequence[Section], n: int) -> list[list[Section]]:
    size, extra = divmod(len(sections), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(list(sections[start:end]))
        start = end
    return [c for c in out if c]


@dataclass(frozen=True)
class _Job:
    root: Path
    chunk: list[Section]
    excluded: list[str]
    cfg: NotesConfig
    forge: Forge | None
    render: Rendered | None
    shallow: set[str]


def _worker(conn: Any, job: _Job) -> None:
    """Phase 1: walk and report contributors and links; phase 2: finish with the first-timers."""
    try:
        walk = collect_sections(
            job.root,
            job.chunk,
            job.excluded,
            job.cfg,
            job.forge,
            keep_body=job.render is None,
            shallow=job.shallow,
        )
        summary = [(c.contributors, c.commit_count) for c in walk.sections]
        conn.send(("ok", (summary, walk.links)))
        firsts = conn.recv()
        if firsts is None:  # the plan was wrong; the parent starts over
            return
        pairs = zip(walk.sections, firsts, strict=True)
        conn.send(("ok", [_finish(c, f, job.cfg, job.forge, job.render) for c, f in pairs]))
    except BaseException as exc:  # handed to the parent, which re-raises it
        conn.send(("error", exc))
    finally:
        conn.close()


def _receive(conn: Any) -> Any:
    try:
        status, payload = conn.recv()
    except EOFError as exc:
        raise GitError("a release-notes worker process died") from exc
    if status == "error":
        raise payload
    return payload


def full_history(
    root: Path,
    to_ref: str,
    cfg: NotesConfig,
    *,
    workers: int | None = None,
    render: Rendered | None = None,
    forge: Forge | None = None,
    find_forge: bool = True,
    paths: Sequence[str] = (),
) -> list[ReleaseNotes] | list[str]:
    """Every release section up to ``to_ref``, newest first: notes, or text if ``render``.

    ``forge`` gives the links (looked up from ``origin`` when None and ``find_forge``).
    ``paths`` keeps only commits touching them (a monorepo package's); git then
    rewrites parents around the other commits, so the sections are planned
    exactly (each excludes every earlier tag) and read in this process.
    """
    try:
        to_sha = git.resolve_ref(root, to_ref)
    except NotFound:
        if not git.has_commits(root):
            raise UsageError(f"{root} has no commits yet: nothing to write notes about") from None
        raise
    if forge is None and find_forge:
        forge = forge_of(root, cfg)
    n = workers or cfg.workers
    # Forking while other threads run may deadlock the child: stay in-process then.
    parallel = n > 1 and threading.active_count() == 1 and not paths
    for exact in (True,) if paths else (False, True):
        sections = plan_sections(
            root, to_sha, cfg, exact=exact, to_ref=compare_target(to_ref, to_sha)
        )
        if paths:
            done: list[tuple[int, ReleaseNotes | str]] | None = _run_per_section(
                root, sections, cfg, forge, render, paths
            )
        else:
            run = _run_parallel if parallel and len(sections) >= 4 else _run_inline
            done = run(root, sections, min(n, len(sections)), to_sha, cfg, forge, render, exact)
        if done is not None:
            kept = [item for (count, item), s in zip(done, sections, strict=True) if count or s.tag]
            return list(reversed(kept))  # type: ignore[return-value]
    raise GitError("release tags could not be placed in history")  # pragma: no cover


def _run_inline(
    root: Path,
    sections: list[Section],
    _workers: int,
    to_sha: str,
    cfg: NotesConfig,
    forge: Forge | None,
    render: Rendered | None,
    exact: bool,
) -> list[tuple[int, ReleaseNotes | str]] | None:
    walk = collect_sections(root, sections, [], cfg, forge, keep_body=render is None)
    if not exact and not is_chain(sections, walk.links, to_sha):
        return None
    firsts = _first_timers([c.contributors for c in walk.sections])
    pairs = zip(walk.sections, firsts, strict=True)
    return [(c.commit_count, _finish(c, f, cfg, forge, render)) for c, f in pairs]


def _run_per_section(
    root: Path,
    sections: list[Section],
    cfg: NotesConfig,
    forge: Forge | None,
    render: Rendered | None,
    paths: Sequence[str],
) -> list[tuple[int, ReleaseNotes | str]]:
    """One ``git log -- <paths>`` per section, each excluding every earlier tip.

    With a path filter git leaves out the commits that touch none of the
    paths (a section's tip among them) and rewrites parents around them, so
    one walk cannot tell where a section ends; each range is read on its own.
    """
    shallow = shallow_boundary(root)
    walked: list[Collected] = []
    for pos, section in enumerate(sections):
        earlier = list(dict.fromkeys(s.tip for s in sections[:pos] if s.tip != section.tip))
        (one,) = collect_sections(
            root, [section], earlier, cfg, forge,
            keep_body=render is None, shallow=shallow, paths=paths,
        ).sections  # fmt: skip
        walked.append(one)
    firsts = _first_timers([c.contributors for c in walked])
    pairs = zip(walked, firsts, strict=True)
    return [(c.commit_count, _finish(c, f, cfg, forge, render)) for c, f in pairs]


def _run_parallel(
    root: Path,
    sections: list[Section],
    n: int,
    to_sha: str,
    cfg: NotesConfig,
    forge: Forge | None,
    render: Rendered | None,
    exact: bool,
) -> list[tuple[int, ReleaseNotes | str]] | None:
    """Walk contiguous slices of ``sections`` in ``n`` forked processes.

    Each slice excludes the history of the sections before it: only the tip
    just before it when the tags are assumed to form a chain (verified
    afterwards), every earlier tip in the ``exact`` plan.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    chunks = _chunks(sections, n)
    shallow = shallow_boundary(root)
    procs, conns = [], []
    for chunk in chunks:
        before = sections[: chunk[0].index]
        excluded = [s.tip for s in (before if exact else before[-1:])]
        parent_end, child_end = ctx.Pipe()
        job = _Job(root, chunk, excluded, cfg, forge, render, shallow)
        proc = ctx.Process(target=_worker, args=(child_end, job))
        proc.start()
        child_end.close()
        procs.append(proc)
        conns.append(parent_end)
    try:
        people, counts, links = [], [], {}
        for conn in conns:
            summary, chunk_links = _receive(conn)
            people += [p for p, _ in summary]
            counts += [count for _, count in summary]
            links.update(chunk_links)
        if not exact and not is_chain(sections, links, to_sha):
            for conn in conns:
                conn.send(None)
            return None
        firsts = _first_timers(people)
        start = 0
        for conn, chunk in zip(conns, chunks, strict=True):
            conn.send(firsts[start : start + len(chunk)])
            start += len(chunk)
        items = [item for conn in conns for item in _receive(conn)]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in conns:
            conn.close()
    return list(zip(counts, items, strict=True))


def render_full(
    root: Path,
    to_ref: str,
    cfg: NotesConfig,
    render: Rendered,
    forge: Forge | None = None,
    paths: Sequence[str] = (),
) -> list[str]:
    """Every release section up to ``to_ref``, rendered in the workers, newest first."""
    texts = full_history(
        root, to_ref, cfg, render=render, forge=forge, find_forge=False, paths=paths
    )
    return texts  # type: ignore[return-value]
