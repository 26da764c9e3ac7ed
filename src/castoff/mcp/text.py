"""One readable line per tool result; the JSON of the result follows it.

Agents whose client shows only text content still get every field (the JSON);
the line in front says what happened in words.
"""

from __future__ import annotations

from typing import Any

from castoff.orchestrator import models as m


def _task(task: m.Task) -> str:
    return f"task {task.id} {task.title!r} is {task.status.value}"


def describe(result: Any) -> str:
    """A one-line summary of a tool result."""
    match result:
        case m.Task():
            return _task(result)
        case m.ExecutionContext():
            return (
                f"claimed {_task(result.task)} as {result.role.title}; "
                f"{len(result.dependency_artifacts)} dependency artifact(s)"
            )
        case m.TaskPage():
            return f"{len(result.tasks)} of {result.total} task(s) (offset {result.offset})"
        case m.Status():
            counts = ", ".join(f"{n} {s}" for s, n in result.counts.items() if n) or "no tasks"
            return f"session {result.session.name}: {counts}; {result.progress:.0%} done"
        case m.Session():
            return f"session {result.id} at {result.working_directory} ({result.status})"
        case m.CancelResult():
            return f"cancelled {len(result.cancelled)} task(s)"
        case m.DeleteResult():
            return f"deleted {len(result.deleted)} and archived {len(result.archived)} task(s)"
        case m.CleanupResult():
            verb = "would remove" if result.dry_run else "removed"
            return f"{verb} {len(result.sessions)} session(s)"
        case m.SynthesisResult():
            return f"synthesized {len(result.children)} child task(s) of {result.parent_task_id}"
        case m.HealthReport():
            return (
                "healthy"
                if result.healthy
                else "unhealthy: "
                + ", ".join(f"{k}={v}" for k, v in result.checks.items() if v != "ok")
            )
        case m.MaintenanceReport():
            return f"{result.action}: {len(result.findings)} finding(s), {result.fixed} fixed"
        case m.RestartStatus():
            return (
                f"recovered {len(result.reclaimed)} lease(s), {len(result.interrupted)} interrupted"
            )
    if isinstance(result, dict):
        return str(result.get("summary") or "done")
    return getattr(result, "summary_line", None) or type(result).__name__
