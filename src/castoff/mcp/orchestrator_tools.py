"""The ``orchestrator_*`` MCP tools: thin typed calls into the Orchestrator service.

Each function's signature (after ``state``) is the tool's input schema, with
parameter names exactly as in DESIGN.md; its return type is the output schema;
its docstring is the description agents read. Values are checked by the
service, which refuses bad ones with a clear error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypedDict

from castoff.mcp.state import State
from castoff.orchestrator import models as m

TaskId = Annotated[str, Field(description="Task id.")]
TaskTypeIn = Annotated[m.TaskType, Field(description="Kind of work.")]
ComplexityIn = Annotated[m.Complexity, Field(description="Expected difficulty.")]
SpecialistIn = Annotated[m.SpecialistType, Field(description="Role that does it.")]
ArtifactTypeIn = Annotated[m.ArtifactType, Field(description="Type of the stored artifacts.")]


def _d(text: str) -> Any:
    return Field(description=text)


class SessionList(TypedDict):
    """Every session in the store, most recently active first."""

    sessions: list[m.Session]


class ArtifactIn(TypedDict, total=False):
    """Content to store with the completed task."""

    name: Annotated[str, _d("File-like name, e.g. notes.md.")]
    content: Annotated[str, _d("The content (text).")]
    artifact_type: ArtifactTypeIn
    path: Annotated[str, _d("Path in the project it belongs to, if any.")]


def initialize_session(
    state: State,
    *,
    working_directory: Annotated[
        str | None, _d("Project directory (default: the server's directory).")
    ] = None,
    name: Annotated[str | None, _d("Session name (default: the directory name).")] = None,
) -> m.Session:
    """Start the session for a working directory, or reopen it (idempotent). Call first."""
    return state.orchestrator.initialize_session(working_directory=working_directory, name=name)


def plan_task(
    state: State,
    *,
    title: Annotated[str, _d("Short imperative title.")],
    description: Annotated[str, _d("What done looks like.")] = "",
    task_type: TaskTypeIn = m.TaskType.STANDARD,
    parent_task_id: Annotated[str | None, _d("Parent task id (for breakdowns).")] = None,
    complexity: ComplexityIn = m.Complexity.MODERATE,
    specialist_type: SpecialistIn = m.SpecialistType.GENERIC,
    estimated_effort: Annotated[str | None, _d("Free text, e.g. '2h'.")] = None,
    due_date: Annotated[str | None, _d("ISO 8601 date or datetime.")] = None,
    context: Annotated[
        dict[str, Any] | str | None, _d("Facts the specialist needs (object or text).")
    ] = None,
    dependencies: Annotated[
        list[str] | None, _d("Ids of tasks that must complete first; cycles are refused.")
    ] = None,
) -> m.Task:
    """Add a task (status pending) to the session's task graph."""
    return state.orchestrator.plan_task(
        title,
        description=description,
        task_type=task_type,
        parent_task_id=parent_task_id,
        complexity=complexity,
        specialist_type=specialist_type,
        estimated_effort=estimated_effort,
        due_date=due_date,
        context=context,
        dependencies=dependencies or [],
    )


def execute_task(
    state: State,
    *,
    task_id: TaskId,
    lease_seconds: Annotated[
        int | None,
        Field(description="How long the lease lasts (default 600 s).", ge=1),
    ] = None,
) -> m.ExecutionContext:
    """Claim a ready task (pending, dependencies completed) with a lease and get what the
    specialist needs: role instructions, the task, its parent's context and the artifacts
    of its dependencies. Call it again on a task you hold to renew the lease. Finish with
    orchestrator_complete_task."""
    orch = state.orchestrator
    return orch.execute_task(task_id, worker=orch.worker, lease_seconds=lease_seconds)


