"""Deployment validation: pre-flight gates before tagging, checks after deploying.

::

    run_preflight(root, config, *, version, tag, on_progress=None, checks=None, skip=())
    run_postdeploy(config, *, version, on_progress=None, checks=None, skip=())
        -> ValidationReport            # never raises for a failing check

Modules: ``model`` (report types), ``settings`` (``[tool.castoff.validate]``),
``commands`` (subprocess with timeouts), ``runner`` (concurrency),
``preflight`` / ``package`` / ``smoke`` / ``postdeploy`` (the checks),
``report`` (JSON and Markdown), ``api`` (what the CLI and MCP call: default
version, run, store the report).
"""

from __future__ import annotations

from castoff.release.validate.model import (
    CheckResult,
    CheckStatus,
    ProgressCallback,
    ValidationReport,
)
from castoff.release.validate.postdeploy import run_postdeploy
from castoff.release.validate.preflight import PREFLIGHT_CHECKS, run_preflight
from castoff.release.validate.report import (
    render_json,
    render_markdown,
    report_data,
    write_report,
)

__all__ = [
    "PREFLIGHT_CHECKS",
    "CheckResult",
    "CheckStatus",
    "ProgressCallback",
    "ValidationReport",
    "render_json",
    "render_markdown",
    "report_data",
    "run_postdeploy",
    "run_preflight",
    "write_report",
]
