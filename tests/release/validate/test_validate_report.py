"""Rendering and storing validation reports."""

from __future__ import annotations

import json
from pathlib import Path

from castoff.release.validate.model import Check, Outcome, ValidationReport
from castoff.release.validate.report import render_markdown, report_data, write_report
from castoff.release.validate.runner import run_report


def _report() -> ValidationReport:
    checks = [
        Check("build", "Build", lambda: Outcome.passed("built x.whl", output="building...\nok\n")),
        Check(
            "tests",
            "Test command",
            lambda: Outcome.failed(
                "`pytest` exited with 1", "fix the tests", output="E  boom | x\n"
            ),
        ),
        Check("upstream", "Upstream", lambda: Outcome.skipped("no upstream", "git push -u")),
    ]
    return run_report("preflight", checks, version="1.2.0", tag="v1.2.0", concurrency=2)


def test_json_data_has_the_contract_fields() -> None:
    """kind, version, tag, status, ok, failed, counts and per-check fields are present."""
    data = report_data(_report())
    assert {"kind", "version", "tag", "status", "ok", "failed", "counts", "checks"} <= set(data)
    assert data["status"] == "fail"
    assert data["failed"] == ["tests"]
    assert set(data["checks"][1]) == {
        "id", "title", "status", "duration_seconds", "message", "remediation", "output", "details",
    }  # fmt: skip


def test_json_can_leave_outputs_out() -> None:
    """include_output=False drops the (possibly long) outputs."""
    data = report_data(_report(), include_output=False)
    assert "output" not in data["checks"][0]


def test_markdown_lists_checks_and_explains_failures() -> None:
    """The table has one row per check; a failure shows its fix and its output."""
    md = render_markdown(_report())
    assert md.startswith("# Pre-flight validation: 1.2.0 (v1.2.0)")
    assert "| ❌ | `tests` Test command | fail |" in md
    assert "Fix: fix the tests" in md
    assert "E  boom | x" in md
    assert "- `upstream`: no upstream — git push -u" in md


def test_write_report_stores_json_markdown_and_logs(tmp_path: Path) -> None:
    """JSON, Markdown and one log per check with output are written."""
    paths = write_report(_report(), tmp_path / "validate")
    names = sorted(p.name for p in paths)
    assert names == [
        "preflight-1.2.0.build.log",
        "preflight-1.2.0.json",
        "preflight-1.2.0.md",
        "preflight-1.2.0.tests.log",
    ]
    stored = json.loads((tmp_path / "validate" / "preflight-1.2.0.json").read_text())
    assert stored["version"] == "1.2.0"
