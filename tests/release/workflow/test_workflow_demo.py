"""`castoff demo`: the sample repository released for real (build, twine, smoke install)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from workflow_sample import TAG, assert_released_once, castoff, castoff_json

from castoff.orchestrator.service import Orchestrator


@pytest.mark.slow
def test_demo_releases_the_sample_repository(tmp_path: Path) -> None:
    """`castoff demo --json --directory D` ends released, exit 0, within 60 s, fully built."""
    started = time.monotonic()
    run = castoff_json("demo", "--directory", str(tmp_path))
    took = time.monotonic() - started
    assert run.code == 0, (run.data.get("message"), run.stderr[-2000:])
    assert run.data["outcome"] == "released"
    assert run.data["tag"] == TAG
    assert took < 60, f"castoff demo took {took:.1f} s"
    repo = tmp_path / "skyline"
    validate = assert_released_once(repo).steps["validate"]
    sha = next(a.sha256 for a in validate.artifacts if a.name == "preflight.json")
    with Orchestrator.open(repo, actor="test") as orch:
        checks = {c["id"]: c["status"] for c in json.loads(orch.read_artifact(sha))["checks"]}
    assert checks["build"] == "pass"
    assert checks["smoke"] == "pass"


def test_demo_refuses_an_existing_sample(tmp_path: Path) -> None:
    """A --directory already holding a non-empty skyline/ is bad input, exit 2, untouched."""
    (tmp_path / "skyline").mkdir()
    (tmp_path / "skyline" / "mine.txt").write_text("mine\n")
    out = castoff("demo", "--directory", str(tmp_path))
    assert out.returncode == 2
    assert "already exists and is not empty" in out.stderr
    assert sorted(p.name for p in (tmp_path / "skyline").iterdir()) == ["mine.txt"]
