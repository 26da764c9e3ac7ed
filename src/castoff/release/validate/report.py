"""Rendering a validation report: JSON (the contract) and Markdown (for people).

:func:`report_data` is the JSON every adapter prints (CLI ``--json``, MCP
structured output, the stored artifact); :func:`write_report` stores the
report as ``<kind>-<version>.json`` / ``.md`` (``<kind>-<package>-<version>``
for a monorepo package) plus one ``.log`` per check that produced output,
replacing the earlier report of that kind and version (its logs included).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
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
    """The report as JSON data: every field, ``ok``, ``failed`` and ``artifacts`` included."""
    data: dict[str, Any] = to_data(report)
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


def _stem(report: ValidationReport) -> str:
    """``<kind>-<version>``; ``<kind>-<package>-<version>`` for a monorepo package."""
    package = f"{_slug(report.package)}-" if report.package else ""
    return f"{report.kind}-{package}{_slug(report.version)}"


def report_paths(report: ValidationReport, directory: Path) -> list[Path]:
    """Where :func:`write_report` stores ``report``: JSON, Markdown, then one log per check."""
    stem = _stem(report)
    paths = [directory / f"{stem}.json", directory / f"{stem}.md"]
    paths += [directory / f"{stem}.{_slug(c.id)}.log" for c in report.checks if c.output.strip()]
    return paths


def _previous_logs(directory: Path, stem: str, check_ids: set[str]) -> set[Path]:
    """The check logs an earlier report of the same kind and version may have left."""
    ids = set(check_ids)
    names: set[str] = set()
    try:
        previous = json.loads((directory / f"{stem}.json").read_text(encoding="utf-8"))
        ids |= {str(c["id"]) for c in previous.get("checks", ())}
        names = {Path(str(a)).name for a in previous.get("artifacts", ())}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # no earlier report (or an unreadable one): this run's ids are enough
    logs = {directory / f"{stem}.{_slug(i)}.log" for i in ids}
    logs |= {directory / n for n in names if n.startswith(f"{stem}.") and n.endswith(".log")}
    return logs


def write_report(report: ValidationReport, directory: Path) -> list[Path]:
    """Store the report (JSON, Markdown, one log per check with output); return the paths.

    The run replaces the earlier report of the same kind and version entirely:
    the logs that report left (a check that ran then but not now, or printed
    nothing now) are removed first, so the directory never mixes two runs. The
    stored JSON lists the stored files in ``artifacts``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = _stem(report)
    paths = report_paths(report, directory)
    for stale in _previous_logs(directory, stem, {c.id for c in report.checks}) - set(paths):
        stale.unlink(missing_ok=True)
    stored = replace(report, artifacts=tuple(str(p) for p in paths))
    paths[0].write_text(render_json(stored), encoding="utf-8")
    paths[1].write_text(render_markdown(stored), encoding="utf-8")
    logs = iter(paths[2:])
    for c in report.checks:
        if c.output.strip():
            next(logs).write_text(c.output, encoding="utf-8")
    return paths
