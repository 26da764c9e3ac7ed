"""The rollback domain's plain data: steps, risks, plans, verifications.

This module is the one home of these types. :mod:`.risks` produces
:class:`Risk`; :mod:`.plan` assembles :class:`RollbackPlan`; :mod:`.verify`
produces :class:`Verification`; :mod:`.execute` runs a plan's steps. All are
frozen dataclasses of plain values, so they serialize with
:func:`castoff.serialize.to_data` and load back with :func:`plan_from_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How much a risk endangers a rollback."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return ("low", "medium", "high").index(self.value)


class Layer(StrEnum):
    """Where a rollback step acts."""

    GIT = "git"
    PACKAGE = "package"
    DEPLOY = "deploy"
    ANNOUNCE = "announce"


class Action(StrEnum):
    """What executing a step does (``manual`` steps are only shown)."""

    DELETE_LOCAL_TAG = "delete_local_tag"
    DELETE_REMOTE_TAG = "delete_remote_tag"
    REVERT_RELEASE = "revert_release"
    PUSH_REVERT = "push_revert"
    RUN_COMMAND = "run_command"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path in ``git diff --name-status``: status A, M, D, R, C or T."""

    status: str
    path: str
    old_path: str | None = None


@dataclass(frozen=True, slots=True)
class PackageRef:
    """A package the project publishes: ``index`` is ``pypi``, ``npm`` or ``crates``."""

    index: str
    name: str


