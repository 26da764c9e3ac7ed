"""Running one step through the orchestrator: claim, execute, record.

:class:`StepRunner` is the one place a release step is run — by
``release prepare``/``resume`` and by ``castoff worker`` alike:
``execute_task`` (a lease, renewed by the run's :class:`Heartbeat` while the
executor runs), the step's executor, then ``complete_task`` with its
``result.json`` and documents, or ``fail_task`` with the reason (and the
failing report as an event). A runner that goes on with the next ready step
itself (``claim_ahead``: the release runner, not ``castoff worker``, whose
steps go to whichever slot is free) claims that step in the same transaction
as it completes this one (``complete_and_claim``) — unless it is an agent's
step or the tag, which waits for its checks and its question — so stepping
costs one store transaction per step, not two. A run that stops before using
such a claim gives the step back (pending again); a killed run's claim is
reclaimed like any dead holder's.

A run the caller stops — an MCP client cancels ``release_prepare``, its
progress callback raises, or Ctrl-C — is not a failure of the step: the step
goes back to pending (its lease released, a ``release.step_cancelled`` event
says why) and ``castoff release resume`` runs it again.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import CastoffError, CheckFailed
from castoff.release.workflow import graph
from castoff.release.workflow.contract import ReleasePlan, StepFailed, StepInput, StepResult
from castoff.release.workflow.executors import EXECUTORS

if TYPE_CHECKING:
    from castoff.orchestrator.models import Task
    from castoff.orchestrator.service import Orchestrator
    from castoff.release.announce.ledger import Ledger

LEASE_SECONDS = 300
HEARTBEAT_SECONDS = 60.0
CRASH_ENV = "CASTOFF_CRASH_AT"  # test hook: "<step>:before|after|inside" → SIGKILL
CANCELLED_EVENT = "release.step_cancelled"
CANCELLED_BY_CLIENT = "cancelled by client"

#: ``on_progress(done, total, message)``
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class StepRun:
    """How one step ended: ``task`` as it is now (completed, failed, or pending again)."""

    task: Task
    error: CastoffError | None = None
    cancelled: str | None = None  # why the caller stopped the run (the step is pending)


class Heartbeat:
    """One thread per run that keeps the lease of every step being run alive."""

    def __init__(self, orch: Orchestrator, seconds: float = HEARTBEAT_SECONDS) -> None:
        self._orch = orch
        self._seconds = seconds
        self._held: dict[str, str] = {}  # task id -> worker
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, task_id: str, worker: str) -> None:
        """Renew ``task_id``'s lease (held by ``worker``) until :meth:`drop`."""
        with self._lock:
            self._held[task_id] = worker
            if self._thread is None:  # started with the first step that runs
                self._thread = threading.Thread(
                    target=self._beat, name="castoff-heartbeat", daemon=True
                )
                self._thread.start()

    def drop(self, task_id: str) -> None:
        with self._lock:
            self._held.pop(task_id, None)

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds):
            with self._lock:
                held = list(self._held.items())
            for task_id, worker in held:
                try:
                    self._orch.heartbeat(task_id, worker=worker, lease_seconds=LEASE_SECONDS)
                except CastoffError:
                    self.drop(task_id)  # lost: completing the step will say so

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class StepRunner:
    """Runs steps of one release as one lease holder.

    ``results`` holds the results the release runner produced (this run's, or
    read from the store at its start); ``timings`` how long each step run by
    this runner took, by task id.
    """

    orch: Orchestrator
    root: Path
    config: Config
    plan: ReleasePlan
    worker: str
    say: Progress = lambda _d, _t, _m: None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None
    rollback_skip_recorded: bool = False
    head: str | None = None  # HEAD as the runner checked it right before the tag step
    claim_ahead: bool = False  # claim the step that runs next when completing one
    _claimed: dict[str, Task] = field(default_factory=dict)  # claimed with the previous step

    def step(self, task: Task, steps: list[Task]) -> StepRun:
        """Run one step: execute_task (unless claimed with the previous one) → executor →
        complete_task / complete_and_claim (or fail_task)."""
        from castoff.orchestrator.models import ArtifactInput

        orch, key = self.orch, graph.step_key(task)
        done = sum(1 for t in steps if t.status == "completed")
        stopped: list[BaseException] = []  # what the caller's progress callback raised

        def say(count: int, message: str) -> None:
            try:
                self.say(count, len(steps), message)
            except BaseException as exc:  # the caller stops the run (e.g. MCP cancellation)
                stopped.append(exc)
                raise

        def progress(message: str) -> None:
            crash_point(key, "inside")
            say(done, f"{task.title}: {message}")

        try:
            say(done, task.title)
        except BaseException:
            if self._claimed.pop(task.id, None) is not None:  # claimed with the last step
                return StepRun(
                    self._put_back(task, CANCELLED_BY_CLIENT), cancelled=CANCELLED_BY_CLIENT
                )
            return StepRun(task, cancelled=CANCELLED_BY_CLIENT)  # nothing was claimed yet
        crash_point(key, "before")
        started = time.perf_counter()
        if self._claimed.pop(task.id, None) is None:
            orch.execute_task(task.id, worker=self.worker, lease_seconds=LEASE_SECONDS)
        known = {graph.step_key(t) for t in steps if t.status == "completed"}
        if not known <= self.results.keys():  # a new runner (castoff worker): read them in
            self.results.update(graph.step_results(orch, steps))
        inp = StepInput(
            root=self.root,
            config=self.config,
            plan=self.plan,
            results=dict(self.results),
            on_progress=progress,
            agent_work=graph.agent_work(orch, steps) if key == "highlights" else {},
            rollback_skip_recorded=self.rollback_skip_recorded,
            head=self.head if key == "tag" else None,
            ledger=self._ledger(task) if key == "announce_send" else None,
        )
        beat = self.heartbeat
        if beat is not None:
            beat.hold(task.id, self.worker)
        try:
            result = EXECUTORS[key](inp)
        except CastoffError as exc:
            if stopped:
                return StepRun(
                    self._put_back(task, CANCELLED_BY_CLIENT), cancelled=CANCELLED_BY_CLIENT
                )
            report = exc.result if isinstance(exc, StepFailed) else None
            failed = _fail(orch, task, self.worker, exc.message, report)
            if key == "highlights" and isinstance(exc, CheckFailed):
                graph.ask_agent_again(orch, task, steps, exc.message)
            return StepRun(failed, error=exc)
        except KeyboardInterrupt:
            self._put_back(task, "interrupted (Ctrl-C)")
            raise
        except BaseException as exc:
            if stopped:
                return StepRun(
                    self._put_back(task, CANCELLED_BY_CLIENT), cancelled=CANCELLED_BY_CLIENT
                )
            if not isinstance(exc, Exception):  # SystemExit and the like: not the step's fault
                self._put_back(task, f"stopped ({type(exc).__name__})")
                raise
            _fail(orch, task, self.worker, f"internal error: {type(exc).__name__}: {exc}", None)
            raise
        finally:
            if beat is not None:
                beat.drop(task.id)
        if stopped:  # the executor swallowed the caller's stop: do not record a cut-short result
            return StepRun(self._put_back(task, CANCELLED_BY_CLIENT), cancelled=CANCELLED_BY_CLIENT)
        crash_point(key, "after")
        documents = [ArtifactInput(n, content, kind) for n, content, kind in result.documents]
        outputs = [
            ArtifactInput(
                graph.RESULT_NAME, graph.result_document(result.data, dict(result.refs)), "analysis"
            ),
            *documents,
        ]
        following = _runs_next(task, steps) if self.claim_ahead else None
        if following is None:
            completed = orch.complete_task(
                task.id,
                result.summary,
                artifacts=outputs,
                next_action=result.next_action,
                worker=self.worker,
            )
        else:
            completed, claimed = orch.complete_and_claim(
                task.id,
                result.summary,
                next_task_id=following.id,
                artifacts=outputs,
                next_action=result.next_action,
                worker=self.worker,
                lease_seconds=LEASE_SECONDS,
            )
            if claimed is not None:
                self._claimed[following.id] = following
        self.timings[task.id] = round(time.perf_counter() - started, 3)
        self.results[key] = json.loads(json.dumps(result.data, default=str))
        try:
            say(done + 1, task.title)
        except BaseException:
            self.give_back()
            return StepRun(completed, cancelled=CANCELLED_BY_CLIENT)
        return StepRun(completed)

    def _ledger(self, task: Task) -> Callable[[str], Ledger]:
        """The delivery ledger of a tag, in the store; its events name the step."""
        from castoff.release.workflow.deliveries import StoreLedger

        return lambda tag: StoreLedger(self.orch, tag, task_id=task.id)

    def give_back(self) -> None:
        """Put back the step claimed ahead that will not run now (the run stops)."""
        for task in list(self._claimed.values()):
            self._put_back(task, CANCELLED_BY_CLIENT)
        self._claimed.clear()

    def _put_back(self, task: Task, reason: str) -> Task:
        """The caller stopped the run: the step goes back to pending, its lease released."""
        orch = self.orch
        try:
            orch.record_event(task.id, CANCELLED_EVENT, {"reason": reason, "worker": self.worker})
            return orch.update_task(task.id, status="pending")
        except CastoffError:  # not ours to release (another holder name): its lease expires
            return orch.get_task(task.id)


