"""The orchestrator's plain data: enums of allowed values and result dataclasses.

This module is the one home of these types; the service, the CLI, the MCP
server and the release workflow import them from here. Values match DESIGN.md
exactly. Every result is a dataclass of plain values, so it serializes with
:func:`castoff.serialize.to_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle (see ``lifecycle.py``)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ARCHIVED = "archived"


class TaskType(StrEnum):
    """What kind of work a task is."""

    STANDARD = "standard"
    BREAKDOWN = "breakdown"
    MILESTONE = "milestone"
    REVIEW = "review"
    APPROVAL = "approval"
    RESEARCH = "research"
    IMPLEMENTATION = "implementation"
    TESTING = "testing"
    DOCUMENTATION = "documentation"
    DEPLOYMENT = "deployment"
    CUSTOM = "custom"


class SpecialistType(StrEnum):
    """Which specialist role carries a task out (see ``roles/``)."""

    COORDINATOR = "coordinator"
    ANALYST = "analyst"
    CODER = "coder"
    TESTER = "tester"
    DOCUMENTER = "documenter"
    REVIEWER = "reviewer"
    ARCHITECT = "architect"
    DEVOPS = "devops"
    RESEARCHER = "researcher"
    GENERIC = "generic"
    RELEASE_NOTES = "release_notes"
    VERSION_TAGGING = "version_tagging"
    DEPLOYMENT_VALIDATION = "deployment_validation"
    ROLLBACK_PLANNING = "rollback_planning"
    ANNOUNCEMENT = "announcement"


class Complexity(StrEnum):
    """How hard a task is expected to be."""

    TRIVIAL = "trivial"
    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"
    VERY_COMPLEX = "very_complex"


class ArtifactType(StrEnum):
    """What an artifact holds."""

    CODE = "code"
    DOCUMENTATION = "documentation"
    ANALYSIS = "analysis"
    DESIGN = "design"
    TEST = "test"
    CONFIG = "config"
    GENERAL = "general"


OPEN_STATUSES = frozenset({TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED})


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task of a :meth:`~castoff.orchestrator.service.Orchestrator.plan_tasks` batch.

    ``key`` names the task inside the batch; ``parent`` and ``dependencies`` name
    other tasks of the batch by their key, or existing tasks by their id (a key
    wins over an id that happens to be spelled the same).
    """

    key: str
    title: str
    description: str = ""
    task_type: TaskType | str = TaskType.STANDARD
    parent: str | None = None
    complexity: Complexity | str = Complexity.MODERATE
    specialist_type: SpecialistType | str = SpecialistType.GENERIC
    estimated_effort: str | None = None
    due_date: datetime | str | None = None
    context: dict[str, Any] | str | None = None
    dependencies: tuple[str, ...] | list[str] = ()


@dataclass(frozen=True, slots=True)
class ArtifactInput:
    """Content to store with a completed task."""

    name: str
    content: bytes | str
    artifact_type: ArtifactType | str = ArtifactType.GENERAL
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Artifact:
    """A stored piece of task output, addressed by the sha256 of its content."""

    id: int
    task_id: str
    name: str
    path: str | None
    artifact_type: ArtifactType
    sha256: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A working directory whose tasks the orchestrator tracks."""

    id: str
    working_directory: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    task_count: int = 0
    host: str | None = None
    """The machine that created the session (None: made before castoff recorded it)."""


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work in a session (DESIGN.md field list)."""

    id: str
    session_id: str
    parent_task_id: str | None
    title: str
    description: str
    task_type: TaskType
    specialist_type: SpecialistType
    complexity: Complexity
    status: TaskStatus
    dependencies: list[str]
    estimated_effort: str | None
    due_date: datetime | None
    context: dict[str, Any] | str | None
    summary: str | None
    detailed_work: str | None
    next_action: str | None
    artifacts: list[Artifact]
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a task query."""

    tasks: list[Task]
    total: int
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the append-only event log."""

    id: int
    session_id: str | None
    task_id: str | None
    kind: str
    actor: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Record:
    """A keyed document of a session; ``version`` goes up by one per write (compare-and-set)."""

    key: str
    version: int
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Role:
    """A specialist role: how to carry out a task of its type, and what to hand back."""

    specialist_type: SpecialistType
    title: str
    instructions: str
    expected_artifacts: list[ArtifactType]


@dataclass(frozen=True, slots=True)
class ParentContext:
    """What a specialist needs to know about the task's parent."""

    id: str
    title: str
    description: str
    context: dict[str, Any] | str | None
    summary: str | None


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """What ``execute_task`` hands the specialist: role, task, parent, inputs."""

    task: Task
    role: Role
    parent_context: ParentContext | None
    dependency_artifacts: list[Artifact]
    dependency_summaries: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class TaskBrief:
    """A short view of a task for status reports."""

    id: str
    title: str
    status: TaskStatus
    specialist_type: SpecialistType
    lease_owner: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """A session's progress: counts by status, what runs, what is ready next."""

    session: Session
    counts: dict[str, int]
    total: int
    progress: float
    in_progress: list[TaskBrief]
    ready: list[TaskBrief]
    recently_completed: list[TaskBrief]
    expired_leases: int


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The tasks a cancellation touched."""

    task_id: str
    cancelled: list[str]
    artifacts_removed: int
    reason: str


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """The tasks a deletion (or archival) touched."""

    task_id: str
    deleted: list[str]
    archived: list[str]


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """Sessions found (and, unless a dry run, removed) by ``cleanup_sessions``."""

    dry_run: bool
    sessions: list[Session]
    removed: int
    skipped: list[Session] = field(default_factory=list)
    """Sessions of other hosts whose directory is not on this machine (left alone)."""


@dataclass(frozen=True, slots=True)
class SynthesisResult:
    """A parent's children combined into one report artifact."""

    parent_task_id: str
    children: list[TaskBrief]
    counts: dict[str, int]
    artifact: Artifact
    report: str


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """The store as ``health_check(include_database_status=True)`` sees it."""

    dialect: str
    url: str
    migration_version: str | None
    migration_head: str
    latency_ms: float
    journal_mode: str | None
    locks: dict[str, Any]
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Is the orchestrator usable, and what does the store look like."""

    healthy: bool
    version: str
    checks: dict[str, str]
    database: DatabaseStatus | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One issue a maintenance action found (and whether it fixed it)."""

    kind: str
    task_id: str | None
    message: str
    severity: str = "warning"
    fixed: bool = False


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What a ``maintenance_coordinator`` action found, fixed or wrote."""

    action: str
    scope: str
    validation_level: str
    findings: list[Finding] = field(default_factory=list)
    fixed: int = 0
    document: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class RestartStatus:
    """What the last recovery found and did, and what runs now.

    ``interrupted``: the tasks the last recovery found abandoned (lease expired,
    or their ``<actor>:<pid>@<host>`` holder's process gone); ``reclaimed``: the
    ones it put back to pending; ``in_progress``: the tasks in progress now;
    ``expired_now``: how many of those have an expired lease now.
    """

    session_id: str | None
    recovered_at: datetime | None
    reclaimed: list[str]
    interrupted: list[str]
    expired_now: int
    in_progress: list[str] = field(default_factory=list)
