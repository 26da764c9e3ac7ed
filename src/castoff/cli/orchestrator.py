"""`castoff orchestrator <tool>`: every orchestrator tool as a command.

Each command has the MCP tool's name with dashes and its parameters as
options of the same names (``--parent-task-id`` ⇔ ``parent_task_id``); list
parameters repeat (``--status pending --status blocked``). Task ids (and the
title of ``plan-task``) may also be given as the first argument. Every command
takes ``--json``, which prints the result's dataclass fields
(docs/orchestrator.md); without it the views in
:mod:`castoff.cli.orchestrator_views` print for people.

Only ``initialize-session`` and ``plan-task`` create a store or a session; every
other command refuses a directory without one ("no castoff session in DIR",
exit 2), and ``list-sessions`` / ``cleanup-sessions`` report nothing. The
orchestrator and Rich are imported inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from castoff.cli import orchestrator_views as views
from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt, positional_or_option
from castoff.cli.output import emit

if TYPE_CHECKING:
    from castoff.orchestrator.service import Orchestrator

group = typer.Typer(
    name="orchestrator",
    help="The task orchestrator: sessions, tasks, leases, artifacts, health.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TaskIdArg = Annotated[
    str | None,
    typer.Argument(help="The task id (or --task-id).", show_default=False, metavar="[TASK_ID]"),
]
TaskIdOpt = Annotated[
    str | None, typer.Option("--task-id", help="The task id.", show_default=False)
]
ParentOpt = Annotated[
    str | None, typer.Option("--parent-task-id", help="The parent task's id.", show_default=False)
]
WorkerOpt = Annotated[
    str | None,
    typer.Option(
        "--worker",
        help="Lease holder (default: cli@<host>, shared by your CLI runs).",
        show_default=False,
    ),
]


def _open(
    working_directory: Path | None, *, create: bool = False
) -> AbstractContextManager[Orchestrator]:
    """The orchestrator of the session found from ``working_directory``.

    ``create=False`` (every command that only works on an existing session)
    refuses a directory without one instead of creating it.
    """
    from castoff import workspace
    from castoff.orchestrator.service import Orchestrator

    root = workspace.find_root(working_directory)
    return Orchestrator.open(
        root, database_url=workspace.database_url(root), actor="cli", create=create
    )


def _has_store(working_directory: Path | None) -> bool:
    """False when the session's embedded store does not exist (nothing to list)."""
    from castoff import workspace
    from castoff.store.database import store_exists

    return store_exists(workspace.database_url(workspace.find_root(working_directory)))


def _context(value: str | None) -> dict[str, Any] | str | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict) else value


