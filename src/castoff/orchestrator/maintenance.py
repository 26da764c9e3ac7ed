"""``maintenance_coordinator``: cleanup scans, structure checks, handover documents.

Actions:

- ``scan_cleanup`` reclaims expired leases, cancels open tasks whose parent was
  cancelled or archived, blocks pending tasks that wait on a dependency that
  can never complete (failed, cancelled or archived), recounts status counters
  that drifted, and (``validation_level="full"``) removes stored content no
  artifact refers to; the ``cleaners`` an adapter passes remove scratch space
  of crashed work.
- ``validate_structure`` checks the task tree and the dependency graph, and
  reports pending tasks that wait on such a dead dependency and status
  counters (``task_counts``) that disagree with a real count (and, at ``full``,
  that every artifact's content is present and matches its sha256).
- ``update_documentation`` writes ``.castoff/SESSION.md``, the session's status.
- ``prepare_handover`` writes ``.castoff/handover.md`` for whoever continues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Connection

from castoff.errors import CastoffError, UsageError
from castoff.orchestrator import graph, lifecycle
from castoff.orchestrator.handover import handover_document, status_document
from castoff.orchestrator.models import (
    OPEN_STATUSES,
    Finding,
    MaintenanceReport,
    Task,
    TaskStatus,
)
from castoff.orchestrator.sessions import SessionOperations
from castoff.store import artifacts as artifact_store
from castoff.store import counters
from castoff.store import leases as lease_store
from castoff.store import queries as query_store
from castoff.store import sessions as session_store
from castoff.store import tasks as task_store
from castoff.store.artifacts import sha256_of
from castoff.workspace import state_dir

ACTIONS = ("scan_cleanup", "validate_structure", "update_documentation", "prepare_handover")
SCOPES = ("session", "all")
LEVELS = ("basic", "full")
OPEN = sorted(OPEN_STATUSES)
STATUSES = [s.value for s in TaskStatus]
CLOSED_PARENT = sorted({TaskStatus.CANCELLED, TaskStatus.ARCHIVED})
#: A dependency in one of these never completes (a failed one only if retried by hand).
DEAD_ENDS = sorted({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.ARCHIVED})
#: Removes what crashed work left outside the store under a working directory; the paths.
Cleaner = Callable[[Path], list[str]]


class MaintenanceOperations(SessionOperations):
    """maintenance_coordinator."""

    def maintenance_coordinator(
        self,
        action: str,
        scope: str = "session",
        validation_level: str = "basic",
        *,
        cleaners: Sequence[Cleaner] = (),
    ) -> MaintenanceReport:
        """Run one maintenance ``action`` over this session (or ``scope="all"`` sessions).

        ``cleaners`` (scan_cleanup only) remove what crashed work left outside
        the store — each is called with the session's working directory and
        returns what it removed. The orchestrator knows no such places; the
        adapters pass the release layer's (scratch worktrees and build folders).
        """
        for value, allowed, name in (
            (action, ACTIONS, "action"),
            (scope, SCOPES, "scope"),
            (validation_level, LEVELS, "validation_level"),
        ):
            if value not in allowed:
                raise UsageError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        full = validation_level == "full"
        if action == "scan_cleanup":
            findings = self.db.write(lambda conn: self._scan_cleanup(conn, scope, full=full))
            findings += self._run_cleaners(cleaners)
        elif action == "validate_structure":
            findings = self.db.read(lambda conn: self._validate(conn, scope, full=full))
        else:
            return self._write_document(action, scope, validation_level)
        fixed = sum(1 for f in findings if f.fixed)
        return MaintenanceReport(
            action=action,
            scope=scope,
            validation_level=validation_level,
            findings=findings,
            fixed=fixed,
        )

    def _run_cleaners(self, cleaners: Sequence[Cleaner]) -> list[Finding]:
        findings: list[Finding] = []
        for clean in cleaners:
            try:
                removed = clean(self.working_directory)
            except CastoffError as exc:
                findings.append(Finding("scratch_cleanup_failed", None, str(exc)))
                continue
            findings += [
                Finding("stale_scratch", None, f"removed {path} (its owner is gone)", "info", True)
                for path in removed
            ]
        removed = [f.message for f in findings if f.fixed]
        if removed:
            kind = "maintenance.scratch_removed"
            self.db.write(lambda conn: self.event(conn, kind, paths=removed))
        return findings

    def _sessions(self, conn: Connection, scope: str) -> list[str]:
        if scope == "session":
            return [self.session_id]
        return [r["id"] for r, _ in session_store.list_with_counts(conn)]

    def _scan_cleanup(self, conn: Connection, scope: str, *, full: bool) -> list[Finding]:
        findings: list[Finding] = []
        now = self.now()
        for sid in self._sessions(conn, scope):
            for task_id in lease_store.reclaim_expired(conn, sid, now):
                self.event(
                    conn,
                    "task.pending",
                    task_id=task_id,
                    session_id=sid,
                    at=now,
                    reason="lease expired (scan_cleanup)",
                    **{"from": "in_progress"},
                )
                findings.append(
                    Finding("expired_lease", task_id, "lease expired; back to pending", fixed=True)
                )
            while found := query_store.with_closed_parent(conn, sid, OPEN, CLOSED_PARENT):
                # Locked and checked again: one completed meanwhile is not cancelled.
                locked = task_store.get_many_locked(conn, found)
                orphans = {r["id"]: r["status"] for r in locked if r["status"] in OPEN}
                if not orphans:
                    break
                task_store.set_many(
                    conn,
                    list(orphans),
                    {
                        "status": TaskStatus.CANCELLED.value,
                        "lease_owner": None,
                        "lease_expires_at": None,
                        "updated_at": now,
                    },
                )
                for task_id, was in orphans.items():
                    self.event(
                        conn,
                        "task.cancelled",
                        task_id=task_id,
                        session_id=sid,
                        at=now,
                        reason="parent is closed (scan_cleanup)",
                        **{"from": was},
                    )
                    findings.append(
                        Finding("orphaned_task", task_id, "parent is closed; cancelled", fixed=True)
                    )
            for status, (stored, real) in counters.repair(conn, sid, STATUSES).items():
                findings.append(_counter_finding(sid, status, stored, real, fixed=True))
            for task_id, reason in _dead_dependencies(conn, sid).items():
                blocked = {"status": TaskStatus.BLOCKED.value, "error": reason, "updated_at": now}
                if not task_store.set_if_status(conn, [task_id], TaskStatus.PENDING, blocked):
                    continue  # claimed or changed meanwhile
                self.event(
                    conn,
                    "task.blocked",
                    task_id=task_id,
                    session_id=sid,
                    at=now,
                    reason=f"{reason} (scan_cleanup)",
                    **{"from": TaskStatus.PENDING.value},
                )
                findings.append(
                    Finding("dead_dependency", task_id, f"{reason}; blocked", fixed=True)
                )
        if full:
            unused = self.blobs.unreferenced(conn)
            self.blobs.remove(conn, unused)
            findings += [
                Finding("unreferenced_content", None, f"content {sha} removed", "info", True)
                for sha in unused
            ]
        if findings:
            self.event(conn, "maintenance.scan_cleanup", at=now, fixed=len(findings))
        return findings

    def _validate(self, conn: Connection, scope: str, *, full: bool) -> list[Finding]:
        findings: list[Finding] = []
        for sid in self._sessions(conn, scope):
            tree = task_store.session_parents(conn, sid)
            status = {t: TaskStatus(s) for t, _, s in tree}
            parents = {t: p for t, p, _ in tree}
            loop = graph.parent_loop(parents)
            if loop:
                findings.append(Finding("parent_loop", loop[0], " -> ".join(loop), "error"))
            for task_id, parent in parents.items():
                if parent is not None and parent not in status:
                    findings.append(
                        Finding(
                            "foreign_parent",
                            task_id,
                            f"parent {parent} is in another session",
                            "error",
                        )
                    )
                elif (
                    parent is not None
                    and status[parent] == TaskStatus.COMPLETED
                    and lifecycle.is_open(status[task_id])
                ):
                    findings.append(
                        Finding(
                            "open_child",
                            task_id,
                            f"parent {parent} is completed, this is {status[task_id]}",
                        )
                    )
            edges = task_store.session_edges(conn, sid)
            cycle = graph.find_cycle(edges)
            if cycle:
                findings.append(Finding("dependency_cycle", cycle[0], " -> ".join(cycle), "error"))
            for task_id, dep in edges:
                if dep not in status:
                    findings.append(
                        Finding(
                            "foreign_dependency",
                            task_id,
                            f"depends on {dep} in another session",
                            "error",
                        )
                    )
                elif (
                    status[task_id] == TaskStatus.COMPLETED and status[dep] != TaskStatus.COMPLETED
                ):
                    findings.append(
                        Finding(
                            "unmet_dependency", task_id, f"completed, but {dep} is {status[dep]}"
                        )
                    )
            findings += [
                Finding("dead_dependency", task_id, reason)
                for task_id, reason in _dead_dependencies(conn, sid).items()
            ]
            findings += [
                _counter_finding(sid, status, stored, real, fixed=False)
                for status, (stored, real) in counters.drift(conn, sid).items()
            ]
            running = query_store.by_status(conn, sid, "in_progress", limit=100_000)
            findings += [
                Finding("missing_lease", r["id"], "in progress without a lease", "error")
                for r in running
                if r["lease_owner"] is None or r["lease_expires_at"] is None
            ]
            if full:
                findings += self._check_contents(conn, list(status))
        return findings

    def _check_contents(self, conn: Connection, task_ids: list[str]) -> list[Finding]:
        findings = []
        checked: set[str] = set()
        for a in artifact_store.for_tasks(conn, task_ids):
            sha = a["sha256"]
            if sha in checked:
                continue
            checked.add(sha)
            if not self.blobs.exists(conn, sha):
                findings.append(
                    Finding(
                        "missing_content", a["task_id"], f"{a['name']}: {sha} is missing", "error"
                    )
                )
            elif sha256_of(self.blobs.get(conn, sha)) != sha:
                findings.append(
                    Finding(
                        "corrupt_content",
                        a["task_id"],
                        f"{a['name']}: {sha} does not match",
                        "error",
                    )
                )
        return findings

    def _write_document(self, action: str, scope: str, level: str) -> MaintenanceReport:
        if scope != "session":
            raise UsageError(f"{action} writes one session's document; use scope=session")
        status = self.get_status(include_completed=True)

        def gather(conn: Connection) -> list[Task]:
            found = query_store.query(
                conn, query_store.TaskQuery(session_id=self.session_id), limit=100_000, offset=0
            )[0]
            return self.tasks_from_rows(conn, found, with_artifacts=True)

        tasks = self.db.read(gather)
        if action == "prepare_handover":
            document, name = handover_document(status, tasks), "handover.md"
        else:
            document, name = status_document(status, tasks), "SESSION.md"
        target = state_dir(Path(status.session.working_directory)) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(document, encoding="utf-8")
        tmp.replace(target)
        self.db.write(lambda conn: self.event(conn, f"maintenance.{action}", path=str(target)))
        return MaintenanceReport(
            action=action, scope=scope, validation_level=level, document=document, path=str(target)
        )


def _counter_finding(
    session_id: str, status: str, stored: int, real: int, *, fixed: bool
) -> Finding:
    """A status counter (``task_counts``) that disagrees with the session's tasks."""
    message = f"session {session_id}: {stored} task(s) counted as {status}, {real} really"
    return Finding(
        "counter_drift", None, message + ("; recounted" if fixed else ""), "error", fixed
    )


def _dead_dependencies(conn: Connection, session_id: str) -> dict[str, str]:
    """Pending tasks waiting on a dependency that cannot complete: task id → why."""
    found: dict[str, list[str]] = {}
    for task_id, dep, status in query_store.with_closed_dependency(
        conn, session_id, [TaskStatus.PENDING.value], DEAD_ENDS
    ):
        found.setdefault(task_id, []).append(f"{dep} is {status}")
    return {
        task_id: f"it can never run: dependency {', '.join(deps)}"
        for task_id, deps in found.items()
    }
