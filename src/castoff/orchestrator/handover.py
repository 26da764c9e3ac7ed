"""Markdown documents about a session: its status, and a handover (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from castoff.orchestrator.models import Status, Task, TaskStatus


def _header(status: Status, title: str) -> list[str]:
    s = status.session
    counts = ", ".join(f"{n} {k}" for k, n in status.counts.items() if n)
    return [
        f"# {title}: {s.name}",
        "",
        f"- session: `{s.id}`",
        f"- working directory: `{s.working_directory}`",
        f"- tasks: {status.total} ({counts or 'none'})",
        f"- progress: {status.progress:.0%}",
        "",
    ]


def _line(task: Task) -> str:
    extra = []
    if task.lease_owner:
        extra.append(f"leased by {task.lease_owner}")
    if task.dependencies:
        extra.append("after " + ", ".join(f"`{d}`" for d in task.dependencies))
    tail = f" ({'; '.join(extra)})" if extra else ""
    return f"- `{task.id}` **{task.title}** [{task.specialist_type}]{tail}"


def _section(title: str, tasks: Sequence[Task], *, details: bool = False) -> list[str]:
    if not tasks:
        return []
    lines = [f"## {title}", ""]
    for t in tasks:
        lines.append(_line(t))
        if details and t.summary:
            lines.append(f"  - summary: {t.summary}")
        if details and t.next_action:
            lines.append(f"  - next: {t.next_action}")
        if t.error:
            lines.append(f"  - note: {t.error}")
        for a in t.artifacts if details else []:
            lines.append(f"  - artifact: {a.name} [{a.artifact_type}] `{a.sha256[:12]}`")
    return [*lines, ""]


def _by(tasks: Sequence[Task], status: TaskStatus) -> list[Task]:
    return [t for t in tasks if t.status == status]


def status_document(status: Status, tasks: Sequence[Task]) -> str:
    """Every task of the session grouped by status."""
    lines = _header(status, "Session status")
    for st in TaskStatus:
        lines += _section(st.value.replace("_", " ").capitalize(), _by(tasks, st), details=True)
    return "\n".join(lines)


def handover_document(status: Status, tasks: Sequence[Task]) -> str:
    """What is done, what is running, what to do next, what went wrong."""
    lines = _header(status, "Handover")
    ready = {b.id for b in status.ready}
    pending = _by(tasks, TaskStatus.PENDING)
    lines += _section("In progress", _by(tasks, TaskStatus.IN_PROGRESS), details=True)
    lines += _section("Ready to start", [t for t in pending if t.id in ready])
    lines += _section("Waiting on dependencies", [t for t in pending if t.id not in ready])
    lines += _section("Blocked", _by(tasks, TaskStatus.BLOCKED), details=True)
    lines += _section("Failed", _by(tasks, TaskStatus.FAILED), details=True)
    lines += _section("Completed", _by(tasks, TaskStatus.COMPLETED), details=True)
    next_actions = [t for t in tasks if t.next_action and t.status == TaskStatus.COMPLETED]
    if next_actions:
        lines += ["## Next actions", ""]
        lines += [f"- {t.next_action} (from `{t.id}`)" for t in next_actions]
        lines.append("")
    if not tasks:
        lines += ["No tasks yet.", ""]
    return "\n".join(lines)
