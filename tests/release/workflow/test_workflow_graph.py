"""`castoff release prepare --yes`: the task graph, its execution and its report."""

from __future__ import annotations

import json
from pathlib import Path

from workflow_sample import (
    DEFAULT_STEPS,
    TAG,
    Run,
    assert_released_once,
    castoff_json,
    events,
    release_tasks,
)

from castoff.orchestrator.service import Orchestrator
from castoff.release.workflow.steps import release_steps


def test_prepare_releases_once(released: tuple[Path, Run]) -> None:
    """A full prepare --yes ends released, exit 0: one commit, one tag, one section."""
    repo, run = released
    assert run.data["outcome"] == "released"
    assert run.data["tag"] == TAG
    assert run.data["remaining"] == []
    assert_released_once(repo)


def test_root_task_is_a_coordinated_deployment(released: tuple[Path, Run]) -> None:
    """The root task is "Release vX.Y.Z", a deployment led by the coordinator."""
    repo, run = released
    root = release_tasks(repo).root
    assert root.title == f"Release {TAG}"
    assert (root.task_type, root.specialist_type) == ("deployment", "coordinator")
    assert root.id == run.data["root_task_id"]


def test_subtasks_and_dependencies_follow_steps(released: tuple[Path, Run]) -> None:
    """One subtask per default step, with the dependencies of steps.py; no push/announce."""
    repo, _ = released
    state = release_tasks(repo)
    assert tuple(state.steps) == DEFAULT_STEPS
    key_of = {t.id: k for k, t in state.steps.items()}
    for spec in release_steps(push=False, announce=False, agent=False):
        task = state.steps[spec.key]
        assert task.parent_task_id == state.root.id
        assert (task.title, task.specialist_type, task.task_type) == (
            spec.title,
            spec.specialist,
            spec.task_type,
        )
        assert sorted(key_of[d] for d in task.dependencies) == sorted(spec.depends_on)


def test_each_step_claimed_and_completed_once(released: tuple[Path, Run]) -> None:
    """Every step was claimed with a lease (one attempt) and completed, both as events."""
    repo, _ = released
    for key, task in release_tasks(repo).steps.items():
        kinds = [e.kind for e in events(repo, task.id)]
        assert kinds.count("task.in_progress") == 1, (key, kinds)
        assert kinds.count("task.completed") == 1, (key, kinds)
        assert kinds.index("task.in_progress") < kinds.index("task.completed")
        claim = next(e for e in events(repo, task.id) if e.kind == "task.in_progress")
        assert str(claim.data["worker"]).startswith("release:"), claim.data
        assert task.attempts == 1
        assert task.lease_owner is None


def test_step_artifacts_are_stored(released: tuple[Path, Run]) -> None:
    """Each step's documents are stored as artifacts, readable by sha256."""
    repo, _ = released
    steps = release_tasks(repo).steps
    expected = {
        "notes": {"notes.md", "release-body.md", "notes.json"},
        "release_commit": {"release-commit.diff"},
        "validate": {"preflight.md", "preflight.json"},
        "rollback": {f"rollback-plan-{TAG}.md", f"rollback-plan-{TAG}.json"},
        "announce_draft": {"slack.json", "email.txt", "github.md"},
    }
    with Orchestrator.open(repo, actor="test") as orch:
        for key, names in expected.items():
            stored = {a.name: a.sha256 for a in steps[key].artifacts}
            assert names <= set(stored), (key, sorted(stored))
        diff = orch.read_artifact(
            next(a.sha256 for a in steps["release_commit"].artifacts if a.name.endswith(".diff"))
        ).decode()
        result = json.loads(
            orch.read_artifact(
                next(a.sha256 for a in steps["tag"].artifacts if a.name == "result.json")
            )
        )
    assert '+version = "2.0.0"' in diff
    assert result["tag"] == TAG
    assert result["created"] is True


def test_root_ends_with_synthesis_and_report(released: tuple[Path, Run]) -> None:
    """The root is synthesized, gets release-report.md/.json, then completes."""
    repo, run = released
    root = release_tasks(repo).root
    kinds = [e.kind for e in events(repo, root.id)]
    assert kinds.index("task.synthesized") < kinds.index("task.completed")
    assert root.summary == f"released: {TAG}"
    names = {a.name: a.sha256 for a in root.artifacts}
    assert {"synthesis.md", "release-report.md", "release-report.json"} <= set(names)
    assert run.data["report"]["release-report.json"] == names["release-report.json"]
    with Orchestrator.open(repo, actor="test") as orch:
        report = json.loads(orch.read_artifact(names["release-report.json"]))
        markdown = orch.read_artifact(names["release-report.md"]).decode()
    assert report["outcome"] == "released"
    assert report["version"] == "2.0.0"
    assert [s["key"] for s in report["steps"]] == list(DEFAULT_STEPS)
    assert report["validation"]["ok"] is True
    assert markdown.startswith(f"# Release {TAG}")


def test_query_tasks_cli_shows_the_graph(released: tuple[Path, Run]) -> None:
    """`castoff orchestrator query-tasks --json` lists the root and its completed subtasks."""
    repo, run = released
    out = castoff_json(
        "orchestrator", "query-tasks", "-C", str(repo), "--parent-task-id", run.data["root_task_id"]
    )
    assert out.code == 0, out.stderr
    tasks = out.data["tasks"]
    assert [t["context"]["step"] for t in tasks] == list(DEFAULT_STEPS)
    assert {t["status"] for t in tasks} == {"completed"}


def test_push_and_announce_steps_only_when_asked() -> None:
    """push follows the tag and announce_send the push; neither exists by default."""
    keys = [s.key for s in release_steps(push=False, announce=False, agent=False)]
    assert keys == list(DEFAULT_STEPS)
    full = {s.key: s for s in release_steps(push=True, announce=True, agent=False)}
    assert full["push"].depends_on == ("tag",)
    assert full["announce_send"].depends_on == ("push",)
    alone = {s.key: s for s in release_steps(push=False, announce=True, agent=False)}
    assert alone["announce_send"].depends_on == ("tag",)
    assert set(full["tag"].depends_on) == {"validate", "rollback", "announce_draft"}
