"""Changing, removing and finding tasks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from castoff.errors import ConflictError, DependencyCycle, UsageError
from castoff.orchestrator import graph, lifecycle, values
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import (
    CancelResult,
    Complexity,
    DeleteResult,
    SpecialistType,
    Task,
    TaskPage,
    TaskStatus,
    TaskType,
)
from castoff.store import artifacts as artifact_store
from castoff.store import queries as query_store
from castoff.store import sessions as session_store
from castoff.store import tasks as task_store
from castoff.store.queries import TaskQuery


class TaskOperations(OrchestratorCore):
    """update / delete / cancel / query tasks."""

    def update_task(
        self,
        task_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        task_type: TaskType | str | None = None,
        specialist_type: SpecialistType | str | None = None,
        complexity: Complexity | str | None = None,
        status: TaskStatus | str | None = None,
        parent_task_id: str | None = None,
        estimated_effort: str | None = None,
        due_date: datetime | str | None = None,
        context: dict[str, Any] | str | None = None,
        dependencies: Iterable[str] | None = None,
        next_action: str | None = None,
        force: bool = False,
        worker: str | None = None,
    ) -> Task:
        """Change the given fields (None leaves a field as it is).

        Setting the status of an in-progress task takes it out of its lease:
        refused (LeaseConflict) while another worker holds a live lease, unless
        ``force``. ``worker`` defaults to this orchestrator's own identity.
        """
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = values.text(title, "title", required=True).strip()
        if description is not None:
            changes["description"] = values.text(description, "description")
        if task_type is not None:
            changes["task_type"] = values.enum_value(TaskType, task_type, "task_type").value
        if specialist_type is not None:
            changes["specialist_type"] = values.enum_value(
                SpecialistType, specialist_type, "specialist_type"
            ).value
        if complexity is not None:
            changes["complexity"] = values.enum_value(Complexity, complexity, "complexity").value
        if estimated_effort is not None:
            changes["estimated_effort"] = estimated_effort or None
        if due_date is not None:
            changes["due_date"] = values.when(due_date, "due_date")
        if context is not None:
            changes["context"] = values.context(context)
        if next_action is not None:
            changes["next_action"] = next_action or None
        target = None if status is None else values.enum_value(TaskStatus, status, "status")
        if target is not None and lifecycle.SETTABLE[target]:
            raise UsageError(
                f"update_task cannot set status {target}: {lifecycle.SETTABLE[target]}"
            )
        deps = None if dependencies is None else values.ids(dependencies, "dependencies")
        who = self.worker_name(worker)

        def work(conn: Connection) -> Task:
            if parent_task_id is not None or deps is not None:
                # Checks and writes of the graph run one session at a time (no races).
                session_store.lock_graph(conn, self.session_id)
            row = self.task_row(conn, task_id, lock=True)
            now = self.now()
            if parent_task_id is not None:
                changes["parent_task_id"] = self._checked_parent(conn, task_id, parent_task_id)
            if deps is not None:
                self._check_dependencies(conn, task_id, deps)
            current = TaskStatus(row["status"])
            if target is not None and target != current:
                lifecycle.check_transition(task_id, current, target)
                if current == TaskStatus.IN_PROGRESS and not force:
                    self.check_holder(row, who, now, hint="use force to take it from its holder")
                changes["status"] = target.value
                if current == TaskStatus.IN_PROGRESS:
                    changes.update(lease_owner=None, lease_expires_at=None)
            if not changes and deps is None:
                return self.load_task(conn, task_id)
            task_store.set_values(conn, task_id, changes | {"updated_at": now})
            if deps is not None:
                task_store.replace_dependencies(conn, task_id, deps)
            fields = sorted([*changes, *(["dependencies"] if deps is not None else [])])
            self.event(conn, "task.updated", task_id=task_id, at=now, fields=fields)
            if "status" in changes:
                self.event(
                    conn, f"task.{target}", task_id=task_id, at=now, **{"from": current.value}
                )
            return self.load_task(conn, task_id)

        return self.db.write(work)

    def _checked_parent(self, conn: Connection, task_id: str, parent_task_id: str) -> str | None:
        if parent_task_id == "":
            return None
        if parent_task_id == task_id:
            raise UsageError(f"task {task_id} cannot be its own parent")
        self.require_tasks(conn, [parent_task_id], "parent_task_id")
        if parent_task_id in task_store.descendants(conn, task_id):
            raise UsageError(
                f"task {parent_task_id} is below {task_id}; it cannot become its parent"
            )
        return parent_task_id

    def _check_dependencies(self, conn: Connection, task_id: str, deps: list[str]) -> None:
        if task_id in deps:
            raise DependencyCycle(f"task {task_id} cannot depend on itself", cycle=[task_id])
        self.require_tasks(conn, deps, "dependencies")
        cycle = graph.cycle_with(task_store.session_edges(conn, self.session_id), task_id, deps)
        if cycle:
            raise DependencyCycle(
                f"the dependencies would form a cycle: {' -> '.join(cycle)}", cycle=cycle
            )

    def cancel_task(
        self, task_id: str, reason: str = "", preserve_work: bool = True
    ) -> CancelResult:
        """Cancel a task and its open subtasks; drop their artifacts unless ``preserve_work``."""

        def work(conn: Connection) -> CancelResult:
            row = self.task_row(conn, task_id, lock=True)
            lifecycle.check_transition(task_id, TaskStatus(row["status"]), TaskStatus.CANCELLED)
            below = task_store.get_many_locked(conn, task_store.descendants(conn, task_id))
            open_below = [r for r in below if lifecycle.is_open(TaskStatus(r["status"]))]
            touched = [row, *open_below]
            ids = [r["id"] for r in touched]
            now = self.now()
            task_store.set_many(
                conn,
                ids,
                {
                    "status": TaskStatus.CANCELLED.value,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "error": reason or None,
                    "updated_at": now,
                },
            )
            removed = 0 if preserve_work else artifact_store.delete_for_tasks(conn, ids)
            for r in touched:
                self.event(
                    conn,
                    "task.cancelled",
                    task_id=r["id"],
                    at=now,
                    reason=reason,
                    preserve_work=preserve_work,
                    cancelled_with=None if r["id"] == task_id else task_id,
                    **{"from": r["status"]},
                )
            return CancelResult(
                task_id=task_id, cancelled=ids, artifacts_removed=removed, reason=reason
            )

        return self.db.write(work)

    def delete_task(
        self, task_id: str, force: bool = False, archive_instead: bool = False
    ) -> DeleteResult:
        """Delete a task and its subtasks (or archive them with ``archive_instead``).

        Without ``force`` a task that has subtasks, other tasks depending on it,
        or a live lease is refused (ConflictError).
        """

        def work(conn: Connection) -> DeleteResult:
            row = self.task_row(conn, task_id, lock=True)
            below = task_store.get_many_locked(conn, task_store.descendants(conn, task_id))
            subtree = [row, *below]
            ids = {r["id"] for r in subtree}
            dependents = sorted({d for i in ids for d in task_store.dependents_of(conn, i)} - ids)
            running = [r["id"] for r in subtree if r["status"] == TaskStatus.IN_PROGRESS.value]
            if not force and (below or dependents or running):
                parts = []
                if below:
                    parts.append(f"{len(below)} subtask(s)")
                if dependents:
                    parts.append(f"tasks depending on it ({', '.join(dependents)})")
                if running:
                    parts.append(f"work in progress ({', '.join(running)})")
                verb = "archive" if archive_instead else "delete"
                raise ConflictError(
                    f"task {task_id} has {' and '.join(parts)}; use force to {verb} it anyway",
                    task_id=task_id,
                )
            now = self.now()
            if archive_instead:
                return self._archive(conn, task_id, subtree, now)
            task_store.delete_many(conn, [r["id"] for r in below] + [task_id])
            for r in subtree:
                self.event(conn, "task.deleted", task_id=r["id"], at=now, title=r["title"])
            return DeleteResult(task_id=task_id, deleted=[r["id"] for r in subtree], archived=[])

        return self.db.write(work)

    def _archive(
        self, conn: Connection, task_id: str, subtree: list[Any], now: datetime
    ) -> DeleteResult:
        archived = []
        for r in subtree:
            current = TaskStatus(r["status"])
            if current == TaskStatus.ARCHIVED:
                continue
            if current == TaskStatus.IN_PROGRESS:  # only reached with force
                self.event(conn, "task.cancelled", task_id=r["id"], at=now, reason="archived")
            else:
                lifecycle.check_transition(r["id"], current, TaskStatus.ARCHIVED)
            archived.append(r["id"])
            self.event(conn, "task.archived", task_id=r["id"], at=now, **{"from": current.value})
        task_store.set_many(
            conn,
            archived,
            {
                "status": TaskStatus.ARCHIVED.value,
                "lease_owner": None,
                "lease_expires_at": None,
                "updated_at": now,
            },
        )
        return DeleteResult(task_id=task_id, deleted=[], archived=archived)

    def query_tasks(
        self,
        *,
        status: Iterable[TaskStatus | str] | str | None = None,
        task_type: Iterable[TaskType | str] | str | None = None,
        specialist_type: Iterable[SpecialistType | str] | str | None = None,
        parent_task_id: str | None = None,
        complexity: Iterable[Complexity | str] | str | None = None,
        search_text: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        include_children: bool = False,
        include_artifacts: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> TaskPage:
        """One page of the session's tasks matching every given filter, oldest first.

        ``include_children`` widens ``parent_task_id`` from the direct children to
        every descendant; without ``parent_task_id`` it is refused (UsageError).
        """
        limit, offset = values.page(limit, offset)
        if include_children and not parent_task_id:
            raise UsageError("include_children needs parent_task_id (whose descendants to list)")
        q = TaskQuery(
            session_id=self.session_id,
            status=[s.value for s in values.enum_list(TaskStatus, status, "status")],
            task_type=[t.value for t in values.enum_list(TaskType, task_type, "task_type")],
            specialist_type=[
                s.value
                for s in values.enum_list(SpecialistType, specialist_type, "specialist_type")
            ],
            complexity=[c.value for c in values.enum_list(Complexity, complexity, "complexity")],
            parent_task_id=parent_task_id or None,
            include_children=include_children,
            search_text=search_text or None,
            created_after=values.when(created_after, "created_after"),
            created_before=values.when(created_before, "created_before"),
        )

        def work(conn: Connection) -> TaskPage:
            if q.parent_task_id:
                self.require_tasks(conn, [q.parent_task_id], "parent_task_id")
            found, total = query_store.query(conn, q, limit=limit, offset=offset)
            tasks = self.tasks_from_rows(conn, found, with_artifacts=include_artifacts)
            return TaskPage(
                tasks=tasks,
                total=total,
                limit=limit,
                offset=offset,
                has_more=offset + len(tasks) < total,
            )

        return self.db.read(work)

    def get_task(self, task_id: str) -> Task:
        """One task with its dependencies and artifacts."""
        return self.db.read(lambda conn: self.load_task(conn, task_id))
