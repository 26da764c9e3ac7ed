"""What the templates show, shaped from orchestrator and release results.

Presentation only: the order of a task tree, how a duration, a time or a size
reads, and the release report's Markdown as HTML. Every value the templates
print is escaped by Jinja2's autoescape; :func:`markdown_html` is the one place
that hands them HTML, made by markdown-it with raw HTML disabled (so ``<tag>``
in the report is text) and its default link check (no ``javascript:`` links).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from castoff.serialize import to_data

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from castoff.orchestrator.models import Task

MAX_DEPTH = 8
"""Deeper tasks are indented as this depth (the stylesheet has a class per depth)."""


@dataclass(frozen=True)
class TreeRow:
    """One task of a task tree, at its depth below the page's top tasks."""

    task: Task
    depth: int
    lease_expired: bool
    duration: float | None


def tree_rows(tasks: list[Task], durations: dict[str, float], now: datetime) -> list[TreeRow]:
    """``tasks`` (oldest first) as a tree: each task followed by its children.

    A task whose parent is not among ``tasks`` (another page, or none) is a top task.
    """
    present = {t.id for t in tasks}
    children: dict[str | None, list[Task]] = defaultdict(list)
    for task in tasks:
        parent = task.parent_task_id if task.parent_task_id in present else None
        children[parent].append(task)
    rows: list[TreeRow] = []
    stack = [(task, 0) for task in reversed(children[None])]
    while stack:
        task, depth = stack.pop()
        rows.append(TreeRow(task, depth, lease_expired(task, now), durations.get(task.id)))
        stack.extend((child, depth + 1) for child in reversed(children[task.id]))
    return rows


def lease_expired(task: Task, now: datetime) -> bool:
    """In progress under a lease that has run out (its holder is probably gone)."""
    return (
        task.status == "in_progress"
        and task.lease_expires_at is not None
        and task.lease_expires_at < now
    )


def depth_class(depth: int) -> str:
    """The stylesheet's indentation class for a tree depth."""
    return f"depth-{min(depth, MAX_DEPTH)}"


def duration(seconds: float | None) -> str:
    """``0.11 s``, ``42 s``, ``3 min 5 s``, ``2 h 7 min``; empty for None."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def when(value: datetime | str | None) -> str:
    """A UTC timestamp to the second (``2026-05-01 10:00:00 UTC``); empty for None."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def size(count: int) -> str:
    """A byte count for people: ``512 B``, ``4.2 KB``, ``1.3 MB``."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


def pretty_json(value: Any) -> str:
    """Indented JSON of any result value (as the CLI's ``--json`` spells it)."""
    return json.dumps(to_data(value), indent=2, ensure_ascii=False)


def compact_json(value: Any) -> str:
    """One-line JSON (event data)."""
    return json.dumps(to_data(value), ensure_ascii=False, separators=(", ", ": "))


def percent(fraction: float) -> str:
    """``0.4286`` as ``43 %``."""
    return f"{round(fraction * 100)} %"


def markdown_html(text: str) -> Markup:
    """The Markdown ``text`` as HTML: CommonMark plus tables, raw HTML shown as text."""
    return Markup(_markdown().render(text))  # markdown-it escapes: raw HTML is off


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


FILTERS = {
    "duration": duration,
    "when": when,
    "size": size,
    "pretty_json": pretty_json,
    "compact_json": compact_json,
    "percent": percent,
    "depth_class": depth_class,
}
