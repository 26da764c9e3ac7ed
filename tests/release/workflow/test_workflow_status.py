"""`castoff release status`: each step's state, duration and artifacts (Rich tree or JSON)."""

from __future__ import annotations

from pathlib import Path

from workflow_sample import DEFAULT_STEPS, TAG, Run, castoff, castoff_json, prepare


def test_status_json_lists_every_step(released: tuple[Path, Run]) -> None:
    """--json: outcome released; each step completed with a duration and its artifacts."""
    repo, run = released
    out = castoff_json("release", "status", "-C", str(repo))
    assert out.code == 0, out.stderr
    assert out.data["outcome"] == "released"
    assert out.data["root_task_id"] == run.data["root_task_id"]
    assert [s["key"] for s in out.data["steps"]] == list(DEFAULT_STEPS)
    for step in out.data["steps"]:
        assert step["status"] == "completed"
        assert step["duration_seconds"] is not None
        assert step["duration_seconds"] >= 0
        assert "result.json" in {a["name"] for a in step["artifacts"]}
        assert all(len(a["sha256"]) == 64 for a in step["artifacts"])


def test_status_tree_shows_states_and_artifacts(released: tuple[Path, Run]) -> None:
    """The human view is a tree: a mark and status per step, its artifacts, the outcome."""
    repo, _ = released
    out = castoff("release", "status", "-C", str(repo))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Release {TAG}")
    assert out.stdout.count("✓") == len(DEFAULT_STEPS)
    assert "(completed)" in out.stdout
    for name in ("notes.md", "release-commit.diff", "preflight.md", "slack.json"):
        assert name in out.stdout
    assert "released: released v2.0.0" in out.stdout


def test_status_of_a_stopped_release(light_repo: Path) -> None:
    """A release stopped before the tag shows the tag pending and the outcome partial."""
    assert prepare(light_repo).code == 4
    out = castoff_json("release", "status", "-C", str(light_repo))
    assert out.code == 0
    assert out.data["outcome"] == "partial"
    states = {s["key"]: s for s in out.data["steps"]}
    assert states["tag"]["status"] == "pending"
    assert states["tag"]["duration_seconds"] is None
    assert out.data["remaining"] == ["tag"]


def test_status_without_a_release(light_repo: Path) -> None:
    """No release prepared yet: one clear line, exit 2."""
    out = castoff("release", "status", "-C", str(light_repo))
    assert out.returncode == 2
    assert "no release has been prepared here yet" in out.stderr
