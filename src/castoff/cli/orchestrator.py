"""`castoff orchestrator <tool>`: every orchestrator tool as a command.

Each command has the MCP tool's name with dashes and its parameters as
options of the same names (``--parent-task-id`` ⇔ ``parent_task_id``); list
parameters repeat (``--status pending --status blocked``). Task ids (and the
title of ``plan-task``) are positional. Every command takes ``--json``, which
prints the result's dataclass fields (docs/orchestrator.md). The orchestrator
and Rich are imported inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt
from castoff.cli.output import emit

if TYPE_CHECKING:
    from rich.console import Console

    from castoff.orchestrator.models import Status, Task, TaskBrief
    from castoff.orchestrator.service import Orchestrator

group = typer.Typer(
    name="orchestrator",
    help="The task orchestrator: sessions, tasks, leases, artifacts, health.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TaskIdArg = Annotated[str, typer.Argument(help="The task id.", show_default=False)]
ListOpt = Annotated[list[str] | None, typer.Option(show_default=False)]
ParentOpt = Annotated[
    str | None, typer.Option("--parent-task-id", help="The parent task's id.", show_default=False)
]


def _open(working_directory: Path | None) -> AbstractContextManager[Orchestrator]:
    from castoff import workspace
    from castoff.orchestrator.service import Orchestrator

    root = workspace.find_root(working_directory)
    return Orchestrator.open(root, database_url=workspace.database_url(root), actor="cli")


def _context(value: str | None) -> dict[str, Any] | str | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict) else value


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


# -- human output -----------------------------------------------------------------
STATUS_STYLE = {
    "pending": "yellow",
    "in_progress": "cyan",
    "blocked": "magenta",
    "completed": "green",
    "failed": "red",
    "cancelled": "dim",
    "archived": "dim",
}


def _status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def _task_table(tasks: list[Task] | list[TaskBrief], title: str | None = None) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("id", "status", "specialist", "title", "updated"):
        table.add_column(col, no_wrap=col != "title")
    for t in tasks:
        table.add_row(
            t.id,
            _status_text(t.status.value),
            t.specialist_type.value,
            t.title,
            _when(t.updated_at),
        )
    return table


def _show_task(con: Console, task: Task) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, title=f"{task.title}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    fields: list[tuple[str, Any]] = [
        ("id", task.id),
        ("status", _status_text(task.status.value)),
        (
            "type",
            f"{task.task_type.value} · {task.specialist_type.value} · {task.complexity.value}",
        ),
        ("parent", task.parent_task_id),
        ("dependencies", ", ".join(task.dependencies)),
        ("description", task.description),
        ("context", json.dumps(task.context) if isinstance(task.context, dict) else task.context),
        ("effort / due", " / ".join(x for x in (task.estimated_effort, _when(task.due_date)) if x)),
        ("summary", task.summary),
        ("next action", task.next_action),
        ("error", task.error),
        (
            "lease",
            f"{task.lease_owner} until {_when(task.lease_expires_at)}" if task.lease_owner else "",
        ),
        ("attempts", str(task.attempts)),
        (
            "artifacts",
            "\n".join(
                f"{a.name} [{a.artifact_type.value}] {a.sha256[:12]}" for a in task.artifacts
            ),
        ),
    ]
    for name, value in fields:
        if value:
            table.add_row(name, str(value))
    con.print(table)


def _show_status(con: Console, status: Status) -> None:
    s = status.session
    con.print(f"[bold]{s.name}[/] ({s.id}) — {s.working_directory}")
    counts = "  ".join(f"{_status_text(k)} {n}" for k, n in status.counts.items() if n)
    con.print(f"{status.total} tasks  {counts}  progress {status.progress:.0%}")
    if status.expired_leases:
        con.print(f"[red]{status.expired_leases} expired lease(s)[/]")
    for title, items in (
        ("In progress", status.in_progress),
        ("Ready", status.ready),
        ("Recently completed", status.recently_completed),
    ):
        if items:
            con.print(_task_table(items, title))


# -- sessions ---------------------------------------------------------------------
@group.command("initialize-session")
def initialize_session(
    working_directory: WorkdirOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the session.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start (or reopen) the session of the working directory."""
    with _open(working_directory) as orch:
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
    """Every session in the store."""
    with _open(working_directory) as orch:
        sessions = orch.list_sessions()

    def human(con: Console) -> None:
        from rich.table import Table

        table = Table()
        for col in ("id", "name", "status", "tasks", "working directory", "updated"):
            table.add_column(col)
        for s in sessions:
            table.add_row(
                s.id, s.name, s.status, str(s.task_count), s.working_directory, _when(s.updated_at)
            )
        con.print(table)

    emit(sessions, as_json=as_json, human=human)


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
    emit(status, as_json=as_json, human=lambda con: _show_status(con, status))


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
    emit(status, as_json=as_json, human=lambda con: _show_status(con, status))