@dataclass(frozen=True, slots=True)
class Risk:
    """Something in the new release that makes going back harder."""

    kind: str
    severity: Severity
    title: str
    advice: str
    paths: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RollbackStep:
    """One ordered, copy-pasteable step of a rollback.

    ``local_safe`` steps change only the local repository; ``runnable`` steps
    are executed by ``castoff rollback run --yes`` (remote steps only with
    ``--push``); the others are shown as instructions. ``tag`` and ``sha`` name
    the release a git step acts on when it is not the plan's ``new_tag`` (an
    intermediate release of a rollback several releases back); None means
    ``new_tag`` / ``new_sha``.
    """

    key: str
    layer: Layer
    title: str
    action: Action
    command: str | None = None
    instructions: str = ""
    local_safe: bool = False
    runnable: bool = False
    remote: bool = False
    tag: str | None = None
    sha: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """A release tag: its name, version and the commit it points at."""

    tag: str
    version: str
    sha: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A configured command run during verification or a rollback."""

    command: str
    exit_code: int | None
    duration_seconds: float
    output_tail: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True, slots=True)
class Verification:
    """Proof (or not) that the rollback target builds in a clean checkout.

    ``status``: ``passed``, ``failed``, or ``not_applicable`` (first release:
    nothing to go back to). ``ok`` is what the release gate reads.
    """

    status: str
    target_tag: str | None
    target_sha: str | None
    started_at: str
    finished_at: str
    build: CommandResult | None = None
    test: CommandResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "not_applicable")


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """How to undo release ``new_tag`` back to ``previous_tag``, and what could go wrong.

    ``intermediate`` lists the releases between the two (newest first) that a
    rollback several releases back undoes too. ``first_release``, ``verified``
    and ``highest_severity`` are derived: recomputed on construction (also by
    :func:`dataclasses.replace`), whatever is passed, so the CLI JSON, the MCP
    result and the stored plan all carry them. ``artifacts`` are the paths of
    the stored plan files (empty until stored).
    """

    project: str
    new_version: str
    new_tag: str
    new_ref: str
    new_sha: str
    previous_tag: str | None
    previous_version: str | None
    previous_sha: str | None
    remote: str
    branch: str | None
    created_at: str
    steps: tuple[RollbackStep, ...] = ()
    risks: tuple[Risk, ...] = ()
    commit_count: int = 0
    notes: tuple[str, ...] = ()
    verification: Verification | None = None
    extra: dict[str, str] = field(default_factory=dict)
    intermediate: tuple[ReleaseRef, ...] = ()
    #: No previous release: nothing to go back to (derived).
    first_release: bool = False
    #: A verification ran and proved the target restorable (derived).
    verified: bool = False
    #: The highest risk severity, None without risks (derived).
    highest_severity: Severity | None = None
    artifacts: tuple[str, ...] = ()
    #: The monorepo package whose release this undoes (None: the project).
    package: str | None = None

    def __post_init__(self) -> None:
        highest = max((r.severity for r in self.risks), key=lambda s: s.rank, default=None)
        object.__setattr__(self, "first_release", self.previous_tag is None)
        object.__setattr__(self, "verified", self.verification is not None and self.verification.ok)
        object.__setattr__(self, "highest_severity", highest)

    @property
    def undone(self) -> tuple[str, ...]:
        """Every release tag the rollback removes, newest first."""
        return (self.new_tag, *(r.tag for r in self.intermediate))

    def with_verification(self, verification: Verification) -> RollbackPlan:
        return replace(self, verification=verification)


def _command_result(data: Mapping[str, Any] | None) -> CommandResult | None:
    if data is None:
        return None
    return CommandResult(
        command=str(data["command"]),
        exit_code=data.get("exit_code"),
        duration_seconds=float(data.get("duration_seconds", 0.0)),
        output_tail=str(data.get("output_tail", "")),
        timed_out=bool(data.get("timed_out", False)),
    )


def verification_from_data(data: Mapping[str, Any]) -> Verification:
    """Rebuild a :class:`Verification` from its ``to_data`` form."""
    return Verification(
        status=str(data["status"]),
        target_tag=data.get("target_tag"),
        target_sha=data.get("target_sha"),
        started_at=str(data.get("started_at", "")),
        finished_at=str(data.get("finished_at", "")),
        build=_command_result(data.get("build")),
        test=_command_result(data.get("test")),
        error=data.get("error"),
    )


def plan_from_data(data: Mapping[str, Any]) -> RollbackPlan:
    """Rebuild a :class:`RollbackPlan` from its ``to_data`` / JSON form."""
    steps = tuple(
        RollbackStep(
            key=str(s["key"]),
            layer=Layer(s["layer"]),
            title=str(s["title"]),
            action=Action(s["action"]),
            command=s.get("command"),
            instructions=str(s.get("instructions", "")),
            local_safe=bool(s.get("local_safe", False)),
            runnable=bool(s.get("runnable", False)),
            remote=bool(s.get("remote", False)),
            tag=s.get("tag"),
            sha=s.get("sha"),
        )
        for s in data.get("steps", ())
    )
    risks = tuple(
        Risk(
            kind=str(r["kind"]),
            severity=Severity(r["severity"]),
            title=str(r["title"]),
            advice=str(r["advice"]),
            paths=tuple(r.get("paths", ())),
            commits=tuple(r.get("commits", ())),
        )
        for r in data.get("risks", ())
    )
    verification = data.get("verification")
    return RollbackPlan(
        project=str(data.get("project", "")),
        new_version=str(data["new_version"]),
        new_tag=str(data["new_tag"]),
        new_ref=str(data.get("new_ref", data["new_tag"])),
        new_sha=str(data["new_sha"]),
        previous_tag=data.get("previous_tag"),
        previous_version=data.get("previous_version"),
        previous_sha=data.get("previous_sha"),
        remote=str(data.get("remote", "origin")),
        branch=data.get("branch"),
        created_at=str(data.get("created_at", "")),
        steps=steps,
        risks=risks,
        commit_count=int(data.get("commit_count", 0)),
        notes=tuple(data.get("notes", ())),
        verification=verification_from_data(verification) if verification else None,
        extra=dict(data.get("extra", {})),
        intermediate=tuple(
            ReleaseRef(str(r["tag"]), str(r["version"]), str(r["sha"]))
            for r in data.get("intermediate", ())
        ),
        artifacts=tuple(str(a) for a in data.get("artifacts", ())),
        package=data.get("package"),
    )