def complete_task(
    state: State,
    *,
    task_id: TaskId,
    summary: Annotated[str, _d("What was done, in a few sentences.")],
    detailed_work: Annotated[str | None, _d("Longer account of the work.")] = None,
    file_paths: Annotated[
        list[str] | None, _d("Files created or changed, inside the working directory.")
    ] = None,
    artifact_type: ArtifactTypeIn = m.ArtifactType.GENERAL,
    next_action: Annotated[str | None, _d("What should happen next, if anything.")] = None,
    artifacts: Annotated[list[ArtifactIn] | None, _d("Content to store (by sha256).")] = None,
) -> m.Task:
    """Mark a task you claimed completed with its results; dependants become ready."""
    orch = state.orchestrator
    return orch.complete_task(
        task_id,
        summary,
        worker=orch.worker,  # this connection's lease: another client's task is refused
        detailed_work=detailed_work,
        file_paths=file_paths or [],
        artifact_type=artifact_type,
        next_action=next_action,
        artifacts=[
            m.ArtifactInput(
                name=a["name"],
                content=a["content"],
                artifact_type=a.get("artifact_type", artifact_type),
                path=a.get("path"),
            )
            for a in artifacts or []
        ],
    )


def query_tasks(
    state: State,
    *,
    status: Annotated[list[m.TaskStatus] | None, _d("Any of these statuses.")] = None,
    task_type: Annotated[list[m.TaskType] | None, _d("Any of these task types.")] = None,
    specialist_type: Annotated[list[m.SpecialistType] | None, _d("Any of these roles.")] = None,
    parent_task_id: Annotated[str | None, _d("Only children of this task.")] = None,
    complexity: Annotated[list[m.Complexity] | None, _d("Any of these complexities.")] = None,
    search_text: Annotated[str | None, _d("Words in title or description.")] = None,
    created_after: Annotated[str | None, _d("ISO 8601 date or datetime.")] = None,
    created_before: Annotated[str | None, _d("ISO 8601 date or datetime.")] = None,
    include_children: Annotated[bool, _d("With parent_task_id: all descendants.")] = False,
    include_artifacts: Annotated[bool, _d("Include each task's artifacts.")] = False,
    limit: Annotated[int, Field(description="Page size.", ge=1, le=1000)] = 50,
    offset: Annotated[int, Field(description="Tasks to skip.", ge=0)] = 0,
) -> m.TaskPage:
    """Find tasks; list filters match any of their values, filters combine with AND."""
    return state.orchestrator.query_tasks(
        status=status or [],
        task_type=task_type or [],
        specialist_type=specialist_type or [],
        parent_task_id=parent_task_id,
        complexity=complexity or [],
        search_text=search_text,
        created_after=created_after,
        created_before=created_before,
        include_children=include_children,
        include_artifacts=include_artifacts,
        limit=limit,
        offset=offset,
    )


def get_status(
    state: State,
    *,
    include_completed: Annotated[bool, _d("List recently completed tasks too.")] = True,
) -> m.Status:
    """Session progress: task counts by status, running leases, tasks ready to execute."""
    return state.orchestrator.get_status(include_completed=include_completed)


def update_task(
    state: State,
    *,
    task_id: TaskId,
    title: Annotated[str | None, _d("New title.")] = None,
    description: Annotated[str | None, _d("New description.")] = None,
    status: Annotated[
        m.TaskStatus | None, _d("New status; illegal transitions are refused.")
    ] = None,
    task_type: Annotated[m.TaskType | None, _d("New task type.")] = None,
    parent_task_id: Annotated[str | None, _d("New parent task id.")] = None,
    complexity: Annotated[m.Complexity | None, _d("New complexity.")] = None,
    specialist_type: Annotated[m.SpecialistType | None, _d("New role.")] = None,
    estimated_effort: Annotated[str | None, _d("Free text.")] = None,
    due_date: Annotated[str | None, _d("ISO 8601 date or datetime.")] = None,
    context: Annotated[dict[str, Any] | str | None, _d("Replaces the context.")] = None,
    dependencies: Annotated[list[str] | None, _d("Replaces the dependency ids.")] = None,
    next_action: Annotated[str | None, _d("What should happen next.")] = None,
    force: Annotated[
        bool, _d("Change the status even while another worker holds a live lease.")
    ] = False,
) -> m.Task:
    """Change a task's fields; only the fields given change."""
    orch = state.orchestrator
    return orch.update_task(
        task_id,
        force=force,
        worker=orch.worker,
        title=title,
        description=description,
        status=status,
        task_type=task_type,
        parent_task_id=parent_task_id,
        complexity=complexity,
        specialist_type=specialist_type,
        estimated_effort=estimated_effort,
        due_date=due_date,
        context=context,
        dependencies=dependencies,
        next_action=next_action,
    )


