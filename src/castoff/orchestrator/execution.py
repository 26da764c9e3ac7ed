"""Running tasks: lease claims, heartbeats, completion, failure, artifacts, synthesis."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from castoff import workspace
from castoff.errors import CastoffError, InvalidTransition, LeaseConflict, NotFound, UsageError
from castoff.orchestrator import lifecycle, rows, values
from castoff.orchestrator.core import DEFAULT_LEASE_SECONDS, OrchestratorCore
from castoff.orchestrator.models import (
    Artifact,
    ArtifactInput,
    ArtifactType,
    ExecutionContext,
    ParentContext,
    SynthesisResult,
    Task,
    TaskStatus,
)
from castoff.orchestrator.roles import role_for
from castoff.orchestrator.synthesis import synthesis_report
from castoff.store import artifacts as artifact_store
from castoff.store import leases as lease_store
from castoff.store import tasks as task_store

HOLDER_HINT = "only its holder can {verb} it (as that worker), or wait until the lease expires"


class ExecutionOperations(OrchestratorCore):
    """execute / heartbeat / complete / fail tasks; artifacts; synthesis."""

    def execute_task(
        self, task_id: str, *, worker: str | None = None, lease_seconds: int | None = None
    ) -> ExecutionContext:
        """Claim the task's lease and return what its specialist needs to do it.

        Executing a task this worker already holds renews its lease (a heartbeat:
        no new attempt, a ``task.lease_renewed`` event) and returns the context again.
        """
        who = self.worker_name(worker)
        seconds = _lease_seconds(lease_seconds)

        def work(conn: Connection) -> ExecutionContext:
            claimed, dep_states = self._claim(conn, task_id, who, seconds)
            return self._context(conn, claimed, dep_states)

        return self.db.write(work)

    def _claim(
        self, conn: Connection, task_id: str, who: str, seconds: int
    ) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
        """Claim (or, for its holder, renew) the lease, with its event; the row and the
        dependencies' states. Refusals raise before anything is written."""
        row = self.task_row(conn, task_id)
        now = self.now()
        expires_at = now + timedelta(seconds=seconds)
        status = TaskStatus(row["status"])
        if status == TaskStatus.IN_PROGRESS:
            if row["lease_owner"] == who:
                renewed = lease_store.renew(
                    conn, task_id, worker=who, now=now, expires_at=expires_at
                )
                if renewed is not None:
                    self.event(
                        conn,
                        "task.lease_renewed",
                        task_id=task_id,
                        at=now,
                        worker=who,
                        lease_expires_at=expires_at.isoformat(),
                    )
                    return renewed, task_store.dependency_states(conn, task_id)
            self.check_holder(row, who, now, hint="wait until its lease expires")
        elif status != TaskStatus.PENDING:
            lifecycle.check_transition(task_id, status, TaskStatus.IN_PROGRESS)
        dep_states = task_store.dependency_states(conn, task_id)
        unmet = [(i, s) for i, s, _ in dep_states if s != TaskStatus.COMPLETED.value]
        if unmet:
            waiting = ", ".join(f"{i} ({s})" for i, s in unmet)
            raise InvalidTransition(
                f"task {task_id} waits on dependencies that are not completed: {waiting}",
                task_id=task_id,
            )
        claimed = lease_store.claim(conn, task_id, worker=who, now=now, expires_at=expires_at)
        if claimed is None:
            raise LeaseConflict(f"task {task_id} was claimed by another worker", task_id=task_id)
        self.event(
            conn,
            "task.in_progress",
            task_id=task_id,
            at=now,
            worker=who,
            attempt=int(row["attempts"]) + 1,
            **{"from": status.value},
        )
        return claimed, dep_states

    def _context(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        dep_states: list[tuple[str, str, str | None]],
    ) -> ExecutionContext:
        """The specialist context, built from rows already read in this transaction."""
        dep_ids = [i for i, _, _ in dep_states]
        found_rows = (
            artifact_store.for_tasks(conn, [row["id"], *dep_ids])
            if dep_ids
            else artifact_store.for_task(conn, row["id"])
        )
        found = [rows.artifact(a) for a in found_rows]
        task = rows.task(row, dep_ids, [a for a in found if a.task_id == row["id"]])
        parent = None
        if task.parent_task_id:
            p = self.task_row(conn, task.parent_task_id)
            parent = ParentContext(
                id=p["id"],
                title=p["title"],
                description=p["description"],
                context=p["context"],
                summary=p["summary"],
            )
        return ExecutionContext(
            task=task,
            role=role_for(task.specialist_type),
            parent_context=parent,
            dependency_artifacts=[a for a in found if a.task_id != row["id"]],
            dependency_summaries={i: summary for i, _, summary in dep_states},
        )

    def heartbeat(
        self, task_id: str, *, worker: str | None = None, lease_seconds: int | None = None
    ) -> Task:
        """Extend the lease ``worker`` holds on the task."""
        who = self.worker_name(worker)
        seconds = _lease_seconds(lease_seconds)

        def work(conn: Connection) -> Task:
            self.task_row(conn, task_id)
            now = self.now()
            if not lease_store.renew(
                conn, task_id, worker=who, now=now, expires_at=now + timedelta(seconds=seconds)
            ):
                raise LeaseConflict(f"task {task_id} is not leased by {who}", task_id=task_id)
            return self.load_task(conn, task_id, with_artifacts=False)

        return self.db.write(work)

    def complete_task(
        self,
        task_id: str,
        summary: str,
        *,
        detailed_work: str | None = None,
        file_paths: Iterable[str] | None = None,
        artifact_type: ArtifactType | str = ArtifactType.GENERAL,
        next_action: str | None = None,
        artifacts: Sequence[ArtifactInput] = (),
        worker: str | None = None,
    ) -> Task:
        """Finish an in-progress task with its results; store its artifacts by sha256.

        ``detailed_work`` is kept on the task and stored as the artifact
        ``detailed_work.md``; each of ``file_paths`` (relative to the working
        directory, and inside it) is read and stored with ``artifact_type``.
        ``worker`` (default: this orchestrator's identity) must hold the lease,
        or the lease must have expired; otherwise LeaseConflict.
        """
        who = self.worker_name(worker)
        completion = self._completion(
            summary, detailed_work, file_paths, artifact_type, next_action, artifacts
        )
        return self.db.write(lambda conn: self._complete(conn, task_id, who, completion))

    def complete_and_claim(
        self,
        task_id: str,
        summary: str,
        *,
        next_task_id: str,
        detailed_work: str | None = None,
        file_paths: Iterable[str] | None = None,
        artifact_type: ArtifactType | str = ArtifactType.GENERAL,
        next_action: str | None = None,
        artifacts: Sequence[ArtifactInput] = (),
        worker: str | None = None,
        lease_seconds: int | None = None,
    ) -> tuple[Task, Task | None]:
        """``complete_task(task_id, …)`` then ``execute_task(next_task_id)`` in ONE transaction.

        For a worker that runs tasks one after another: the completion is exactly
        ``complete_task``'s (refusals included: then nothing is written), and the
        claim exactly ``execute_task``'s, as the same worker, with the same events.
        Returns the completed task and the claimed one — or None when
        ``next_task_id`` could not be claimed (not pending, dependencies not
        completed, held by another worker, unknown): the completion still stands
        and nothing about the other task changed (``execute_task`` says why).
        """
        who = self.worker_name(worker)
        seconds = _lease_seconds(lease_seconds)
        completion = self._completion(
            summary, detailed_work, file_paths, artifact_type, next_action, artifacts
        )

        def work(conn: Connection) -> tuple[Task, Task | None]:
            done = self._complete(conn, task_id, who, completion)
            try:
                claimed, dep_states = self._claim(conn, next_task_id, who, seconds)
            except CastoffError:  # refused before writing anything
                return done, None
            own = [rows.artifact(a) for a in artifact_store.for_task(conn, next_task_id)]
            return done, rows.task(claimed, [i for i, _, _ in dep_states], own)

        return self.db.write(work)

    def _completion(
        self,
        summary: str,
        detailed_work: str | None,
        file_paths: Iterable[str] | None,
        artifact_type: ArtifactType | str,
        next_action: str | None,
        artifacts: Sequence[ArtifactInput],
    ) -> _Completion:
        """A completion's checked values and its artifacts' bytes (read before any write)."""
        summary = values.text(summary, "summary", required=True)
        kind = values.enum_value(ArtifactType, artifact_type, "artifact_type")
        inputs = list(artifacts)
        if detailed_work:
            inputs.insert(0, ArtifactInput("detailed_work.md", detailed_work, kind))
        inputs.extend(self._read_files(file_paths or (), kind))
        prepared = [
            (
                a,
                a.content.encode() if isinstance(a.content, str) else bytes(a.content),
                values.enum_value(ArtifactType, a.artifact_type, "artifact_type"),
            )
            for a in inputs
        ]
        return _Completion(summary, detailed_work, next_action or None, prepared)

    def _complete(self, conn: Connection, task_id: str, who: str, c: _Completion) -> Task:
        now = self.now()
        stored = []
        for a, content, a_type in c.artifacts:
            sha = self.blobs.put(conn, content)
            stored.append(
                {
                    "task_id": task_id,
                    "session_id": self.session_id,
                    "name": a.name,
                    "path": a.path,
                    "artifact_type": a_type.value,
                    "sha256": sha,
                    "size": len(content),
                    "created_at": now,
                }
            )
        row = lease_store.complete(
            conn,
            task_id,
            summary=c.summary,
            detailed_work=c.detailed_work,
            next_action=c.next_action,
            now=now,
            worker=who,
        )
        if row is None or row["session_id"] != self.session_id:
            self._refuse_completion(conn, task_id, who, now)
        assert row is not None
        artifact_store.insert_artifacts(conn, stored)
        self.event(
            conn,
            "task.completed",
            task_id=task_id,
            at=now,
            artifacts=[s["sha256"] for s in stored],
            **{"from": TaskStatus.IN_PROGRESS.value},
        )
        own = [rows.artifact(a) for a in artifact_store.for_task(conn, task_id)]
        return rows.task(row, task_store.dependency_ids(conn, task_id), own)

    def _refuse_completion(
        self, conn: Connection, task_id: str, worker: str, now: datetime
    ) -> None:
        """Raise the error that explains why ``task_id`` could not be completed."""
        row = self.task_row(conn, task_id)
        status = TaskStatus(row["status"])
        if status == TaskStatus.PENDING:
            raise InvalidTransition(
                f"task {task_id} is pending; execute it before completing it", task_id=task_id
            )
        lifecycle.check_transition(task_id, status, TaskStatus.COMPLETED)
        self.check_holder(row, worker, now, hint=HOLDER_HINT.format(verb="complete"))
        raise LeaseConflict(f"task {task_id} changed while completing it", task_id=task_id)

    def _read_files(self, paths: Iterable[str], kind: ArtifactType) -> list[ArtifactInput]:
        """Read each file; refuse (UsageError) any outside the working directory or in .castoff/.

        Paths are resolved (``..`` and symlinks followed) before the check, so
        neither an absolute path, ``..`` nor a link can reach other files.
        """
        root = self.working_directory.resolve()
        state = workspace.state_dir(root)
        out = []
        for raw in paths:
            full = (root / Path(raw)).resolve()
            if not full.is_relative_to(root):
                raise UsageError(
                    f"file {raw} is outside the working directory {root}; "
                    "only files of the working directory can be stored"
                )
            if full == state or full.is_relative_to(state):
                raise UsageError(f"file {raw} is castoff's own state ({state}); it is not stored")
            try:
                content = full.read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read file {raw}: {exc.strerror or exc}") from exc
            rel = full.relative_to(root).as_posix()
            out.append(ArtifactInput(full.name, content, kind, path=rel))
        return out

    def fail_task(self, task_id: str, error: str, *, worker: str | None = None) -> Task:
        """Record that an in-progress task failed (it can be retried: set it pending).

        Like ``complete_task``, only the lease holder (``worker``, default this
        orchestrator's identity) may, unless the lease has expired.
        """
        error = values.text(error, "error", required=True)
        who = self.worker_name(worker)

        def work(conn: Connection) -> Task:
            row = self.task_row(conn, task_id, lock=True)
            status = TaskStatus(row["status"])
            lifecycle.check_transition(task_id, status, TaskStatus.FAILED)
            now = self.now()
            self.check_holder(row, who, now, hint=HOLDER_HINT.format(verb="fail"))
            task_store.set_values(
                conn,
                task_id,
                {
                    "status": TaskStatus.FAILED.value,
                    "error": error,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "updated_at": now,
                },
            )
            self.event(
                conn, "task.failed", task_id=task_id, at=now, error=error, **{"from": status.value}
            )
            return self.load_task(conn, task_id)

        return self.db.write(work)

    def read_artifact(self, sha256: str) -> bytes:
        """The content of an artifact of this session, by its sha256."""

        def work(conn: Connection) -> bytes:
            known, content = artifact_store.content_of(conn, sha256, session_id=self.session_id)
            if not known:
                raise NotFound(f"no artifact with sha256 {sha256}")
            return content if content is not None else self.blobs.read_file(sha256)

        return self.db.read(work)

    def find_artifact(self, sha256: str) -> Artifact:
        """The newest artifact of this session whose content has this sha256 (its name,
        type and task), or NotFound — an indexed lookup, however many artifacts there are."""

        def work(conn: Connection) -> Artifact:
            row = artifact_store.by_sha(conn, sha256, session_id=self.session_id)
            if row is None:
                raise NotFound(f"no artifact with sha256 {sha256}")
            return rows.artifact(row)

        return self.db.read(work)

    def list_artifacts(self, task_id: str | None = None, limit: int = 100) -> list[Artifact]:
        """The session's artifacts (of one task, if given), newest first."""
        limit, _ = values.page(limit, 0)

        def work(conn: Connection) -> list[Artifact]:
            if task_id is not None:
                self.task_row(conn, task_id)
            found = artifact_store.recent(
                conn, session_id=self.session_id, task_id=task_id, limit=limit
            )
            return [rows.artifact(a) for a in found]

        return self.db.read(work)

    def synthesize_results(self, parent_task_id: str) -> SynthesisResult:
        """Combine a parent's subtasks' outcomes and artifacts into one report artifact."""

        def work(conn: Connection) -> SynthesisResult:
            parent = self.load_task(conn, parent_task_id, with_artifacts=False)
            child_rows = task_store.children(conn, parent_task_id)
            if not child_rows:
                raise UsageError(f"task {parent_task_id} has no subtasks to synthesize")
            children = self.tasks_from_rows(conn, child_rows, with_artifacts=True)
            report = synthesis_report(parent, children)
            content = report.encode()
            now = self.now()
            sha = self.blobs.put(conn, content)
            existing = artifact_store.for_tasks(conn, [parent_task_id])
            if any(a["name"] == "synthesis.md" and a["sha256"] == sha for a in existing):
                stored = [a for a in existing if a["sha256"] == sha]
                return SynthesisResult(  # unchanged since the last synthesis: nothing new
                    parent_task_id=parent_task_id,
                    children=[rows.brief(r) for r in child_rows],
                    counts=_status_counts(children),
                    artifact=rows.artifact(stored[-1]),
                    report=report,
                )
            artifact_store.insert_artifacts(
                conn,
                [
                    {
                        "task_id": parent_task_id,
                        "session_id": parent.session_id,
                        "name": "synthesis.md",
                        "path": None,
                        "artifact_type": ArtifactType.DOCUMENTATION.value,
                        "sha256": sha,
                        "size": len(content),
                        "created_at": now,
                    }
                ],
            )
            counts = _status_counts(children)
            self.event(conn, "task.synthesized", task_id=parent_task_id, at=now, sha256=sha)
            stored = [
                a for a in artifact_store.for_tasks(conn, [parent_task_id]) if a["sha256"] == sha
            ]
            return SynthesisResult(
                parent_task_id=parent_task_id,
                children=[rows.brief(r) for r in child_rows],
                counts=counts,
                artifact=rows.artifact(stored[-1]),
                report=report,
            )

        return self.db.write(work)


@dataclass(frozen=True, slots=True)
class _Completion:
    """What a completion writes: checked values and each artifact's bytes and type."""

    summary: str
    detailed_work: str | None
    next_action: str | None
    artifacts: list[tuple[ArtifactInput, bytes, ArtifactType]]


def _lease_seconds(value: int | None) -> int:
    if value is None:
        return DEFAULT_LEASE_SECONDS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"lease_seconds must be a positive whole number (got {value!r})")
    return value


def _status_counts(children: Sequence[Task]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for child in children:
        counts[child.status.value] = counts.get(child.status.value, 0) + 1
    return counts
