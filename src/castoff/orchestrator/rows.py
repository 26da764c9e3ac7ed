"""Store rows → orchestrator models (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from castoff.orchestrator.models import (
    Artifact,
    ArtifactType,
    Complexity,
    Event,
    Session,
    SpecialistType,
    Task,
    TaskBrief,
    TaskStatus,
    TaskType,
)

# Plain dict lookups: converting a page of rows should not go through Enum.__call__.
_TYPES = {m.value: m for m in TaskType}
_SPECIALISTS = {m.value: m for m in SpecialistType}
_COMPLEXITIES = {m.value: m for m in Complexity}
_STATUSES = {m.value: m for m in TaskStatus}


def session(row: Mapping[Any, Any], task_count: int = 0) -> Session:
    return Session(
        id=row["id"],
        working_directory=row["working_directory"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        task_count=task_count,
        host=row["host"],
    )


def artifact(row: Mapping[Any, Any]) -> Artifact:
    return Artifact(
        id=int(row["id"]),
        task_id=row["task_id"],
        name=row["name"],
        path=row["path"],
        artifact_type=ArtifactType(row["artifact_type"]),
        sha256=row["sha256"],
        size=int(row["size"]),
        created_at=row["created_at"],
    )


def task(
    row: Mapping[Any, Any],
    dependencies: Sequence[str] = (),
    artifacts: Sequence[Artifact] = (),
) -> Task:
    return Task(
        id=row["id"],
        session_id=row["session_id"],
        parent_task_id=row["parent_task_id"],
        title=row["title"],
        description=row["description"],
        task_type=_TYPES[row["task_type"]],
        specialist_type=_SPECIALISTS[row["specialist_type"]],
        complexity=_COMPLEXITIES[row["complexity"]],
        status=_STATUSES[row["status"]],
        dependencies=list(dependencies),
        estimated_effort=row["estimated_effort"],
        due_date=row["due_date"],
        context=row["context"],
        summary=row["summary"],
        detailed_work=row["detailed_work"],
        next_action=row["next_action"],
        artifacts=list(artifacts),
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        attempts=int(row["attempts"]),
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
    )


def brief(row: Mapping[Any, Any]) -> TaskBrief:
    return TaskBrief(
        id=row["id"],
        title=row["title"],
        status=_STATUSES[row["status"]],
        specialist_type=_SPECIALISTS[row["specialist_type"]],
        lease_owner=row["lease_owner"],
        updated_at=row["updated_at"],
    )


def event(row: Mapping[Any, Any]) -> Event:
    return Event(
        id=int(row["id"]),
        session_id=row["session_id"],
        task_id=row["task_id"],
        kind=row["kind"],
        actor=row["actor"],
        data=dict(row["data"] or {}),
        created_at=row["created_at"],
    )