def cancel_task(
    state: State,
    *,
    task_id: TaskId,
    reason: Annotated[str, _d("Why; recorded in the event log.")] = "",
    preserve_work: Annotated[bool, _d("Keep the artifacts already stored.")] = True,
) -> m.CancelResult:
    """Cancel an open task and its open subtasks."""
    return state.orchestrator.cancel_task(task_id, reason=reason, preserve_work=preserve_work)


def delete_task(
    state: State,
    *,
    task_id: TaskId,
    force: Annotated[bool, _d("Also delete a task that has subtasks or dependants.")] = False,
    archive_instead: Annotated[bool, _d("Archive (status archived) rather than delete.")] = False,
) -> m.DeleteResult:
    """Delete a task (and, with force, its subtasks), or archive it."""
    return state.orchestrator.delete_task(task_id, force=force, archive_instead=archive_instead)


def synthesize_results(
    state: State, *, parent_task_id: Annotated[str, _d("The parent whose children to combine.")]
) -> m.SynthesisResult:
    """Combine the summaries of a parent's child tasks into one report artifact."""
    return state.orchestrator.synthesize_results(parent_task_id)


def health_check(
    state: State,
    *,
    include_database_status: Annotated[
        bool, _d("Add store details (dialect, migrations).")
    ] = False,
) -> m.HealthReport:
    """Check that the orchestrator and its store work."""
    return state.orchestrator.health_check(include_database_status=include_database_status)


def maintenance_coordinator(
    state: State,
    *,
    action: Annotated[
        Literal["scan_cleanup", "validate_structure", "update_documentation", "prepare_handover"],
        _d("What to do."),
    ],
    scope: Annotated[
        Literal["session", "all"], _d("This session only, or every session in the store.")
    ] = "session",
    validation_level: Annotated[
        Literal["basic", "full"],
        _d("full also checks stored content (validate) or removes unreferenced content (scan)."),
    ] = "basic",
) -> m.MaintenanceReport:
    """Maintain the task graph: find stale work (scan_cleanup), check structure
    (validate_structure), write a status document (update_documentation), or summarise
    for the next agent (prepare_handover)."""
    from castoff.release.workflow.scratch import clean_scratch

    return state.orchestrator.maintenance_coordinator(
        action, scope=scope, validation_level=validation_level, cleaners=(clean_scratch,)
    )


def restart_status(state: State) -> m.RestartStatus:
    """What the orchestrator recovered at its last start: reclaimed leases, interrupted tasks."""
    return state.orchestrator.restart_status()


def list_sessions(state: State) -> SessionList:
    """Every session in the store, most recently active first."""
    return {"sessions": state.orchestrator.list_sessions()}


def resume_session(
    state: State,
    *,
    session_id: Annotated[
        str | None, _d("Session id from list_sessions (default: current).")
    ] = None,
) -> m.Status:
    """Resume a session: reclaim expired leases and show what is ready."""
    return state.orchestrator.resume_session(session_id)


def session_status(
    state: State, *, session_id: Annotated[str | None, _d("Session id (default: current).")] = None
) -> m.Status:
    """Status of one session."""
    return state.orchestrator.session_status(session_id)


def cleanup_sessions(
    state: State,
    *,
    dry_run: Annotated[bool, _d("Only list what would be removed.")] = True,
    all_hosts: Annotated[
        bool, _d("Also other machines' sessions whose directory is not on this one.")
    ] = False,
) -> m.CleanupResult:
    """Remove sessions whose working directory no longer exists (this host's, or all)."""
    return state.orchestrator.cleanup_sessions(dry_run=dry_run, all_hosts=all_hosts)
