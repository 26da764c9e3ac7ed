"""The Markdown report ``synthesize_results`` stores for a parent task (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from castoff.orchestrator.lifecycle import is_open
from castoff.orchestrator.models import Task


def synthesis_report(parent: Task, children: Sequence[Task]) -> str:
    """A parent's subtasks: status, summary, next action and artifacts of each."""
    done = sum(1 for c in children if c.status == "completed")
    lines = [
        f"# {parent.title}",
        "",
        f"Synthesis of {len(children)} subtask(s) of task `{parent.id}`: {done} completed.",
        "",
    ]
    if parent.description:
        lines += [parent.description.strip(), ""]
    for child in children:
        lines += [f"## {child.title}", "", f"- id: `{child.id}`", f"- status: {child.status}"]
        lines.append(f"- specialist: {child.specialist_type}")
        if child.summary:
            lines.append(f"- summary: {child.summary}")
        if child.next_action:
            lines.append(f"- next action: {child.next_action}")
        if child.error:
            lines.append(f"- note: {child.error}")
        for a in child.artifacts:
            where = f" ({a.path})" if a.path else ""
            lines.append(f"- artifact: {a.name}{where} [{a.artifact_type}] sha256 `{a.sha256}`")
        if child.detailed_work:
            lines += ["", child.detailed_work.strip()]
        lines.append("")
    open_children = [c for c in children if is_open(c.status)]
    if open_children:
        lines += ["## Still open", ""]
        lines += [f"- `{c.id}` {c.title} ({c.status})" for c in open_children]
        lines.append("")
    return "\n".join(lines)
