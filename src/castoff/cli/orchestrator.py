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

This module has the command table, the helpers the commands share, and the
session and status commands; the task commands are in
:mod:`castoff.cli.orchestrator_tasks`, health, maintenance, events and artifacts
in :mod:`castoff.cli.orchestrator_store`.

Start-up: typer is imported only in :func:`register`, which registers (and
imports the module of) just the command a run names; :func:`fast_path` runs the
read-only status commands without typer at all. The orchestrator and Rich are
imported inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from castoff.cli import orchestrator_views as views
from castoff.cli.output import emit

if TYPE_CHECKING:
    import typer

    from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt
    from castoff.orchestrator.service import Orchestrator

HELP = "The task orchestrator: sessions, tasks, leases, artifacts, health."
_TASKS = "castoff.cli.orchestrator_tasks"
_STORE = "castoff.cli.orchestrator_store"

#: Every command, in ``castoff orchestrator --help`` order → its module, where it is
#: the function of the same name with underscores (``plan-task`` → ``plan_task``).
_COMMANDS: dict[str, str] = {
    "initialize-session": __name__,
    "list-sessions": __name__,
    "resume-session": __name__,
    "session-status": __name__,
    "cleanup-sessions": __name__,
    "plan-task": _TASKS,
    "update-task": _TASKS,
    "delete-task": _TASKS,
    "cancel-task": _TASKS,
    "query-tasks": _TASKS,
    "execute-task": _TASKS,
    "complete-task": _TASKS,
    "fail-task": _TASKS,
    "synthesize-results": _TASKS,
    "get-status": __name__,
    "health-check": _STORE,
    "maintenance-coordinator": _STORE,
    "restart-status": __name__,
    "events": _STORE,
    "read-artifact": _STORE,
}


def _function(name: str) -> Callable[..., None]:
    """Command ``name``'s function (importing its module)."""
    function: Callable[..., None] = getattr(import_module(_COMMANDS[name]), name.replace("-", "_"))
    return function


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


def open_orchestrator(
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


# -- sessions ---------------------------------------------------------------------
def initialize_session(
    working_directory: WorkdirOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the session.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start (or reopen) the session of the working directory."""
    with open_orchestrator(working_directory, create=True) as orch:
        session = orch.initialize_session(orch.working_directory, name=name)
    emit(
        session,
        as_json=as_json,
        human=lambda con: con.print(
            views.esc(f"session {session.id} ({session.name}) at {session.working_directory}")
        ),
    )


def list_sessions(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """Every session in the store (none when the directory has no store)."""
    from castoff.orchestrator.models import Session

    sessions: list[Session] = []
    if _has_store(working_directory):
        with open_orchestrator(working_directory) as orch:
            sessions = orch.list_sessions()
    emit(sessions, as_json=as_json, human=lambda con: views.show_sessions(con, sessions))


def resume_session(
    session_id: Annotated[
        str | None,
        typer.Option("--session-id", help="Session to resume (default: this directory's)."),
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume a session: reclaim its expired leases and show its status."""
    with open_orchestrator(working_directory) as orch:
        status = orch.resume_session(session_id)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


def session_status(
    session_id: Annotated[
        str | None, typer.Option("--session-id", help="Session (default: this directory's).")
    ] = None,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The status of a session."""
    with open_orchestrator(working_directory) as orch:
        status = orch.session_status(session_id)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


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
        with open_orchestrator(working_directory) as orch:
            result = orch.cleanup_sessions(dry_run=dry_run, all_hosts=all_hosts)
    emit(result, as_json=as_json, human=lambda con: views.show_cleanup(con, result))


# -- status -----------------------------------------------------------------------
def get_status(
    include_completed: Annotated[
        bool, typer.Option("--include-completed/--exclude-completed")
    ] = True,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The session's progress: counts, running, ready next."""
    with open_orchestrator(working_directory) as orch:
        status = orch.get_status(include_completed=include_completed)
    emit(status, as_json=as_json, human=lambda con: views.show_status(con, status))


def restart_status(working_directory: WorkdirOpt = None, as_json: JsonOpt = False) -> None:
    """What the last recovery found and reclaimed, and what is running now."""
    with open_orchestrator(working_directory) as orch:
        status = orch.restart_status()
    emit(status, as_json=as_json, human=lambda con: views.show_restart(con, status))


def register(app: typer.Typer, command: str | None = None) -> None:
    """Add `castoff orchestrator` to ``app``: every command, or only ``command``.

    Typer inspects every registered function when it builds the click command
    (about 5 ms each), so a run that names a known command registers just that one.
    """
    types = _option_types()
    import typer

    group = typer.Typer(name="orchestrator", help=HELP, no_args_is_help=True, rich_markup_mode=None)
    for name in [command] if command in _COMMANDS else _COMMANDS:
        function = _function(name)
        # The command's string annotations resolve against its module's globals.
        vars(sys.modules[function.__module__]).update(types)
        group.command(name)(function)
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
    _function(argv[1])(**kwargs)
    return 0