@group.command("cleanup-sessions")
def cleanup_sessions(
    dry_run: DryRunOpt = False, working_directory: WorkdirOpt = None, as_json: JsonOpt = False
) -> None:
    """Remove sessions whose working directory no longer exists."""
    with _open(working_directory) as orch:
        result = orch.cleanup_sessions(dry_run=dry_run)

    def human(con: Console) -> None:
        verb = "would remove" if dry_run else "removed"
        con.print(f"{verb} {len(result.sessions)} session(s)")
        for s in result.sessions:
            con.print(f"  {s.id} {s.working_directory} ({s.task_count} tasks)")

    emit(result, as_json=as_json, human=human)


# -- tasks ------------------------------------------------------------------------
@group.command("plan-task")
def plan_task(
    *,
    title: Annotated[str, typer.Argument(help="What the task is.", show_default=False)],
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
    with _open(working_directory) as orch:
        task = orch.plan_task(
            title,
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
    *,
    task_id: TaskIdArg,
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
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a task's fields; only the given options change."""
    with _open(working_directory) as orch:
        task = orch.update_task(
            task_id,
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
        )
    emit(task, as_json=as_json, human=lambda con: _show_task(con, task))


@group.command("delete-task")
def delete_task(
    task_id: TaskIdArg,
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
    with _open(working_directory) as orch:
        result = orch.delete_task(task_id, force=force, archive_instead=archive_instead)

    def human(con: Console) -> None:
        if result.archived:
            con.print(f"archived {len(result.archived)} task(s): {', '.join(result.archived)}")
        else:
            con.print(f"deleted {len(result.deleted)} task(s): {', '.join(result.deleted)}")

    emit(result, as_json=as_json, human=human)


@group.command("cancel-task")
def cancel_task(
    task_id: TaskIdArg,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    preserve_work: Annotated[
        bool, typer.Option("--preserve-work/--discard-work", help="Keep the artifacts.")
    ] = True,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a task and its open subtasks."""
    with _open(working_directory) as orch:
        result = orch.cancel_task(task_id, reason=reason, preserve_work=preserve_work)
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
        bool, typer.Option("--include-children", help="All descendants of --parent-task-id.")
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

    def human(con: Console) -> None:
        con.print(_task_table(page.tasks))
        shown = f"{page.offset + 1}–{page.offset + len(page.tasks)}" if page.tasks else "0"
        con.print(f"{shown} of {page.total}" + (" (more: --offset)" if page.has_more else ""))

    emit(page, as_json=as_json, human=human)


@group.command("execute-task")
def execute_task(
    task_id: TaskIdArg,
    worker: Annotated[str | None, typer.Option(help="Lease owner (default: cli@host).")] = None,
    lease_seconds: Annotated[int | None, typer.Option("--lease-seconds")] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Claim a task and print its specialist context."""
    with _open(working_directory) as orch:
        ctx = orch.execute_task(task_id, worker=worker, lease_seconds=lease_seconds)

    def human(con: Console) -> None:
        _show_task(con, ctx.task)
        con.print(f"\n[bold]Role: {ctx.role.title}[/]\n{ctx.role.instructions}")
        if ctx.parent_context:
            con.print(f"\n[bold]Parent:[/] {ctx.parent_context.title} ({ctx.parent_context.id})")
        for a in ctx.dependency_artifacts:
            con.print(
                f"input: {a.name} [{a.artifact_type.value}] from {a.task_id} sha256 {a.sha256}"
            )

    emit(ctx, as_json=as_json, human=human)


@group.command("complete-task")
def complete_task(
    *,
    task_id: TaskIdArg,
    summary: Annotated[str, typer.Option(help="What was done (required).", show_default=False)],
    detailed_work: Annotated[str | None, typer.Option("--detailed-work")] = None,
    file_paths: Annotated[
        list[str] | None, typer.Option("--file-paths", help="A produced file (repeat).")
    ] = None,
    artifact_type: Annotated[str, typer.Option("--artifact-type")] = "general",
    next_action: Annotated[str | None, typer.Option("--next-action")] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Complete an in-progress task, storing its artifacts."""
    with _open(working_directory) as orch:
        task = orch.complete_task(
            task_id,
            summary,
            detailed_work=detailed_work,
            file_paths=file_paths or [],
            artifact_type=artifact_type,
            next_action=next_action,
        )
    emit(task, as_json=as_json, human=lambda con: _show_task(con, task))


@group.command("fail-task")
def fail_task(
    task_id: TaskIdArg,
    error: Annotated[str, typer.Option(help="What went wrong (required).", show_default=False)],
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that an in-progress task failed."""
    with _open(working_directory) as orch:
        task = orch.fail_task(task_id, error)
    emit(task, as_json=as_json, human=lambda con: _show_task(con, task))


@group.command("synthesize-results")
def synthesize_results(
    parent_task_id: Annotated[
        str, typer.Argument(help="The parent task's id.", show_default=False)
    ],
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Combine a parent's subtasks into one report artifact."""
    with _open(working_directory) as orch:
        result = orch.synthesize_results(parent_task_id)

    def human(con: Console) -> None:
        from rich.markdown import Markdown

        con.print(Markdown(result.report))
        con.print(f"stored as {result.artifact.name} sha256 {result.artifact.sha256}")

    emit(result, as_json=as_json, human=human)


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
    emit(status, as_json=as_json, human=lambda con: _show_status(con, status))


@group.command("health-check")
def health_check(
    include_database_status: Annotated[bool, typer.Option("--include-database-status")] = False,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store, the schema and the role files (exit 1 when unhealthy)."""
    with _open(working_directory) as orch:
        report = orch.health_check(include_database_status=include_database_status)

    def human(con: Console) -> None:
        con.print("[green]healthy[/]" if report.healthy else "[red]unhealthy[/]")
        for name, state in report.checks.items():
            con.print(f"  {name}: {state}")
        db = report.database
        if db is not None:
            con.print(f"  database: {db.dialect} {db.url} migration {db.migration_version}")
            con.print(
                f"  latency: {db.latency_ms} ms  journal: {db.journal_mode}  locks: {db.locks}"
            )
            con.print(f"  rows: {db.counts}")

    emit(report, as_json=as_json, human=human)
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

    def human(con: Console) -> None:
        if report.path:
            con.print(f"wrote {report.path}")
            return
        con.print(f"{report.action}: {len(report.findings)} finding(s), {report.fixed} fixed")
        for f in report.findings:
            mark = "fixed" if f.fixed else f.severity
            con.print(f"  [{mark}] {f.kind} {f.task_id or ''} {f.message}")

    emit(report, as_json=as_json, human=human)


@group.command("restart-status")
def restart_status(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """What the last start recovered, and what is running now."""
    with _open(working_directory) as orch:
        status = orch.restart_status()

    def human(con: Console) -> None:
        when = _when(status.recovered_at) or "never needed"
        con.print(f"last recovery: {when}")
        con.print(f"  reclaimed: {', '.join(status.reclaimed) or 'none'}")
        con.print(f"  in progress now: {', '.join(status.interrupted) or 'none'}")
        con.print(f"  expired leases now: {status.expired_now}")

    emit(status, as_json=as_json, human=human)


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

    def human(con: Console) -> None:
        from rich.table import Table

        table = Table()
        for col in ("id", "at", "actor", "kind", "task", "data"):
            table.add_column(col, no_wrap=col != "data")
        for e in found:
            table.add_row(
                str(e.id), _when(e.created_at), e.actor, e.kind, e.task_id or "", json.dumps(e.data)
            )
        con.print(table)

    emit(found, as_json=as_json, human=human)


def register(app: typer.Typer) -> None:
    """Add `castoff orchestrator` to ``app``."""
    app.add_typer(group)
