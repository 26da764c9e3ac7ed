"""What the runner hands an executor, and what it gets back.

:class:`ReleasePlan` is what was decided when the release graph was planned
(kept in the root task); :class:`StepInput` is what an executor gets (the
repository, the configuration, the plan and the results of the steps already
done); :class:`StepResult` is what it gives back (a summary, JSON-ready data
kept as the task's ``result.json`` artifact, and documents stored as further
artifacts); :class:`StepFailed` is what it raises when the release is not fit
to go on (its result is kept). The executors themselves are in
:mod:`.executors`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import CheckFailed
from castoff.release.next_version import NextVersion

if TYPE_CHECKING:
    from castoff.release.announce.ledger import Ledger

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReleasePlan:
    """What was decided when the release graph was planned (kept in the root task)."""

    version: str
    tag: str
    current: str | None
    previous_tag: str | None
    since_tag: str | None
    bump: str | None
    scheme: str
    package: str | None
    head_sha: str
    push: bool = False
    announce: bool = False
    agent: bool = False
    skip_rollback_check: bool = False
    dry_run: bool = False

    def next_version(self) -> NextVersion:
        """The version engine's view of this release (for the tagging steps)."""
        return NextVersion(
            current=self.current,
            next=self.version,
            bump=self.bump,
            reasons=(),
            scheme=self.scheme,
            tag=self.tag,
            no_release=False,
            message=f"release {self.version}",
            package=self.package,
            previous_tag=self.previous_tag,
            since_tag=self.since_tag,
        )

    @classmethod
    def of(cls, nxt: NextVersion, head_sha: str, **options: bool) -> ReleasePlan:
        """The plan releasing what the version engine decided (``nxt.next``) at ``head_sha``;
        ``options``: push, announce, agent, skip_rollback_check, dry_run."""
        assert nxt.next is not None, "nothing to release"
        assert nxt.tag is not None, "nothing to release"
        return cls(
            version=nxt.next,
            tag=nxt.tag,
            current=nxt.current,
            previous_tag=nxt.previous_tag,
            since_tag=nxt.since_tag,
            bump=nxt.bump,
            scheme=nxt.scheme,
            package=nxt.package,
            head_sha=head_sha,
            **options,
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReleasePlan:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StepInput:
    """What an executor gets.

    ``rollback_skip_recorded``: the release was planned with --skip-rollback-check
    and the runner's ``release.rollback_check_skipped`` event says so (the plan
    alone is not enough: a task's context can be edited).
    """

    root: Path
    config: Config
    plan: ReleasePlan
    results: Mapping[str, Mapping[str, Any]]
    on_progress: Progress = lambda _message: None
    agent_work: Mapping[str, str] = field(default_factory=dict)
    rollback_skip_recorded: bool = False
    head: str | None = None  # HEAD, when the caller has just read it
    ledger: Callable[[str], Ledger] | None = None  # the delivery ledger of a tag (announce_send)


@dataclass(frozen=True)
class StepResult:
    """What an executor gives back.

    ``refs`` maps a key of ``data`` to the name of one of ``documents`` whose
    content is that key's value as JSON: the value is stored once, as the
    document, and ``result.json`` names it instead of repeating it.
    """

    summary: str
    data: dict[str, Any]
    documents: tuple[tuple[str, str, str], ...] = ()  # (name, content, artifact_type)
    next_action: str | None = None
    refs: Mapping[str, str] = field(default_factory=dict)


class StepFailed(CheckFailed):
    """A step ran and found the release not fit to go on (its result is kept)."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result
