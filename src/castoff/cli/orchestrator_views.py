"""How `castoff orchestrator` results look to a person (Rich tables and lines).

One function per result type, each taking a console; the commands in
:mod:`castoff.cli.orchestrator` pass them to :func:`castoff.cli.output.emit`,
which calls them only without ``--json``. Rich is imported inside, so a
``--json`` run never loads it.

Everything that comes from the user or the store (titles, summaries, names,
paths, messages) goes through :func:`esc`, so it prints verbatim: Rich would
otherwise read ``[documentation]`` or ``[bold]`` in it as markup and drop it.
Only the styles written here are markup.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from castoff.orchestrator.models import (
        CleanupResult,
        Event,
        ExecutionContext,
        HealthReport,
        MaintenanceReport,
        RestartStatus,
        Session,
        Status,
        SynthesisResult,
        Task,
        TaskBrief,
        TaskPage,
    )

STATUS_STYLE = {
    "pending": "yellow",
    "in_progress": "cyan",
    "blocked": "magenta",
    "completed": "green",
    "failed": "red",
    "cancelled": "dim",
    "archived": "dim",
}


def esc(value: Any) -> str:
    """``value`` as text that Rich prints verbatim (its ``[`` escaped)."""
    from rich.markup import escape

    return escape(str(value))


def when(value: Any) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM`` (empty for None)."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def task_table(tasks: list[Task] | list[TaskBrief], title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("id", "status", "specialist", "title", "updated"):
        table.add_column(col, no_wrap=col != "title")
    for t in tasks:
        table.add_row(
            esc(t.id),
            status_text(t.status.value),
            t.specialist_type.value,
            esc(t.title),
            when(t.updated_at),
        )
    return table


def show_task(con: Console, task: Task) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, title=esc(task.title), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    fields: list[tuple[str, Any]] = [
        ("id", task.id),
        ("status", status_text(task.status.value)),
        (
            "type",
            f"{task.task_type.value} · {task.specialist_type.value} · {task.complexity.value}",
        ),
        ("parent", task.parent_task_id),
        ("dependencies", ", ".join(task.dependencies)),
        ("description", task.description),
        ("context", json.dumps(task.context) if isinstance(task.context, dict) else task.context),
        ("effort / due", " / ".join(x for x in (task.estimated_effort, when(task.due_date)) if x)),
        ("summary", task.summary),
        ("next action", task.next_action),
        ("error", task.error),
        (
            "lease",
            f"{task.lease_owner} until {when(task.lease_expires_at)}" if task.lease_owner else "",
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
            table.add_row(name, value if name == "status" else esc(value))
    con.print(table)


def show_status(con: Console, status: Status) -> None:
    s = status.session
    con.print(f"[bold]{esc(s.name)}[/] ({esc(s.id)}) — {esc(s.working_directory)}")
    counts = "  ".join(f"{status_text(k)} {n}" for k, n in status.counts.items() if n)
    con.print(f"{status.total} tasks  {counts}  progress {status.progress:.0%}")
    if status.expired_leases:
        con.print(f"[red]{status.expired_leases} expired lease(s)[/]")
    for title, items in (
        ("In progress", status.in_progress),
        ("Ready", status.ready),
        ("Recently completed", status.recently_completed),
    ):
        if items:
            con.print(task_table(items, title))


def show_sessions(con: Console, sessions: list[Session]) -> None:
    from rich.table import Table

    if not sessions:
        con.print("no sessions")
        return
    table = Table()
    for col in ("id", "name", "status", "tasks", "host", "working directory", "updated"):
        table.add_column(col)
    for s in sessions:
        table.add_row(
            esc(s.id),
            esc(s.name),
            esc(s.status),
            str(s.task_count),
            esc(s.host or ""),
            esc(s.working_directory),
            when(s.updated_at),
        )
    con.print(table)


def show_cleanup(con: Console, result: CleanupResult) -> None:
    verb = "would remove" if result.dry_run else "removed"
    con.print(f"{verb} {len(result.sessions)} session(s)")
    for s in result.sessions:
        con.print(f"  {esc(s.id)} {esc(s.working_directory)} ({s.task_count} tasks)")
    if result.skipped:
        con.print(f"skipped {len(result.skipped)} session(s) of other hosts (--all-hosts)")
        for s in result.skipped:
            con.print(f"  {esc(s.id)} {esc(s.host or 'unknown host')}:{esc(s.working_directory)}")


def show_page(con: Console, page: TaskPage) -> None:
    con.print(task_table(page.tasks))
    shown = f"{page.offset + 1}–{page.offset + len(page.tasks)}" if page.tasks else "0"
    con.print(f"{shown} of {page.total}" + (" (more: --offset)" if page.has_more else ""))


def show_context(con: Console, ctx: ExecutionContext) -> None:
    show_task(con, ctx.task)
    con.print(f"\n[bold]Role: {esc(ctx.role.title)}[/]\n{esc(ctx.role.instructions)}")
    if ctx.parent_context:
        parent = ctx.parent_context
        con.print(f"\n[bold]Parent:[/] {esc(parent.title)} ({esc(parent.id)})")
    for a in ctx.dependency_artifacts:
        line = f"input: {a.name} [{a.artifact_type.value}] from {a.task_id} sha256 {a.sha256}"
        con.print(esc(line))


def show_synthesis(con: Console, result: SynthesisResult) -> None:
    from rich.markdown import Markdown

    con.print(Markdown(result.report))
    con.print(esc(f"stored as {result.artifact.name} sha256 {result.artifact.sha256}"))


def show_health(con: Console, report: HealthReport) -> None:
    con.print("[green]healthy[/]" if report.healthy else "[red]unhealthy[/]")
    for name, state in report.checks.items():
        con.print(esc(f"  {name}: {state}"))
    db = report.database
    if db is not None:
        con.print(esc(f"  database: {db.dialect} {db.url} migration {db.migration_version}"))
        con.print(
            esc(f"  latency: {db.latency_ms} ms  journal: {db.journal_mode}  locks: {db.locks}")
        )
        con.print(esc(f"  rows: {db.counts}"))


def show_maintenance(con: Console, report: MaintenanceReport) -> None:
    if report.path:
        con.print(esc(f"wrote {report.path}"))
        return
    con.print(f"{report.action}: {len(report.findings)} finding(s), {report.fixed} fixed")
    for f in report.findings:
        mark = "fixed" if f.fixed else f.severity
        con.print(esc(f"  [{mark}] {f.kind} {f.task_id or ''} {f.message}"))


def show_restart(con: Console, status: RestartStatus) -> None:
    con.print(f"last recovery: {when(status.recovered_at) or 'never needed'}")
    con.print(esc(f"  interrupted then: {', '.join(status.interrupted) or 'none'}"))
    con.print(esc(f"  reclaimed then: {', '.join(status.reclaimed) or 'none'}"))
    con.print(esc(f"in progress now: {', '.join(status.in_progress) or 'none'}"))
    con.print(f"expired leases now: {status.expired_now}")


def show_events(con: Console, found: list[Event]) -> None:
    from rich.table import Table

    table = Table()
    for col in ("id", "at", "actor", "kind", "task", "data"):
        table.add_column(col, no_wrap=col != "data")
    for e in found:
        table.add_row(
            str(e.id),
            when(e.created_at),
            esc(e.actor),
            esc(e.kind),
            esc(e.task_id or ""),
            esc(json.dumps(e.data)),
        )
    con.print(table)
