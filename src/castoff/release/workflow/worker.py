"""``castoff worker``: run the ready steps of the open release, N at a time.

Several workers (processes or machines sharing one PostgreSQL store, each in
a checkout of the repository) can serve the same release: a step is claimed
with a lease, so exactly one worker runs it; a worker that dies leaves a
lease that expires (or, on the same host, is reclaimed at once) and the step
runs again elsewhere. Independent steps (validation, rollback verification,
announcement drafts) run concurrently. A worker never tags unless started
with ``--yes``, and never runs the agent steps (they are for MCP clients).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from castoff.config import load_config
from castoff.errors import CastoffError, InvalidTransition, LeaseConflict, UsageError
from castoff.orchestrator.core import process_worker
from castoff.release.workflow import graph
from castoff.release.workflow.execution import Heartbeat, StepRunner
from castoff.release.workflow.outcome import finish
from castoff.release.workflow.scratch import clean_scratch


@dataclass
class WorkerReport:
    """What a worker did before it stopped."""

    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    finished_releases: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def work(
    root: Path,
    *,
    concurrency: int = 1,
    once: bool = False,
    yes: bool = False,
    poll_seconds: float = 2.0,
    database_url: str | None = None,
    stop: threading.Event | None = None,
) -> WorkerReport:
    """Serve the release at ``root`` until ``stop`` is set (or, with ``once``, it is idle)."""
    from castoff.orchestrator.service import Orchestrator

    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    stop = stop or threading.Event()
    report = WorkerReport()
    config = load_config(root)
    with (
        Orchestrator.open(root, database_url=database_url, actor="worker") as orch,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="castoff-worker") as pool,
        Heartbeat(orch) as beat,
    ):
        clean_scratch(root)
        while not stop.is_set():
            orch.reclaim_dead_workers()
            release = graph.find_open_release(orch)
            if release is None:
                if once:
                    break
                stop.wait(poll_seconds)
                continue
            plan = graph.plan_of(release)
            steps = graph.release_tasks(orch, release)
            untrusted = graph.untrusted_steps(orch, steps)
            if untrusted:
                steps = graph.reopen(
                    orch,
                    release,
                    steps,
                    untrusted,
                    "completed outside the release runner; a built-in step counts only when "
                    "the runner ran it, so it runs again",
                )
            skip_recorded = plan.skip_rollback_check and graph.skip_rollback_recorded(orch, release)
            ready = [
                t
                for t in graph.ready_steps(steps)
                if not graph.is_agent_step(t) and (yes or graph.step_key(t) != "tag")
            ]
            if not ready:
                if all(t.status == "completed" for t in steps):
                    outcome = finish(orch, release, plan, steps=steps, root=root)
                    if outcome.exit_code:
                        report.failed[release.id] = outcome.message
                        break
                    report.finished_releases.append(release.id)
                    continue
                if once:
                    break
                stop.wait(poll_seconds)
                continue
            batch = ready[:concurrency]
            futures = {}
            for slot, task in enumerate(batch, 1):
                run = StepRunner(
                    orch,
                    root,
                    config,
                    plan,
                    worker=process_worker(f"worker-{slot}"),
                    heartbeat=beat,
                    rollback_skip_recorded=skip_recorded,
                )
                futures[task.id] = pool.submit(run.step, task, steps)
            for task_id, future in futures.items():
                try:
                    failure = future.result().error
                except (LeaseConflict, InvalidTransition):
                    continue  # another worker claimed it first
                except CastoffError as exc:
                    failure = exc
                if failure is None:
                    report.ran.append(task_id)
                else:
                    report.failed[task_id] = failure.message
            if report.failed:
                break
    return report
