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
    return _release(result)


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _release(result: Any) -> str:
    """The line of a release component's result (its types are imported only when used)."""
    from castoff.release.announce.delivery import SendReport
    from castoff.release.announce.service import DraftResult
    from castoff.release.model import ReleaseNotes
    from castoff.release.next_version import NextVersion
    from castoff.release.rollback.execute import RollbackRun
    from castoff.release.rollback.model import RollbackPlan
    from castoff.release.tagging import TagResult
    from castoff.release.validate.model import ValidationReport
    from castoff.release.workflow.outcome import ReleaseOutcome

    match result:
        case ReleaseOutcome():
            return result.message + (f"; next: {result.next_action}" if result.next_action else "")
        case NextVersion():
            return _next_version(result)
        case TagResult():
            return _tag(result)
        case ValidationReport():
            failed = [c.id for c in result.checks if c.failed]
            counts = ", ".join(f"{n} {s}" for s, n in result.counts.items() if n) or "no checks"
            line = f"{result.kind} {result.status.value} for {result.version}: {counts}"
            return line + (f" (failed: {', '.join(failed)})" if failed else "")
        case RollbackPlan():
            target = result.previous_tag or "before the first release"
            verified = "" if result.verification is None else f", {result.verification.status}"
            steps, risks = _plural(len(result.steps), "step"), _plural(len(result.risks), "risk")
            return f"rollback plan {result.new_tag} -> {target}: {steps}, {risks}{verified}"
        case RollbackRun():
            return f"rollback to {result.to_tag}: {result.status}: {result.message}"
        case DraftResult():
            return f"{_plural(len(result.drafts), 'draft')} for {result.version}: " + ", ".join(
                result.drafts
            )
        case SendReport():
            sent = ", ".join(f"{r.channel} {r.status}" for r in result.results) or "no channels"
            return f"{'dry run: ' if result.dry_run else ''}announce {result.tag}: {sent}"
        case {"notes": ReleaseNotes() as notes, "changelog_updated": bool(updated)}:
            return _notes(notes) + ("; CHANGELOG updated" if updated else "")
        case {"sessions": list(sessions)}:
            return _plural(len(sessions), "session")
    return type(result).__name__


_KINDS = {
    "feat": ("feature", "features"),
    "fix": ("fix", "fixes"),
    "perf": ("performance fix", "performance fixes"),
}


def _next_version(nxt: Any) -> str:
    if nxt.no_release:
        return f"nothing to release: {nxt.message}"
    breaking = sum(1 for c in nxt.reasons if c.breaking)
    if breaking:
        why = _plural(breaking, "breaking change")
    elif nxt.reasons:
        kinds: dict[str, int] = {}
        for change in nxt.reasons:
            kinds[change.type] = kinds.get(change.type, 0) + 1
        why = ", ".join(_plural(n, *_KINDS.get(kind, (kind, kind))) for kind, n in kinds.items())
    else:
        why = "as asked"
    since = f"from {nxt.current}" if nxt.current else "(first release)"
    return f"next version {nxt.next} ({nxt.bump}: {why}) {since}"


def _tag(tag: Any) -> str:
    pushed = ", pushed" if tag.pushed else ""
    match tag.status:
        case "tagged":
            at = f" at {tag.commit[:7]}" if tag.commit else ""
            return f"released {tag.tag}{at}{pushed}"
        case "dry run":
            return f"dry run: would tag {tag.tag} and change {_plural(len(tag.files), 'file')}"
        case "already tagged":
            return f"{tag.tag} is already tagged{pushed}"
    return str(tag.status)


def _notes(notes: Any) -> str:
    groups = [g for g in notes.groups if g.entries]
    entries = sum(len(g.entries) for g in groups)
    line = f"{_plural(entries, 'entry', 'entries')} in {_plural(len(groups), 'group')}"
    if notes.breaking:
        line += f", {len(notes.breaking)} breaking"
    return f"{notes.version or 'Unreleased'}: {line}"