def _fail(
    orch: Orchestrator, task: Task, worker: str, message: str, result: StepResult | None
) -> Task:
    if result is not None:
        orch.record_event(
            task.id, "release.step_report", {"summary": message, "report": result.data}
        )
    return orch.fail_task(task.id, message, worker=worker)


def _runs_next(task: Task, steps: list[Task]) -> Task | None:
    """The step the run goes on with once ``task`` is completed, if it can be claimed now.

    The first ready step (as the runner picks it), unless it is left to an agent or
    is the tag (which waits for its checks and, without --yes, a question), or a
    test asked to be killed right before its claim (``CASTOFF_CRASH_AT=<step>:before``).
    """
    from dataclasses import replace

    from castoff.orchestrator.models import TaskStatus

    after = [replace(t, status=TaskStatus.COMPLETED) if t.id == task.id else t for t in steps]
    ready = graph.ready_steps(after)
    if not ready:
        return None
    following = ready[0]
    key = graph.step_key(following)
    if graph.is_agent_step(following) or key == "tag" or _crash_armed(key, "before"):
        return None
    return following


def _crash_armed(step: str, where: str) -> bool:
    return os.environ.get(CRASH_ENV) == f"{step}:{where}"


def crash_point(step: str, where: str) -> None:
    """Test hook: ``CASTOFF_CRASH_AT=<step>:<where>`` kills this process right here."""
    if _crash_armed(step, where):
        os.kill(os.getpid(), signal.SIGKILL)
