"""`castoff validate preflight|postdeploy` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from validate_sample import write_sample

QUICK = "build = false"


@pytest.fixture
def sample(tmp_path: Any) -> Any:
    """The sample project with building turned off (the CLI paths, not the build)."""
    return write_sample(tmp_path / "sample", validate=QUICK)


def test_preflight_json_passes_and_stores_the_report(run_castoff: Any, sample: Any) -> None:
    """--json prints the report, exit 0, and the report lands in .castoff/validate."""
    out = run_castoff("validate", "preflight", "--version", "1.2.0", "--json", cwd=sample)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "pass"
    assert data["tag"] == "v1.2.0"
    assert (sample / ".castoff" / "validate" / "preflight-1.2.0.md").is_file()


def test_stored_report_does_not_dirty_the_tree(run_castoff: Any, sample: Any) -> None:
    """A second run still finds the tree clean (the state dir ignores itself)."""
    run_castoff("validate", "preflight", "--version", "1.2.0", "--json", cwd=sample)
    out = run_castoff("validate", "preflight", "--version", "1.2.0", "--json", cwd=sample)
    assert json.loads(out.stdout)["checks"][0]["status"] == "pass"


def test_preflight_failure_exits_1_with_one_line(run_castoff: Any, sample: Any) -> None:
    """A version the files do not hold fails: exit 1, one stderr line naming the checks."""
    out = run_castoff("validate", "preflight", "--version", "9.0.0", cwd=sample)
    assert out.returncode == 1
    assert out.stderr.strip() == ("castoff: preflight validation failed: version-files, changelog")
    assert "version-files" in out.stdout


def test_check_selects_and_skip_skips(run_castoff: Any, sample: Any) -> None:
    """--check limits the run; --skip reports a check as skipped."""
    out = run_castoff(
        "validate", "preflight", "--version", "1.2.0", "--json",
        "--check", "tests", "--check", "branch", "--skip", "branch", cwd=sample,
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert [(c["id"], c["status"]) for c in data["checks"]] == [
        ("branch", "skipped"),
        ("tests", "pass"),
    ]


def test_unknown_check_is_bad_input(run_castoff: Any, sample: Any) -> None:
    """An unknown --check id exits 2 with the known ids."""
    out = run_castoff("validate", "preflight", "--version", "1.2.0", "--check", "nope", cwd=sample)
    assert out.returncode == 2
    assert "unknown check(s): nope" in out.stderr


def test_postdeploy_checks_a_loopback_health_endpoint(
    run_castoff: Any, tmp_path: Any, serve: Callable[..., Any]
) -> None:
    """postdeploy polls the configured endpoint; a wrong version exits 1."""
    base, _ = serve(lambda path, n: (200, {"version": "1.2.0"}))
    health = f'health = [{{ id = "api", url = "{base}/health", deadline_seconds = 1 }}]'
    root = write_sample(tmp_path / "svc", validate=health)
    ok = run_castoff("validate", "postdeploy", "--version", "1.2.0", "--json", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["checks"][0]["id"] == "health.api"
    bad = run_castoff("validate", "postdeploy", "--version", "1.3.0", cwd=root)
    assert bad.returncode == 1
    assert "expected 1.3.0" in bad.stdout


def test_postdeploy_without_checks_says_so(run_castoff: Any, sample: Any) -> None:
    """Nothing configured: a plain sentence and exit 0."""
    out = run_castoff("validate", "postdeploy", "--version", "1.2.0", cwd=sample)
    assert out.returncode == 0
    assert "no post-deploy checks are configured" in out.stdout


def test_postdeploy_with_no_tag_and_nothing_configured_says_so(
    run_castoff: Any, sample: Any
) -> None:
    """No release tag and no checks: still the plain sentence and exit 0 (not exit 2)."""
    out = run_castoff("validate", "postdeploy", cwd=sample)
    assert out.returncode == 0, out.stderr
    assert "no post-deploy checks are configured" in out.stdout


def test_status_only_health_check_from_the_config(
    run_castoff: Any, tmp_path: Any, serve: Callable[..., Any]
) -> None:
    """version_field = "" is accepted: only the status code is checked."""
    base, _ = serve(lambda path, n: (204, None))
    health = (
        f'health = [{{ id = "api", url = "{base}/", expect_status = 204, version_field = "" }}]'
    )
    root = write_sample(tmp_path / "svc", validate=health)
    out = run_castoff("validate", "postdeploy", "--version", "1.2.0", "--json", cwd=root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["ok"], data["failed"], data["checks"][0]["status"]) == (True, [], "pass")
    assert data["artifacts"][0].endswith("postdeploy-1.2.0.json")


def test_human_output_shows_brackets_verbatim(run_castoff: Any, tmp_path: Any) -> None:
    """Text in square brackets is printed as is, never taken for Rich markup."""
    check = 'checks = [{ id = "m", command = "false [b]x[/b]" }]'
    root = write_sample(tmp_path / "m", validate=f"{QUICK}\n{check}")
    out = run_castoff(
        "validate", "preflight", "--version", "1.2.0", "--check", "custom.m", cwd=root
    )
    assert out.returncode == 1
    assert "false [b]x[/b]" in out.stdout