# -- sessions ---------------------------------------------------------------------
@group.command("initialize-session")
def initialize_session(
    working_directory: WorkdirOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the session.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start (or reopen) the session of the working directory."""
    with _open(working_directory, create=True) as orch:
        session = orch.initialize_session(orch.working_directory, name=name)
    emit(
        session,
        as_json=as_json,
        human=lambda con: con.print(
            f"session {session.id} ({session.name}) at {session.working_directory}"
        ),
    )


@group.command("list-sessions")
def list_sessions(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """Every session in the store (none when the directory has no store)."""
    from castoff.orchestrator.models import Session

    sessions: list[Session] = []
    if _has_store(working_directory):
        with _open(working_directory) as orch:
            sessions = orch.list_sessions()
    emit(sessions, as_json=as_json, human=lambda con: views.show_sessions(con, sessions))


@group.command("resume-session")
def resume_session(
    session_id: Annotated[
        str | None,
        typer.Option("--session-id", help="Session to resume (default: this directory's)."),
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume a session: reclaim its expired leases and show its status."""
    with _open(working_directory) as orch:
        status = orch.resume_session(session_id)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


@group.command("session-status")
def session_status(
    session_id: Annotated[
        str | None, typer.Option("--session-id", help="Session (default: this directory's).")
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The status of a session."""
    with _open(working_directory) as orch:
        status = orch.session_status(session_id)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


@group.command("cleanup-sessions")
def cleanup_sessions(
    dry_run: DryRunOpt = False,
    all_hosts: Annotated[
        bool,
        typer.Option(
            "--all-hosts",
            help="Also remove other machines' sessions whose directory is not on this one.",
        ),
    ] = False,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove this machine's sessions whose directory is gone."""
    from castoff.orchestrator.models import CleanupResult

    result = CleanupResult(dry_run=dry_run, sessions=[], removed=0)
    if _has_store(working_directory):
        with _open(working_directory) as orch:
            result = orch.cleanup_sessions(dry_run=dry_run, all_hosts=all_hosts)
    emit(result, as_json=as_json, human=lambda con: views.show_cleanup(con, result))


# -- tasks ------------------------------------------------------------------------
@group.command("plan-task")
def plan_task(
    ctx: typer.Context,
    title_arg: Annotated[
        str | None,
        typer.Argument(
            help="What the task is (or --title).", show_default=False, metavar="[TITLE]"
        ),
    ] = None,
    *,
    title: Annotated[
        str | None, typer.Option("--title", help="What the task is.", show_default=False)
    ] = None,
    description: Annotated[str, typer.Option(help="Details.")] = "",
    task_type: Annotated[
        str, typer.Option("--task-type", help="standard, breakdown, milestone, …")
    ] = "standard",
    parent_task_id: ParentOpt = None,
    complexity: Annotated[
        str, typer.Option(help="trivial, simple, moderate, complex, very_complex")
    ] = "moderate",
    specialist_type: Annotated[
        str, typer.Option("--specialist-type", help="coder, tester, release_notes, …")
    ] = "generic",
    estimated_effort: Annotated[
        str | None, typer.Option("--estimated-effort", help="e.g. 2h")
    ] = None,
    due_date: Annotated[
        str | None, typer.Option("--due-date", help="ISO 8601 date or datetime")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Text, or a JSON object.")] = None,
    dependencies: Annotated[
        list[str] | None, typer.Option("--dependencies", help="A task this one waits for (repeat).")
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan a task (a subtask with --parent-task-id)."""
    what = positional_or_option(ctx, title_arg, title, "--title")
    with _open(working_directory, create=True) as orch:
        task = orch.plan_task(
            what,
            description=description,
            task_type=task_type,
            parent_task_id=parent_task_id,
            complexity=complexity,
            specialist_type=specialist_type,
            estimated_effort=estimated_effort,
            due_date=due_date,
            context=_context(context),
            dependencies=dependencies or [],
        )
    emit(task, as_json=as_json, human=lambda con: con.print(f"planned {task.id}: {task.title}"))


@group.command("update-task")
def update_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    *,
    task_id: TaskIdOpt = None,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    task_type: Annotated[str | None, typer.Option("--task-type")] = None,
    specialist_type: Annotated[str | None, typer.Option("--specialist-type")] = None,
    complexity: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="pending, blocked or archived")] = None,
    parent_task_id: ParentOpt = None,
    estimated_effort: Annotated[str | None, typer.Option("--estimated-effort")] = None,
    due_date: Annotated[str | None, typer.Option("--due-date")] = None,
    context: Annotated[str | None, typer.Option(help="Text, or a JSON object.")] = None,
    dependencies: Annotated[
        list[str] | None, typer.Option("--dependencies", help="Replaces the dependencies (repeat).")
    ] = None,
    clear_dependencies: Annotated[
        bool, typer.Option("--clear-dependencies", help="Remove every dependency.")
    ] = False,
    next_action: Annotated[str | None, typer.Option("--next-action")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Change the status even while another worker holds a live lease."
        ),
    ] = False,
    worker: WorkerOpt = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a task's fields; only the given options change."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        task = orch.update_task(
            which,
            title=title,
            description=description,
            task_type=task_type,
            specialist_type=specialist_type,
            complexity=complexity,
            status=status,
            parent_task_id=parent_task_id,
            estimated_effort=estimated_effort,
            due_date=due_date,
            context=_context(context),
            dependencies=[] if clear_dependencies else dependencies,
            next_action=next_action,
            force=force,
            worker=worker,
        )
    emit(task, as_json=as_json, human=lambda con: views.show_task(con, task))


@group.command("delete-task")
def delete_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    task_id: TaskIdOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also with subtasks, dependents or work in progress.")
    ] = False,
    archive_instead: Annotated[
        bool, typer.Option("--archive-instead", help="Archive rather than delete.")
    ] = False,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a task and its subtasks (or archive them)."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        result = orch.delete_task(which, force=force, archive_instead=archive_instead)

    def human(con: Any) -> None:
        if result.archived:
            con.print(f"archived {len(result.archived)} task(s): {', '.join(result.archived)}")
        else:
            con.print(f"deleted {len(result.deleted)} task(s): {', '.join(result.deleted)}")

    emit(result, as_json=as_json, human=human)


@group.command("cancel-task")
def cancel_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    task_id: TaskIdOpt = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    preserve_work: Annotated[
        bool, typer.Option("--preserve-work/--discard-work", help="Keep the artifacts.")
    ] = True,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a task and its open subtasks."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        result = orch.cancel_task(which, reason=reason, preserve_work=preserve_work)
    emit(
        result,
        as_json=as_json,
        human=lambda con: con.print(
            f"cancelled {len(result.cancelled)} task(s): {', '.join(result.cancelled)}"
        ),
    )


@group.command("query-tasks")
def query_tasks(
    *,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Repeat for several.")
    ] = None,
    task_type: Annotated[list[str] | None, typer.Option("--task-type")] = None,
    specialist_type: Annotated[list[str] | None, typer.Option("--specialist-type")] = None,
    parent_task_id: ParentOpt = None,
    complexity: Annotated[list[str] | None, typer.Option("--complexity")] = None,
    search_text: Annotated[
        str | None, typer.Option("--search-text", help="In title, description, summary.")
    ] = None,
    created_after: Annotated[str | None, typer.Option("--created-after")] = None,
    created_before: Annotated[str | None, typer.Option("--created-before")] = None,
    include_children: Annotated[
        bool,
        typer.Option(
            "--include-children",
            help="All descendants of --parent-task-id, not only its children (needs it).",
        ),
    ] = False,
    include_artifacts: Annotated[bool, typer.Option("--include-artifacts")] = False,
    limit: Annotated[int, typer.Option(help="Page size (1–1000).")] = 50,
    offset: Annotated[int, typer.Option()] = 0,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find tasks; every filter narrows the result."""
    with _open(working_directory) as orch:
        page = orch.query_tasks(
            status=status,
            task_type=task_type,
            specialist_type=specialist_type,
            parent_task_id=parent_task_id,
            complexity=complexity,
            search_text=search_text,
            created_after=created_after,
            created_before=created_before,
            include_children=include_children,
            include_artifacts=include_artifacts,
            limit=limit,
            offset=offset,
        )
    emit(page, as_json=as_json, human=lambda con: views.show_page(con, page))


@group.command("execute-task")
def execute_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    task_id: TaskIdOpt = None,
    worker: WorkerOpt = None,
    lease_seconds: Annotated[
        int | None,
        typer.Option(
            "--lease-seconds",
            help="How long the lease lasts (default 600). Run again to renew a lease you hold.",
        ),
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Claim a task (or renew your lease) and print its context."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        result = orch.execute_task(which, worker=worker, lease_seconds=lease_seconds)
    emit(result, as_json=as_json, human=lambda con: views.show_context(con, result))


@group.command("complete-task")
def complete_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    *,
    task_id: TaskIdOpt = None,
    summary: Annotated[str, typer.Option(help="What was done (required).", show_default=False)],
    detailed_work: Annotated[str | None, typer.Option("--detailed-work")] = None,
    file_paths: Annotated[
        list[str] | None,
        typer.Option("--file-paths", help="A produced file in the working directory (repeat)."),
    ] = None,
    artifact_type: Annotated[str, typer.Option("--artifact-type")] = "general",
    next_action: Annotated[str | None, typer.Option("--next-action")] = None,
    worker: WorkerOpt = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Complete an in-progress task you hold, storing its artifacts."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        task = orch.complete_task(
            which,
            summary,
            detailed_work=detailed_work,
            file_paths=file_paths or [],
            artifact_type=artifact_type,
            next_action=next_action,
            worker=worker,
        )
    emit(task, as_json=as_json, human=lambda con: views.show_task(con, task))


@group.command("fail-task")
def fail_task(
    ctx: typer.Context,
    task_arg: TaskIdArg = None,
    *,
    task_id: TaskIdOpt = None,
    error: Annotated[str, typer.Option(help="What went wrong (required).", show_default=False)],
    worker: WorkerOpt = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that an in-progress task you hold failed."""
    which = positional_or_option(ctx, task_arg, task_id, "--task-id")
    with _open(working_directory) as orch:
        task = orch.fail_task(which, error, worker=worker)
    emit(task, as_json=as_json, human=lambda con: views.show_task(con, task))


@group.command("synthesize-results")
def synthesize_results(
    ctx: typer.Context,
    parent_arg: Annotated[
        str | None,
        typer.Argument(
            help="The parent task's id (or --parent-task-id).",
            show_default=False,
            metavar="[PARENT_TASK_ID]",
        ),
    ] = None,
    parent_task_id: ParentOpt = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Combine a parent's subtasks into one report artifact."""
    which = positional_or_option(ctx, parent_arg, parent_task_id, "--parent-task-id")
    with _open(working_directory) as orch:
        result = orch.synthesize_results(which)
    emit(result, as_json=as_json, human=lambda con: views.show_synthesis(con, result))


@group.command("get-status")
def get_status(
    include_completed: Annotated[
        bool, typer.Option("--include-completed/--exclude-completed")
    ] = True,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The session's progress: counts, running, ready next."""
    with _open(working_directory) as orch:
        status = orch.get_status(include_completed=include_completed)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


@group.command("health-check")
def health_check(
    include_database_status: Annotated[bool, typer.Option("--include-database-status")] = False,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store, the schema and the role files (exit 1 when unhealthy)."""
    with _open(working_directory) as orch:
        report = orch.health_check(include_database_status=include_database_status)
    emit(report, as_json=as_json, human=lambda con: views.show_health(con, report))
    if not report.healthy:
        raise typer.Exit(1)


@group.command("maintenance-coordinator")
def maintenance_coordinator(
    action: Annotated[
        str,
        typer.Option(
            help="scan_cleanup, validate_structure, update_documentation, prepare_handover",
            show_default=False,
        ),
    ],
    scope: Annotated[str, typer.Option(help="session or all")] = "session",
    validation_level: Annotated[
        str, typer.Option("--validation-level", help="basic or full")
    ] = "basic",
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Clean up, validate the task graph, or write status / handover documents."""
    with _open(working_directory) as orch:
        report = orch.maintenance_coordinator(
            action, scope=scope, validation_level=validation_level
        )
    emit(report, as_json=as_json, human=lambda con: views.show_maintenance(con, report))


@group.command("restart-status")
def restart_status(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """What the last recovery found and reclaimed, and what is running now."""
    with _open(working_directory) as orch:
        status = orch.restart_status()
    emit(status, as_json=as_json, human=lambda con: views.show_restart(con, status))


@group.command("events")
def events(
    task_id: Annotated[str | None, typer.Option("--task-id")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The session's event log, newest first."""
    with _open(working_directory) as orch:
        found = orch.events(task_id=task_id, limit=limit, kind=kind)
    emit(found, as_json=as_json, human=lambda con: views.show_events(con, found))


def register(app: typer.Typer) -> None:
    """Add `castoff orchestrator` to ``app``."""
    app.add_typer(group)
