"""Conventional Commits 1.0 parsing: one :class:`Commit` in, its :class:`Change` entries out.

:func:`parse_commit` is pure and never raises on any text. It understands
``type(scope)!: description`` headers, ``BREAKING CHANGE:`` /
``BREAKING-CHANGE:`` footers (multi-line, among other footers), reverts
(``Revert "…"`` and ``revert:``, with git's ``This reverts commit <sha>``),
squash-merge bodies listing several conventional lines (one entry each),
issue references and ``Co-authored-by`` trailers. A commit that is not
conventional gives one entry with ``type="other"`` and ``conventional=False``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace

from castoff.release.model import Change, Commit, Person, Reference
from castoff.release.refs import Forge, find_refs

#: Types recognised in squash-merge bodies even when the config does not list them.
STANDARD_TYPES = frozenset(
    ("feat", "fix", "perf", "refactor", "docs", "style", "test", "build", "ci", "chore", "revert")
)

_HEADER = re.compile(
    r"(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()\n]*)\))?(?P<bang>!)?:[ \t]+(?P<desc>\S.*)"
)
_BODY_LINE = re.compile(
    r"^[ \t]*[-*+][ \t]+(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()\n]*)\))?(?P<bang>!)?"
    r":[ \t]+(?P<desc>\S.*)$",
    re.MULTILINE,
)
#: A commit subject inside git's own ``merge --squash`` message (indented, no list mark).
_SQUASHED_SUBJECT = re.compile(
    r"^[ \t]*(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()\n]*)\))?(?P<bang>!)?"
    r":[ \t]+(?P<desc>\S.*)$"
)
GIT_SQUASH_SUBJECT = "Squashed commit of the following:"
_LIST_MARKS = ("-", "*", "+")
_PR_SUFFIX = re.compile(r"[ \t]*\([#!]\d+\)$")
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*", re.MULTILINE)
_FOOTER = re.compile(r"^(?:[A-Za-z][\w-]*|BREAKING CHANGE)(?::[ \t]|[ \t]#)")
_REVERT_SUBJECT = re.compile(r'^(?P<verb>Revert|Reapply) "(?P<inner>.*)"\s*$')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-fA-F]{7,64})")
_REFS_FOOTER = re.compile(r"^Refs?:[ \t]*(?P<refs>.+)$", re.MULTILINE | re.IGNORECASE)
_SHA_TOKEN = re.compile(r"(?<![\w#/.-])[0-9a-fA-F]{7,64}(?![\w/-])")
_COAUTHOR = re.compile(
    r"^Co-authored-by:[ \t]*(?P<name>[^<\n]*?)[ \t]*<(?P<email>[^>\n]*)>",
    re.MULTILINE | re.IGNORECASE,
)


def co_authors(body: str) -> tuple[Person, ...]:
    """People named in ``Co-authored-by:`` trailers of ``body``."""
    if "o-authored-by" not in body and "O-AUTHORED-BY" not in body:
        return ()
    return tuple(Person(m["name"].strip(), m["email"].strip()) for m in _COAUTHOR.finditer(body))


def _breaking_note(body: str) -> str | None:
    """The text of the ``BREAKING CHANGE:`` footers (continuation lines included), or None.

    Each footer runs up to the next footer; several are joined by a blank line.
    """
    if _BREAKING.search(body) is None:
        return None
    notes: list[str] = []
    current: list[str] | None = None
    for line in body.split("\n"):
        m = _BREAKING.match(line)
        if m is not None:
            if current is not None:
                notes.append("\n".join(current).strip())
            current = [line[m.end() :]]
        elif current is not None:
            if _FOOTER.match(line):
                notes.append("\n".join(current).strip())
                current = None
            else:
                current.append(line)
    if current is not None:
        notes.append("\n".join(current).strip())
    return "\n\n".join(n for n in notes if n) or None


def reverted_shas(body: str) -> str | None:
    """The commits a revert's ``body`` names, space-separated (lower case), or None.

    git's ``This reverts commit <sha>.`` and the Conventional Commits form, a
    ``Refs:`` footer listing full or abbreviated (7+ hex digits) shas.
    """
    shas: list[str] = []
    if "reverts commit" in body:
        shas += [m["sha"].lower() for m in _REVERTS_SHA.finditer(body)]
    if "efs:" in body or "EFS:" in body or "ef:" in body or "EF:" in body:
        for footer in _REFS_FOOTER.finditer(body):
            shas += [sha.lower() for sha in _SHA_TOKEN.findall(footer["refs"])]
    return " ".join(dict.fromkeys(shas)) or None


def reapplied(change: Change) -> Change:
    """A revert of a revert (``Revert "Revert "X""``, ``Reapply "X"``) as the change X it
    brings back; any other change as it is.

    For a revert whose reverted revert is not in the same range: the original
    change is back in this release.
    """
    m = _REVERT_SUBJECT.match(change.description) if change.type == "revert" else None
    if m is None or m["verb"] != "Revert":
        return change
    inner = m["inner"]
    again = _REVERT_SUBJECT.match(inner)
    if again is not None:  # three levels deep: a revert again
        desc = again["inner"] if again["verb"] == "Revert" else f'Revert "{again["inner"]}"'
        return replace(change, description=desc, reverts=None)
    header = _HEADER.fullmatch(inner)
    if header is None:
        return replace(change, type="other", description=inner, conventional=False, reverts=None)
    ctype, scope, bang, desc = header.groups()
    desc = desc.rstrip()
    return replace(
        change,
        type=ctype.lower(),
        scope=(scope or "").strip() or None,
        description=desc,
        breaking=change.breaking or bang is not None,
        breaking_description=change.breaking_description or (desc if bang else None),
        reverts=None,
    )


def _merge_requests(forge: Forge | None) -> bool:
    """True when ``!12`` means a merge request (GitLab)."""
    return forge is not None and forge.style == "gitlab"


def _linked(refs: tuple[Reference, ...], forge: Forge | None) -> tuple[Reference, ...]:
    if forge is None or not refs:
        return refs
    return tuple(forge.link(r) for r in refs)


def parse_commit(
    commit: Commit,
    *,
    body_types: Collection[str] = STANDARD_TYPES,
    forge: Forge | None = None,
) -> list[Change]:
    """The release-notes entries of ``commit`` (possibly several; empty for an empty message).

    ``body_types`` are the types accepted on conventional lines inside a body
    (squash merges); the subject line accepts any type. ``forge`` fills in
    reference links.
    """
    return parse_message(
        commit.sha, commit.author, commit.subject, commit.body, body_types=body_types, forge=forge
    )


def _body_lines(body: str, prefixes: tuple[str, ...]) -> list[re.Match[str]]:
    """List items of ``body`` (``* feat: …``, ``- fix(api): …``) whose type is in ``prefixes``.

    Only list-marked lines count: a prose line such as ``fix: this is prose``
    is not an entry. (Cheap pre-filter first: this runs for every body.)
    """
    found = []
    for line in body.split("\n"):
        bare = line.lstrip(" \t")
        if bare[:1] in _LIST_MARKS and bare[1:].lstrip(" \t").lower().startswith(prefixes):
            m = _BODY_LINE.match(line)
            if m is not None and m["type"].lower() in prefixes:
                found.append(m)
    return found


def _git_squash_lines(body: str, prefixes: tuple[str, ...]) -> list[re.Match[str]]:
    """The conventional subjects of the commits listed by ``git merge --squash``'s message.

    That message lists ``commit <sha>``, ``Author:``, ``Date:``, a blank line,
    then each commit's message indented; the first line of each is its subject.
    """
    found = []
    expect = False
    for line in body.split("\n"):
        if line.startswith("Date:"):
            expect = True
        elif expect and line.strip():
            expect = False
            m = _SQUASHED_SUBJECT.match(line)
            if m is not None and m["type"].lower() in prefixes:
                found.append(m)
    return found


def parse_message(
    sha: str,
    author: Person,
    subject: str,
    body: str,
    *,
    body_types: Collection[str] = STANDARD_TYPES,
    forge: Forge | None = None,
    keep_body: bool = True,
    unknown_as_other: bool = False,
) -> list[Change]:
    """:func:`parse_commit` over a commit's fields (the streaming fast path).

    ``keep_body=False`` leaves ``Change.body`` empty (whole-history runs that
    render no bodies then hold no message twice). ``unknown_as_other``: a
    subject whose type is not in ``body_types`` (``WIP: …``, ``cli: …``) is
    not conventional (type ``other``, the whole subject as description).
    """
    prefixes = body_prefixes(body_types)
    return parse_fields(sha, author, subject, body, prefixes, forge, keep_body, unknown_as_other)


def parse_fields(
    sha: str,
    author: Person,
    subject: str,
    body: str,
    prefixes: tuple[str, ...],
    forge: Forge | None,
    keep_body: bool,
    unknown_as_other: bool = False,
) -> list[Change]:
    """:func:`parse_message` with positional arguments; ``prefixes`` from :func:`body_prefixes`."""
    if not subject:
        if not body:
            return []
        subject, _, body = body.partition("\n")
        subject = subject.strip()
        body = body.strip("\n")
    reverts: str | None = None
    header = _HEADER.fullmatch(subject)
    if header is not None:
        ctype, scope, bang_mark, desc = header.groups()
        ctype = ctype.lower()
        if scope is not None:
            scope = scope.strip() or None
        bang = bang_mark is not None
        desc = desc.rstrip()
        conventional = True
        if unknown_as_other and ctype not in prefixes:  # `WIP: …`: no type the notes know
            ctype, scope, desc, conventional = "other", None, subject.rstrip(), False
    elif subject.startswith(("Revert ", "Reapply ")) and (revert := _REVERT_SUBJECT.match(subject)):
        # git >= 2.43 titles the revert of `Revert "X"` as `Reapply "X"`: a revert of that revert.
        desc = revert["inner"] if revert["verb"] == "Revert" else f'Revert "{revert["inner"]}"'
        ctype, scope, bang, conventional = "revert", None, False, True
    else:
        ctype, scope, bang, desc, conventional = "other", None, False, subject, False

    if not body:  # the most common case: a one-line message
        refs = (
            find_refs(subject, _merge_requests(forge))
            if "#" in subject
            or "GH-" in subject
            or "://" in subject
            or ("!" in subject and _merge_requests(forge))
            else ()
        )
        return [
            new_change(
                sha,
                ctype,
                desc,
                scope,
                bang,
                desc if bang else None,
                "",
                _linked(refs, forge) if refs else refs,
                (author,),
                conventional,
                None,
            )
        ]
    authors = (author, *co_authors(body))
    breaking_note = _breaking_note(body) if "CHANGE" in body else None
    if ctype == "revert":
        reverts = reverted_shas(body)
    if subject == GIT_SQUASH_SUBJECT:
        lines = _git_squash_lines(body, prefixes)
    else:
        lines = _body_lines(body, prefixes) if ":" in body else []
    if not lines:  # one entry
        text = f"{subject}\n{body}"
        refs = (
            find_refs(text, _merge_requests(forge))
            if "#" in text
            or "GH-" in text
            or "://" in text
            or ("!" in text and _merge_requests(forge))
            else ()
        )
        return [
            new_change(
                sha,
                ctype,
                desc,
                scope,
                bang or breaking_note is not None,
                breaking_note or (desc if bang else None),
                body if keep_body else "",
                _linked(refs, forge) if refs else refs,
                authors,
                conventional,
                reverts,
            )
        ]
    changes = _squashed(
        sha,
        authors,
        subject,
        body,
        lines,
        forge=forge,
        conventional=conventional,
        breaking_note=breaking_note,
    )
    if not keep_body and changes and changes[0].body:
        changes[0] = replace(changes[0], body="")
    return changes


def _squashed(
    sha: str,
    authors: tuple[Person, ...],
    subject: str,
    body: str,
    lines: list[re.Match[str]],
    *,
    forge: Forge | None,
    conventional: bool,
    breaking_note: str | None = None,
) -> list[Change]:
    """Entries of a commit whose body lists conventional lines (a squash merge).

    A ``BREAKING CHANGE:`` footer belongs to the subject's entry when the
    subject is conventional; under a plain PR title it goes to the first
    listed entry marked ``!`` (else the first listed entry), so the squash
    never loses it.
    """
    rest = body
    for m in lines:
        rest = rest.replace(m.group(0), "", 1)
    changes: list[Change] = []
    if conventional:  # the subject entry, parsed without the listed lines
        (first,) = parse_message(
            sha, authors[0], subject, rest.strip("\n"), body_types=(), forge=forge
        )
        changes.append(replace(first, authors=authors, body=body))
    mrs = _merge_requests(forge)
    subject_refs = _linked(find_refs(subject, mrs), forge)
    # "feat: x (#78)" and its PR's own "* feat: x" are one change.
    seen = {(c.type, c.scope, _PR_SUFFIX.sub("", c.description)) for c in changes}
    for m in lines:
        entry = Change(
            sha,
            m["type"].lower(),
            m["desc"].strip(),
            (m["scope"] or "").strip() or None,
            m["bang"] is not None,
            m["desc"].strip() if m["bang"] else None,
            "",
            (),
            authors,
        )
        key = (entry.type, entry.scope, _PR_SUFFIX.sub("", entry.description))
        if key in seen:
            continue
        seen.add(key)
        merged = {
            (r.repo, r.number, r.kind): r
            for r in (*_linked(find_refs(m.group(0), mrs), forge), *subject_refs)
        }
        changes.append(replace(entry, refs=tuple(merged.values())))
    if breaking_note is not None and not conventional and changes:
        at = next((i for i, c in enumerate(changes) if c.breaking), 0)
        changes[at] = replace(changes[at], breaking=True, breaking_description=breaking_note)
    return changes


def body_prefixes(types: Collection[str]) -> tuple[str, ...]:
    """``types`` as the sorted tuple :func:`parse_fields` checks body lines against."""
    return tuple(sorted({t.lower() for t in types}))


_NEW = object.__new__
_SETTERS = tuple(
    Change.__dict__[name].__set__
    for name in (
        "sha",
        "type",
        "description",
        "scope",
        "breaking",
        "breaking_description",
        "body",
        "refs",
        "authors",
        "conventional",
        "reverts",
    )
)


def new_change(
    sha: str,
    ctype: str,
    description: str,
    scope: str | None,
    breaking: bool,
    breaking_description: str | None,
    body: str,
    refs: tuple[Reference, ...],
    authors: tuple[Person, ...],
    conventional: bool,
    reverts: str | None,
) -> Change:
    """``Change(...)`` built through its slots: equal result, without the frozen
    ``__init__``'s per-field ``object.__setattr__`` (this runs once per commit)."""
    change = _NEW(Change)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10 = _SETTERS
    s0(change, sha)
    s1(change, ctype)
    s2(change, description)
    s3(change, scope)
    s4(change, breaking)
    s5(change, breaking_description)
    s6(change, body)
    s7(change, refs)
    s8(change, authors)
    s9(change, conventional)
    s10(change, reverts)
    return change


def header_of(change: Change) -> str:
    """The conventional header a change was written as (``type(scope)!: description``)."""
    scope = f"({change.scope})" if change.scope else ""
    bang = "!" if change.breaking and change.breaking_description == change.description else ""
    return f"{change.type}{scope}{bang}: {change.description}"
