"""Rendering a validation report: JSON (the contract) and Markdown (for people).

:func:`report_data` is the JSON every adapter prints (CLI ``--json``, MCP
structured output, the stored artifact); :func:`write_report` stores the
report as ``<kind>-<version>.json`` / ``.md`` plus one ``.log`` per check
that produced output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from castoff.release.validate.model import CheckStatus, ValidationReport
from castoff.serialize import to_data

SYMBOL = {
    CheckStatus.PASS: "✅",
    CheckStatus.FAIL: "❌",
    CheckStatus.WARN: "⚠️",
    CheckStatus.SKIPPED: "⏭️",
}
_MD_OUTPUT_LINES = 40


def report_data(report: ValidationReport, *, include_output: bool = True) -> dict[str, Any]:
    """The report as JSON data: every field, plus ``ok`` and ``failed`` (ids)."""
    data: dict[str, Any] = to_data(report)
    data["ok"] = report.ok
    data["failed"] = [c.id for c in report.failures]
    if not include_output:
        for check in data["checks"]:
            check.pop("output", None)
    return data


def render_json(report: ValidationReport) -> str:
    """The JSON report, indented."""
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: ValidationReport) -> str:
    """A Markdown summary table, then the remediation and output tail of each problem."""
    title = "Pre-flight validation" if report.kind == "preflight" else "Post-deploy validation"
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
    lines = [
        f"# {title}: {report.version}" + (f" ({report.tag})" if report.tag else ""),
        "",
        f"**Result: {report.status.value.upper()}** — {counts or 'no checks configured'}; "
        f"{report.duration_seconds:.1f}s, started {report.started_at:%Y-%m-%d %H:%M:%S} UTC.",
        "",
        "| | Check | Status | Time | Message |",
        "|---|---|---|---:|---|",
    ]
    for c in report.checks:
        lines.append(
            f"| {SYMBOL[c.status]} | `{c.id}` {_cell(c.title)} | {c.status.value} | "
            f"{c.duration_seconds:.1f}s | {_cell(c.message)} |"
        )
    problems = [c for c in report.checks if c.status in (CheckStatus.FAIL, CheckStatus.WARN)]
    for c in problems:
        lines += ["", f"## {SYMBOL[c.status]} {c.id}: {c.message}"]
        if c.remediation:
            lines += ["", f"Fix: {c.remediation}"]
        if c.output.strip():
            out = c.output.rstrip().splitlines()[-_MD_OUTPUT_LINES:]
            lines += ["", "```text", *out, "```"]
    skipped_hints = [c for c in report.checks if c.status is CheckStatus.SKIPPED and c.remediation]
    if skipped_hints:
        lines += ["", "## Skipped checks", ""]
        lines += [f"- `{c.id}`: {c.message} — {c.remediation}" for c in skipped_hints]
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unversioned"


def write_report(report: ValidationReport, directory: Path) -> list[Path]:
    """Store the report (JSON, Markdown, one log per check with output); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{report.kind}-{_slug(report.version)}"
    written = []
    for suffix, text in ((".json", render_json(report)), (".md", render_markdown(report))):
        path = directory / f"{stem}{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for c in report.checks:
        if c.output.strip():
            path = directory / f"{stem}.{_slug(c.id)}.log"
            path.write_text(c.output, encoding="utf-8")
            written.append(path)
    return written
