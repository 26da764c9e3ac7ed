"""The validation domain's plain data: check statuses, results and reports.

This module is the one home of these types. A :class:`ValidationReport` is
what ``castoff validate preflight|postdeploy`` prints with ``--json``, what the
MCP tools return, and what the release workflow, the rollback plan and the
announcement read; its fields are part of the public contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    """The outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIPPED = "skipped"


#: ``on_progress(check_id, state)``: state is ``"running"`` when a check starts,
#: then its :class:`CheckStatus` value (``"pass"``, ``"fail"``, ...) when it ends.
ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check function returns; the runner adds id, title and timing."""

    status: CheckStatus
    message: str
    remediation: str = ""
    output: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, message: str, **kw: Any) -> Outcome:
        return cls(CheckStatus.PASS, message, **kw)

    @classmethod
    def failed(cls, message: str, remediation: str = "", **kw: Any) -> Outcome:
        return cls(CheckStatus.FAIL, message, remediation, **kw)

    @classmethod
    def warned(cls, message: str, remediation: str = "", **kw: Any) -> Outcome:
        return cls(CheckStatus.WARN, message, remediation, **kw)

    @classmethod
    def skipped(cls, message: str, remediation: str = "", **kw: Any) -> Outcome:
        return cls(CheckStatus.SKIPPED, message, remediation, **kw)


@dataclass(frozen=True, slots=True)
class Check:
    """One runnable check: a function plus the ids of checks it must wait for."""

    id: str
    title: str
    run: Callable[[], Outcome]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The result of one check, as reported.

    ``output`` is the captured output of the check's command (its tail, when
    long); ``details`` holds check-specific data (paths, versions, URLs).
    """

    id: str
    title: str
    status: CheckStatus
    duration_seconds: float
    message: str
    remediation: str = ""
    output: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAIL


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """A full pre-flight or post-deploy run.

    ``status`` is ``fail`` when any check failed, ``warn`` when none failed but
    one warned, else ``pass``. ``counts`` maps every status to its number.
    ``ok`` (no check failed) and ``failed`` (the ids of the failed checks) are
    derived: they are recomputed on construction, whatever is passed, so the
    CLI JSON, the MCP result and the stored report all carry them.
    ``artifacts`` are the paths of the stored report files (empty until stored).
    ``package`` names the monorepo package validated (None: the project).
    """

    kind: str
    version: str
    tag: str | None
    status: CheckStatus
    started_at: datetime
    duration_seconds: float
    concurrency: int
    counts: Mapping[str, int]
    checks: tuple[CheckResult, ...]
    ok: bool = True
    failed: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    package: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", self.status is not CheckStatus.FAIL)
        object.__setattr__(self, "failed", tuple(c.id for c in self.checks if c.failed))

    @classmethod
    def build(
        cls,
        *,
        kind: str,
        version: str,
        tag: str | None,
        started_at: datetime,
        duration_seconds: float,
        concurrency: int,
        checks: Sequence[CheckResult],
        package: str | None = None,
    ) -> ValidationReport:
        counts = {s.value: sum(1 for c in checks if c.status is s) for s in CheckStatus}
        if counts[CheckStatus.FAIL.value]:
            status = CheckStatus.FAIL
        elif counts[CheckStatus.WARN.value]:
            status = CheckStatus.WARN
        else:
            status = CheckStatus.PASS
        return cls(
            kind=kind,
            version=version,
            tag=tag,
            status=status,
            started_at=started_at,
            duration_seconds=round(duration_seconds, 3),
            concurrency=concurrency,
            counts=counts,
            checks=tuple(checks),
            package=package,
        )

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.failed)

    def result(self, check_id: str) -> CheckResult:
        """The result of check ``check_id`` (KeyError if it did not run)."""
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)
