"""`castoff orchestrator`'s task commands: plan, update, delete, cancel, query,
execute, complete and fail tasks, and synthesize a parent's results.

:func:`castoff.cli.orchestrator.register` adds them from its command table. A
task id (or the title of ``plan-task``) may be given as the first argument or
as its option.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from castoff.cli import orchestrator_views as views
from castoff.cli.orchestrator import open_orchestrator
from castoff.cli.output import emit

if TYPE_CHECKING:
    import typer

    from castoff.cli.options import JsonOpt, WorkdirOpt

    # At run time: the option types of castoff.cli.orchestrator._option_types.
    TaskIdArg = str | None
    TaskIdOpt = str | None
    ParentOpt = str | None
    WorkerOpt = str | None


def _one(ctx: typer.Context, positional: str | None, option: str | None, flag: str) -> str:
    from castoff.cli.options import positional_or_option

    return positional_or_option(ctx, positional, option, flag)


def _context(value: str | None) -> dict[str, Any] | str | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict) else value


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
    what = _one(ctx, title_arg, title, "--title")
    with open_orchestrator(working_directory, create=True) as orch:
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
    emit(
        task,
        as_json=as_json,
        human=lambda con: con.print(views.esc(f"planned {task.id}: {task.title}")),
    )


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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
        result = orch.delete_task(which, force=force, archive_instead=archive_instead)

    def human(con: Any) -> None:
        if result.archived:
            con.print(f"archived {len(result.archived)} task(s): {', '.join(result.archived)}")
        else:
            con.print(f"deleted {len(result.deleted)} task(s): {', '.join(result.deleted)}")

    emit(result, as_json=as_json, human=human)


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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
        result = orch.cancel_task(which, reason=reason, preserve_work=preserve_work)
    emit(
        result,
        as_json=as_json,
        human=lambda con: con.print(
            f"cancelled {len(result.cancelled)} task(s): {', '.join(result.cancelled)}"
        ),
    )


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
    with open_orchestrator(working_directory) as orch:
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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
        result = orch.execute_task(which, worker=worker, lease_seconds=lease_seconds)
    emit(result, as_json=as_json, human=lambda con: views.show_context(con, result))


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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
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
    which = _one(ctx, task_arg, task_id, "--task-id")
    with open_orchestrator(working_directory) as orch:
        task = orch.fail_task(which, error, worker=worker)
    emit(task, as_json=as_json, human=lambda con: views.show_task(con, task))


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
    which = _one(ctx, parent_arg, parent_task_id, "--parent-task-id")
    with open_orchestrator(working_directory) as orch:
        result = orch.synthesize_results(which)
    emit(result, as_json=as_json, human=lambda con: views.show_synthesis(con, result))
