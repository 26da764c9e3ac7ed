"""The release domain's plain data: commits, parsed changes, release notes.

This module is the one home of these types. The git reader produces
:class:`Commit`; the commit parser turns each into one or more :class:`Change`;
the notes engine groups changes into :class:`ReleaseNotes`, which the version,
rollback and announcement engines consume. Everything is a frozen dataclass of
plain values, so results serialize with :func:`castoff.serialize.to_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Person:
    """A commit author or co-author (after mailmap)."""

    name: str
    email: str

    @property
    def key(self) -> str:
        """Identity used for de-duplication: the lower-cased e-mail, else the name."""
        return (self.email or self.name).lower()


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit as read from ``git log``."""

    sha: str
    parents: tuple[str, ...]
    author: Person
    authored_at: datetime
    subject: str
    body: str = ""

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def message(self) -> str:
        return f"{self.subject}\n\n{self.body}" if self.body else self.subject


@dataclass(frozen=True, slots=True)
class Reference:
    """An issue / pull-request reference found in a message.

    ``kind`` is ``issue`` (``#12``, ``GH-12``, ``owner/repo#12``, an issue URL)
    or ``pull`` (a pull/merge-request URL); ``action`` is the closing keyword
    (``closes``, ``fixes``, ``resolves``) when one preceded it.
    """

    number: int
    kind: str = "issue"
    repo: str | None = None
    url: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One release-notes entry: a conventional line of a commit.

    A squash-merge body listing several conventional lines yields one Change
    per line, all with the same ``sha``. Non-conventional commits have
    ``conventional=False`` and ``type="other"``.
    """

    sha: str
    type: str
    description: str
    scope: str | None = None
    breaking: bool = False
    breaking_description: str | None = None
    body: str = ""
    refs: tuple[Reference, ...] = ()
    authors: tuple[Person, ...] = ()
    conventional: bool = True
    reverts: str | None = None

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True, slots=True)
class Group:
    """Entries of one type under its display title ("Features", "Bug Fixes")."""

    type: str
    title: str
    entries: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class ReleaseNotes:
    """Everything a release's notes say; ``version=None`` means Unreleased."""

    version: str | None
    date: date
    groups: tuple[Group, ...]
    tag: str | None = None
    previous_tag: str | None = None
    breaking: tuple[Change, ...] = ()
    contributors: tuple[Person, ...] = ()
    first_timers: tuple[Person, ...] = ()
    compare_url: str | None = None
    repo_url: str | None = None
    commit_count: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for g in self.groups for c in g.entries)

    @property
    def is_empty(self) -> bool:
        return not any(g.entries for g in self.groups)


@dataclass(frozen=True, slots=True)
class TagInfo:
    """A release tag and the version it names."""

    name: str
    version: str
    sha: str
    created_at: datetime | None = None
