"""Planning tasks: one at a time or a whole graph in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from castoff.errors import DependencyCycle, NotFound, UsageError
from castoff.orchestrator import graph, rows, values
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import (
    Complexity,
    SpecialistType,
    Task,
    TaskSpec,
    TaskStatus,
    TaskType,
)
from castoff.store import events as event_store
from castoff.store import tasks as task_store
from castoff.store.schema import new_id


class PlanningOperations(OrchestratorCore):
    """plan_task / plan_tasks."""

    def plan_task(
        self,
        title: str,
        *,
        description: str = "",
        task_type: TaskType | str = TaskType.STANDARD,
        parent_task_id: str | None = None,
        complexity: Complexity | str = Complexity.MODERATE,
        specialist_type: SpecialistType | str = SpecialistType.GENERIC,
        estimated_effort: str | None = None,
        due_date: datetime | str | None = None,
        context: dict[str, Any] | str | None = None,
        dependencies: Iterable[str] | None = None,
    ) -> Task:
        """Create a pending task (a subtask when ``parent_task_id`` is given)."""
        now = self.now()
        row = self._new_row(
            new_id(),
            now,
            title=title,
            description=description,
            task_type=task_type,
            parent_task_id=parent_task_id or None,
            complexity=complexity,
            specialist_type=specialist_type,
            estimated_effort=estimated_effort,
            due_date=due_date,
            context=context,
        )
        deps = values.ids(dependencies, "dependencies")

        def work(conn: Connection) -> Task:
            parents = [row["parent_task_id"]] if row["parent_task_id"] else []
            self._require_references(conn, parents, deps)
            task_store.insert_task(conn, row)
            task_store.add_dependencies(conn, row["id"], deps)
            self.event(
                conn,
                "task.planned",
                task_id=row["id"],
                at=now,
                title=row["title"],
                parent_task_id=row["parent_task_id"],
                dependencies=deps,
            )
            return rows.task(row | _empty_results(), deps)

        return self.db.write(work)

    def plan_tasks(self, specs: Sequence[TaskSpec]) -> list[Task]:
        """Plan a whole graph — parents, children and the dependencies among them — at once.

        Each :class:`TaskSpec` names its parent and dependencies by the key of
        another spec of the batch or by the id of an existing task. One
        transaction writes every task, edge and ``task.planned`` event (the same
        ones ``plan_task`` writes, one per task), after one check of the batch:
        unique keys, known ids, no dependency cycle and no parent loop. A new
        task has no dependents outside the batch, so a cycle can only lie inside
        it. Returns the tasks in the order of ``specs`` (their ids sort in that
        order too, so queries list them as given).
        """
        specs = list(specs)
        if not specs:
            return []
        keys = [values.text(s.key, "key", required=True) for s in specs]
        repeated = sorted(k for k, n in Counter(keys).items() if n > 1)
        if repeated:
            raise UsageError(
                f"keys must be unique within a batch (repeated: {', '.join(repeated)})"
            )
        now = self.now()
        local = dict(zip(keys, sorted(new_id() for _ in specs), strict=True))
        key_of = {task_id: key for key, task_id in local.items()}
        planned: list[tuple[dict[str, Any], list[str]]] = []
        for key, spec in zip(keys, specs, strict=True):
            parent = local.get(spec.parent, spec.parent) if spec.parent else None
            deps = [local.get(d, d) for d in values.ids(spec.dependencies, "dependencies")]
            if local[key] in deps:
                raise DependencyCycle(f"task {key} cannot depend on itself", cycle=[key])
            row = self._new_row(
                local[key],
                now,
                title=spec.title,
                description=spec.description,
                task_type=spec.task_type,
                parent_task_id=parent,
                complexity=spec.complexity,
                specialist_type=spec.specialist_type,
                estimated_effort=spec.estimated_effort,
                due_date=spec.due_date,
                context=spec.context,
            )
            planned.append((row, deps))
        cycle = graph.find_cycle((r["id"], d) for r, deps in planned for d in deps if d in key_of)
        if cycle:
            shown = [key_of[i] for i in cycle]
            raise DependencyCycle(
                f"the dependencies would form a cycle: {' -> '.join(shown)}", cycle=shown
            )
        loop = graph.parent_loop(
            {r["id"]: r["parent_task_id"] for r, _ in planned if r["parent_task_id"] in key_of}
        )
        if loop:
            raise UsageError(
                f"the parents would form a loop: {' -> '.join(key_of[i] for i in loop)}"
            )
        outside_parents = sorted(
            {r["parent_task_id"] for r, _ in planned if r["parent_task_id"]} - key_of.keys()
        )
        outside_deps = sorted({d for _, deps in planned for d in deps} - key_of.keys())
        ordered = _parents_first(planned)

        def work(conn: Connection) -> list[Task]:
            self._require_references(conn, outside_parents, outside_deps)
            task_store.insert_tasks(conn, [r for r, _ in ordered])
            task_store.add_edges(conn, [(r["id"], d) for r, deps in planned for d in deps])
            event_store.append_many(
                conn,
                [
                    {
                        "session_id": self.session_id,
                        "task_id": r["id"],
                        "kind": "task.planned",
                        "actor": self.actor,
                        "data": {
                            "title": r["title"],
                            "parent_task_id": r["parent_task_id"],
                            "dependencies": deps,
                        },
                        "created_at": now,
                    }
                    for r, deps in planned
                ],
            )
            return [rows.task(r | _empty_results(), deps) for r, deps in planned]

        return self.db.write(work)

    def _new_row(
        self,
        task_id: str,
        now: datetime,
        *,
        title: str,
        description: str,
        task_type: TaskType | str,
        parent_task_id: str | None,
        complexity: Complexity | str,
        specialist_type: SpecialistType | str,
        estimated_effort: str | None,
        due_date: datetime | str | None,
        context: dict[str, Any] | str | None,
    ) -> dict[str, Any]:
        """The row of a new pending task, every value checked."""
        return {
            "id": task_id,
            "session_id": self.session_id,
            "parent_task_id": parent_task_id,
            "title": values.text(title, "title", required=True).strip(),
            "description": values.text(description, "description"),
            "task_type": values.enum_value(TaskType, task_type, "task_type").value,
            "specialist_type": values.enum_value(
                SpecialistType, specialist_type, "specialist_type"
            ).value,
            "complexity": values.enum_value(Complexity, complexity, "complexity").value,
            "status": TaskStatus.PENDING.value,
            "estimated_effort": estimated_effort or None,
            "due_date": values.when(due_date, "due_date"),
            "context": values.context(context),
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }

    def _require_references(
        self, conn: Connection, parents: Sequence[str], dependencies: Sequence[str]
    ) -> None:
        """NotFound for unknown parents (first) or dependencies: one query for both."""
        wanted = [*parents, *dependencies]
        if not wanted:
            return
        known = task_store.existing_ids(conn, self.session_id, wanted)
        for ids, what in ((parents, "parent_task_id"), (dependencies, "dependencies")):
            missing = sorted(set(ids) - known)
            if missing:
                raise NotFound(f"unknown {what}: {', '.join(missing)}", ids=missing)


def _parents_first(
    planned: list[tuple[dict[str, Any], list[str]]],
) -> list[tuple[dict[str, Any], list[str]]]:
    """``planned`` with every task after its parent (when the parent is in the batch too)."""
    ids = {r["id"] for r, _ in planned}
    placed: set[str] = set()
    out: list[tuple[dict[str, Any], list[str]]] = []
    waiting = list(planned)
    while waiting:
        ready = [
            p
            for p in waiting
            if p[0]["parent_task_id"] not in ids or p[0]["parent_task_id"] in placed
        ]
        for p in ready:
            placed.add(p[0]["id"])
        out += ready
        waiting = [p for p in waiting if p[0]["id"] not in placed]
    return out


def _empty_results() -> dict[str, Any]:
    return {
        "summary": None,
        "detailed_work": None,
        "next_action": None,
        "error": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "completed_at": None,
    }
