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
exit 2), and ``list-sessions`` / ``cleanup-sessions`` report nothing.

Start-up: typer is imported only in :func:`register`, which registers just the
command a run names; :func:`fast_path` runs the read-only status commands
without typer at all. The orchestrator and Rich are imported inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from castoff.cli import orchestrator_views as views
from castoff.cli.output import emit

if TYPE_CHECKING:
    import typer

    from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt
    from castoff.orchestrator.service import Orchestrator

    TaskIdArg = str | None
    TaskIdOpt = str | None
    ParentOpt = str | None
    WorkerOpt = str | None

HELP = "The task orchestrator: sessions, tasks, leases, artifacts, health."
_COMMANDS: dict[str, Callable[..., None]] = {}


def _command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Record a command; :func:`register` adds the ones a run needs."""

    def add(fn: Callable[..., None]) -> Callable[..., None]:
        _COMMANDS[name] = fn
        return fn

    return add


def _option_types() -> dict[str, Any]:
    """typer and the option types the commands' (string) annotations name.

    Imported here, when the commands are registered, so that :func:`fast_path`
    runs without typer.
    """
    import typer

    from castoff.cli import options

    def opt(flag: str, help: str) -> Any:
        return Annotated[str | None, typer.Option(flag, help=help, show_default=False)]

    return {
        "typer": typer,
        "JsonOpt": options.JsonOpt,
        "WorkdirOpt": options.WorkdirOpt,
        "DryRunOpt": options.DryRunOpt,
        "TaskIdArg": Annotated[
            str | None,
            typer.Argument(
                help="The task id (or --task-id).", show_default=False, metavar="[TASK_ID]"
            ),
        ],
        "TaskIdOpt": opt("--task-id", "The task id."),
        "ParentOpt": opt("--parent-task-id", "The parent task's id."),
        "WorkerOpt": opt(
            "--worker", "Lease holder (default: cli@<host>, shared by your CLI runs)."
        ),
    }


def _one(ctx: typer.Context, positional: str | None, option: str | None, flag: str) -> str:
    from castoff.cli.options import positional_or_option

    return positional_or_option(ctx, positional, option, flag)


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
@_command("initialize-session")
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
            views.esc(f"session {session.id} ({session.name}) at {session.working_directory}")
        ),
    )


@_command("list-sessions")
def list_sessions(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """Every session in the store (none when the directory has no store)."""
    from castoff.orchestrator.models import Session

    sessions: list[Session] = []
    if _has_store(working_directory):
        with _open(working_directory) as orch:
            sessions = orch.list_sessions()
    emit(sessions, as_json=as_json, human=lambda con: views.show_sessions(con, sessions))


@_command("resume-session")
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


@_command("session-status")
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


@_command("cleanup-sessions")
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
@_command("plan-task")
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
    emit(
        task,
        as_json=as_json,
        human=lambda con: con.print(views.esc(f"planned {task.id}: {task.title}")),
    )


@_command("update-task")
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


@_command("delete-task")
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
    with _open(working_directory) as orch:
        result = orch.delete_task(which, force=force, archive_instead=archive_instead)

    def human(con: Any) -> None:
        if result.archived:
            con.print(f"archived {len(result.archived)} task(s): {', '.join(result.archived)}")
        else:
            con.print(f"deleted {len(result.deleted)} task(s): {', '.join(result.deleted)}")

    emit(result, as_json=as_json, human=human)


@_command("cancel-task")
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
    with _open(working_directory) as orch:
        result = orch.cancel_task(which, reason=reason, preserve_work=preserve_work)
    emit(
        result,
        as_json=as_json,
        human=lambda con: con.print(
            f"cancelled {len(result.cancelled)} task(s): {', '.join(result.cancelled)}"
        ),
    )


@_command("query-tasks")
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


@_command("execute-task")
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
    with _open(working_directory) as orch:
        result = orch.execute_task(which, worker=worker, lease_seconds=lease_seconds)
    emit(result, as_json=as_json, human=lambda con: views.show_context(con, result))


@_command("complete-task")
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


@_command("fail-task")
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
    with _open(working_directory) as orch:
        task = orch.fail_task(which, error, worker=worker)
    emit(task, as_json=as_json, human=lambda con: views.show_task(con, task))


@_command("synthesize-results")
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
    with _open(working_directory) as orch:
        result = orch.synthesize_results(which)
    emit(result, as_json=as_json, human=lambda con: views.show_synthesis(con, result))


@_command("get-status")
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


@_command("health-check")
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
        import typer

        raise typer.Exit(1)


@_command("maintenance-coordinator")
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
    from castoff.release.workflow.scratch import clean_scratch

    with _open(working_directory) as orch:
        report = orch.maintenance_coordinator(
            action, scope=scope, validation_level=validation_level, cleaners=(clean_scratch,)
        )
    emit(report, as_json=as_json, human=lambda con: views.show_maintenance(con, report))


@_command("restart-status")
def restart_status(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """What the last recovery found and reclaimed, and what is running now."""
    with _open(working_directory) as orch:
        status = orch.restart_status()
    emit(status, as_json=as_json, human=lambda con: views.show_restart(con, status))


@_command("events")
def events(
    task_id: Annotated[str | None, typer.Option("--task-id")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    before: Annotated[
        int | None, typer.Option(help="Only events older than this event id (the next page).")
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The session's event log, newest first."""
    with _open(working_directory) as orch:
        found = orch.events(task_id=task_id, limit=limit, kind=kind, before=before)
    emit(found, as_json=as_json, human=lambda con: views.show_events(con, found))


