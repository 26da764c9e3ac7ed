"""`castoff orchestrator`'s store commands: its health and maintenance
(``health-check``, ``maintenance-coordinator``), its event log (``events``) and
artifacts (``read-artifact``).

:func:`castoff.cli.orchestrator.register` adds them from its command table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from castoff.cli import orchestrator_views as views
from castoff.cli.orchestrator import open_orchestrator
from castoff.cli.output import emit

if TYPE_CHECKING:
    import typer

    from castoff.cli.options import JsonOpt, WorkdirOpt


def health_check(
    include_database_status: Annotated[bool, typer.Option("--include-database-status")] = False,
    working_directory: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store, the schema and the role files (exit 1 when unhealthy)."""
    with open_orchestrator(working_directory) as orch:
        report = orch.health_check(include_database_status=include_database_status)
    emit(report, as_json=as_json, human=lambda con: views.show_health(con, report))
    if not report.healthy:
        import typer

        raise typer.Exit(1)


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

    with open_orchestrator(working_directory) as orch:
        report = orch.maintenance_coordinator(
            action, scope=scope, validation_level=validation_level, cleaners=(clean_scratch,)
        )
    emit(report, as_json=as_json, human=lambda con: views.show_maintenance(con, report))


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
    with open_orchestrator(working_directory) as orch:
        found = orch.events(task_id=task_id, limit=limit, kind=kind, before=before)
    emit(found, as_json=as_json, human=lambda con: views.show_events(con, found))


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

    with open_orchestrator(working_directory) as orch:
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
