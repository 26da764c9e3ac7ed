"""Running one step through the orchestrator: claim, execute, record.

:class:`StepRunner` is the one place a release step is run — by
``release prepare``/``resume`` and by ``castoff worker`` alike:
``execute_task`` (a lease, renewed by a heartbeat while the executor runs),
the step's executor, then ``complete_task`` with its ``result.json`` and
documents, or ``fail_task`` with the reason (and the failing report as an
event).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import CastoffError, CheckFailed
from castoff.release.workflow import graph
from castoff.release.workflow.executors import (
    EXECUTORS,
    ReleasePlan,
    StepFailed,
    StepInput,
    StepResult,
)

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator

LEASE_SECONDS = 300
HEARTBEAT_SECONDS = 60.0
CRASH_ENV = "CASTOFF_CRASH_AT"  # test hook: "<step>:before|after|inside" → SIGKILL

#: ``on_progress(done, total, message)``
Progress = Callable[[int, int, str], None]


@dataclass
class StepRunner:
    """Runs steps of one release as one lease holder.

    ``results`` caches the completed steps' results for this process; the
    store stays the source of truth (a new runner reads them from it).
    """

    orch: Orchestrator
    root: Path
    config: Config
    plan: ReleasePlan
    worker: str
    say: Progress = lambda _d, _t, _m: None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def step(self, task: Task, steps: list[Task]) -> CastoffError | None:
        """Run one step: execute_task → executor → complete_task (or fail_task)."""
        from castoff.orchestrator.models import ArtifactInput

        orch, key = self.orch, graph.step_key(task)
        done = sum(1 for t in steps if t.status == "completed")

        def progress(message: str) -> None:
            crash_point(key, "inside")
            self.say(done, len(steps), f"{task.title}: {message}")

        self.say(done, len(steps), task.title)
        crash_point(key, "before")
        orch.execute_task(task.id, worker=self.worker, lease_seconds=LEASE_SECONDS)
        known = {graph.step_key(t) for t in steps if t.status == "completed"}
        if not known <= self.results.keys():
            self.results.update(graph.step_results(orch, steps))
        inp = StepInput(
            root=self.root,
            config=self.config,
            plan=self.plan,
            results=dict(self.results),
            on_progress=progress,
            agent_work=graph.agent_work(orch, steps),
        )
        try:
            with _heartbeat(orch, task.id, self.worker):
                result = EXECUTORS[key](inp)
        except CastoffError as exc:
            report = exc.result if isinstance(exc, StepFailed) else None
            _fail(orch, task, self.worker, exc.message, report)
            if key == "highlights" and isinstance(exc, CheckFailed):
                graph.ask_agent_again(orch, task, steps, exc.message)
            return exc
        except BaseException as exc:
            _fail(orch, task, self.worker, f"internal error: {type(exc).__name__}: {exc}", None)
            raise
        crash_point(key, "after")
        documents = [ArtifactInput(n, content, kind) for n, content, kind in result.documents]
        orch.complete_task(
            task.id,
            result.summary,
            artifacts=[
                ArtifactInput(
                    graph.RESULT_NAME, json.dumps(result.data, indent=2, default=str), "analysis"
                ),
                *documents,
            ],
            next_action=result.next_action,
            worker=self.worker,
        )
        self.results[key] = json.loads(json.dumps(result.data, default=str))
        self.say(done + 1, len(steps), task.title)
        return None


def _fail(
    orch: Orchestrator, task: Task, worker: str, message: str, result: StepResult | None
) -> None:
    if result is not None:
        orch.record_event(
            task.id, "release.step_report", {"summary": message, "report": result.data}
        )
    orch.fail_task(task.id, message, worker=worker)


@contextmanager
def _heartbeat(orch: Orchestrator, task_id: str, worker: str) -> Iterator[None]:
    """Keep the step's lease alive while a long executor runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                orch.heartbeat(task_id, worker=worker, lease_seconds=LEASE_SECONDS)
            except CastoffError:
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def crash_point(step: str, where: str) -> None:
    """Test hook: ``CASTOFF_CRASH_AT=<step>:<where>`` kills this process right here."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and wanted == f"{step}:{where}":
        os.kill(os.getpid(), signal.SIGKILL)