@_command("read-artifact")
def read_artifact(
    sha256: Annotated[str, typer.Argument(help="The sha256 of the content.", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write it to this file instead of stdout."),
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An artifact's content, by its sha256.

    With --json: the Artifact and its text (``content_base64`` when it is not UTF-8).
    """
    import sys

    with _open(working_directory) as orch:
        content = orch.read_artifact(sha256)
        artifact = orch.find_artifact(sha256) if as_json else None
    if output is not None:
        output.write_bytes(content)
    if as_json:
        try:
            text: dict[str, Any] = {"content": content.decode("utf-8")}
        except UnicodeDecodeError:
            import base64

            text = {"content_base64": base64.b64encode(content).decode("ascii")}
        emit({"artifact": artifact} | text, as_json=True, human=lambda _con: None)
    elif output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()


def register(app: typer.Typer, command: str | None = None) -> None:
    """Add `castoff orchestrator` to ``app``: every command, or only ``command``.

    Typer inspects every registered function when it builds the click command
    (about 5 ms each), so a run that names a known command registers just that one.
    """
    # The commands' string annotations resolve against these module globals.
    globals().update(_option_types())
    import typer

    group = typer.Typer(name="orchestrator", help=HELP, no_args_is_help=True, rich_markup_mode=None)
    for name in [command] if command in _COMMANDS else _COMMANDS:
        group.command(name)(_COMMANDS[name])
    app.add_typer(group)


#: Read-only commands :func:`fast_path` runs without typer: flags → (parameter, value)
#: and options taking a value → parameter.
_FAST: dict[str, tuple[dict[str, tuple[str, bool]], dict[str, str]]] = {
    "get-status": (
        {"--include-completed": ("include_completed", True)}
        | {"--exclude-completed": ("include_completed", False)},
        {},
    ),
    "restart-status": ({}, {}),
    "list-sessions": ({}, {}),
    "session-status": ({}, {"--session-id": "session_id"}),
}


def fast_path(argv: list[str]) -> int | None:
    """Run a read-only status command without typer; None for anything else.

    Same options, output and exit codes as the typer commands; ``--help``,
    typos and every other command fall through to typer.
    """
    if len(argv) < 2 or argv[0] != "orchestrator" or argv[1] not in _FAST:
        return None
    flags, valued = _FAST[argv[1]]
    valued = valued | {"--working-directory": "working_directory", "-C": "working_directory"}
    kwargs: dict[str, Any] = {"as_json": False}
    rest = argv[2:]
    while rest:
        arg, rest = rest[0], rest[1:]
        name, eq, value = arg.partition("=")
        if arg == "--json":
            kwargs["as_json"] = True
        elif arg in flags:
            key, flag_value = flags[arg]
            kwargs[key] = flag_value
        elif name in valued and eq:
            kwargs[valued[name]] = value
        elif arg in valued and rest:
            kwargs[valued[arg]], rest = rest[0], rest[1:]
        else:
            return None
    if "working_directory" in kwargs:
        kwargs["working_directory"] = Path(kwargs["working_directory"])
    _COMMANDS[argv[1]](**kwargs)
    return 0
