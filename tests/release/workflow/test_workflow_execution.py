"""Stepping a release: each step claimed with the completion of the one before."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_sample import DEFAULT_STEPS, assert_released_once, events, release_tasks

from castoff.orchestrator.service import Orchestrator
from castoff.release.workflow.decision import ReleaseOptions
from castoff.release.workflow.runner import prepare, resume


def test_the_runner_claims_each_next_step_as_it_completes_one(
    light_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the first step, the tag (it waits for its checks) and the root are claimed
    by execute_task; the others are claimed by complete_and_claim. Every step runs
    once (one attempt) with the usual events."""
    executed: list[str] = []
    real = Orchestrator.execute_task

    def spy(self: Orchestrator, task_id: str, **kwargs: object) -> object:
        executed.append(task_id)
        return real(self, task_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Orchestrator, "execute_task", spy)
    outcome = prepare(light_repo, ReleaseOptions(yes=True))
    assert outcome.outcome == "released", outcome.message
    state = assert_released_once(light_repo)
    assert executed == [state.steps["version"].id, state.steps["tag"].id, state.root.id]
    for key, task in state.steps.items():
        assert task.attempts == 1, key
        kinds = [e.kind for e in events(light_repo, task.id)]
        assert kinds == ["task.planned", "task.in_progress", "task.completed"], (key, kinds)


def test_a_run_stopped_between_steps_gives_the_claimed_step_back(light_repo: Path) -> None:
    """The caller stops the run right after the first step completed: the step claimed
    with it is pending again, without a lease, and resume finishes the release."""
    first, second = DEFAULT_STEPS[0], DEFAULT_STEPS[1]

    def stop_after_first(done: int, _total: int, _message: str) -> None:
        if done == 1:
            raise KeyboardInterrupt  # (any exception from the callback stops the run)

    outcome = prepare(light_repo, ReleaseOptions(yes=True), on_progress=stop_after_first)
    assert (outcome.outcome, outcome.exit_code) == ("partial", 4), outcome.message
    state = release_tasks(light_repo)
    assert state.steps[first].status == "completed"
    given_back = state.steps[second]
    assert (given_back.status, given_back.lease_owner) == ("pending", None)
    kinds = [e.kind for e in events(light_repo, given_back.id)]
    assert kinds[-4:] == [
        "task.in_progress",
        "release.step_cancelled",
        "task.updated",
        "task.pending",
    ]
    again = resume(light_repo, yes=True)
    assert again.outcome == "released", again.message
    assert_released_once(light_repo)
