"""Rendering and storing validation reports."""

from __future__ import annotations

import dataclasses
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
    assert stored["artifacts"] == [str(p) for p in paths]


def test_a_later_run_removes_the_logs_of_the_earlier_one(tmp_path: Path) -> None:
    """Re-running with fewer checks leaves no stale log beside the new report."""
    directory = tmp_path / "validate"
    write_report(_report(), directory)
    only_tests = run_report(
        "preflight",
        [Check("tests", "Test command", lambda: Outcome.passed("ok"))],
        version="1.2.0",
        tag="v1.2.0",
        concurrency=1,
    )
    paths = write_report(only_tests, directory)
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in paths)
    assert sorted(p.name for p in paths) == ["preflight-1.2.0.json", "preflight-1.2.0.md"]


def test_other_versions_logs_are_kept(tmp_path: Path) -> None:
    """Only the logs of the same kind and version are replaced (1.2.0.1 is another report)."""
    directory = tmp_path / "validate"
    other = run_report(
        "preflight",
        [Check("build", "Build", lambda: Outcome.passed("b", output="x\n"))],
        version="1.2.0.1",
        tag=None,
        concurrency=1,
    )
    write_report(other, directory)
    write_report(_report(), directory)
    write_report(dataclasses.replace(_report(), checks=()), directory)
    assert (directory / "preflight-1.2.0.1.build.log").is_file()
    assert not (directory / "preflight-1.2.0.build.log").exists()


def test_ok_failed_and_artifacts_are_fields_every_adapter_serializes() -> None:
    """ok and failed are dataclass fields (not properties), so pydantic (MCP) sees them too."""
    from pydantic import TypeAdapter

    report = _report()
    data = TypeAdapter(ValidationReport).dump_python(report, mode="json")
    assert (data["ok"], data["failed"], data["artifacts"]) == (False, ["tests"], [])
    assert report_data(report)["failed"] == ["tests"]
    fixed = dataclasses.replace(report, checks=report.checks[:1], status=report.checks[0].status)
    assert (fixed.ok, fixed.failed) == (True, ())
