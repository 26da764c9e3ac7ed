"""`castoff worker`: ready steps run from the store, each exactly once, N at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from workflow_sample import assert_released_once, castoff, events, release_tasks

from castoff.config import load_config
from castoff.orchestrator.service import Orchestrator
from castoff.release.workflow import graph
from castoff.release.workflow.contract import ReleasePlan
from castoff.release.workflow.decision import ReleaseOptions, decide
from castoff.release.workflow.worker import work


def _plan_only(repo: Path) -> str:
    """Plan the release graph without running a step; the root task id."""
    plan = decide(repo, load_config(repo), ReleaseOptions())
    assert isinstance(plan, ReleasePlan)
    with Orchestrator.open(repo, actor="test") as orch:
        return graph.plan_release(orch, plan)[0].id


def test_worker_runs_every_step_but_the_tag_without_yes(light_repo: Path) -> None:
    """Without --yes a worker runs the graph up to the tag and leaves the tag alone."""
    _plan_only(light_repo)
    report = work(light_repo, concurrency=2, once=True)
    assert report.exit_code == 0
    state = release_tasks(light_repo)
    assert {k for k, t in state.steps.items() if t.status != "completed"} == {"tag"}
    assert (
        "v2.0.0"
        not in subprocess.run(
            ["git", "tag"], cwd=light_repo, capture_output=True, text=True, check=True
        ).stdout
    )


def test_two_workers_finish_the_release_each_step_once(light_repo: Path) -> None:
    """Two worker processes share one release: every step is claimed and run exactly once."""
    _plan_only(light_repo)
    argv = [sys.executable, "-m", "castoff", "worker", "--once", "--yes", "-n", "2", "--json"]
    procs = [
        subprocess.Popen(
            [*argv, "-C", str(light_repo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    ran = Counter(task for r in reports for task in r["ran"])
    assert all(count == 1 for count in ran.values()), ran
    state = assert_released_once(light_repo)
    for key, task in state.steps.items():
        claims = [e for e in events(light_repo, task.id) if e.kind == "task.in_progress"]
        assert len(claims) == 1, (key, claims)


def test_worker_resumes_a_step_whose_worker_was_killed(light_repo: Path) -> None:
    """A worker killed inside a step leaves a lease that the next worker reclaims."""
    _plan_only(light_repo)
    killed = castoff(
        "worker",
        "--once",
        "--yes",
        "-C",
        str(light_repo),
        env={"CASTOFF_CRASH_AT": "validate:inside"},
    )
    assert killed.returncode == -9
    finished = castoff("worker", "--once", "--yes", "-C", str(light_repo))
    assert finished.returncode == 0, finished.stderr
    assert_released_once(light_repo)


def test_worker_with_nothing_to_do_exits_quietly(light_repo: Path) -> None:
    """`castoff worker --once` without an open release does nothing and succeeds."""
    out = castoff("worker", "--once", "--json", "-C", str(light_repo))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"ran": [], "failed": {}, "finished_releases": []}
