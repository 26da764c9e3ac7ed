"""maintenance_coordinator and health_check (both dialects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from castoff.errors import UsageError
from castoff.orchestrator.models import TaskStatus
from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import task_dependencies, tasks


def _set(orch: Orchestrator, task_id: str, **values: object) -> None:
    orch.db.write(
        lambda conn: conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
    )


def test_scan_cleanup_reclaims_expired_leases(orch: Orchestrator) -> None:
    """An expired lease is found, fixed and reported."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    _set(orch, a.id, lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    report = orch.maintenance_coordinator("scan_cleanup")
    assert [(f.kind, f.task_id, f.fixed) for f in report.findings] == [
        ("expired_lease", a.id, True)
    ]
    assert orch.get_task(a.id).status == "pending"


def test_scan_cleanup_cancels_orphans(orch: Orchestrator) -> None:
    """Open tasks under a closed parent are cancelled, down the tree."""
    p = orch.plan_task("p")
    c = orch.plan_task("c", parent_task_id=p.id)
    g = orch.plan_task("g", parent_task_id=c.id)
    _set(orch, p.id, status="archived")
    report = orch.maintenance_coordinator("scan_cleanup")
    assert {f.task_id for f in report.findings if f.kind == "orphaned_task"} == {c.id, g.id}
    assert orch.get_task(g.id).status == "cancelled"


def test_scan_cleanup_full_removes_unreferenced_content(orch: Orchestrator) -> None:
    """At validation_level=full, content no artifact uses is removed."""
    sha = orch.db.write(lambda conn: orch.blobs.put(conn, b"stray"))
    report = orch.maintenance_coordinator("scan_cleanup", validation_level="full")
    assert [f.kind for f in report.findings] == ["unreferenced_content"]
    assert not orch.db.read(lambda conn: orch.blobs.exists(conn, sha))


def test_validate_structure_clean_graph(orch: Orchestrator) -> None:
    """A consistent session has no findings."""
    a = orch.plan_task("a")
    orch.plan_task("b", dependencies=[a.id], parent_task_id=a.id)
    assert (
        orch.maintenance_coordinator("validate_structure", validation_level="full").findings == []
    )


def test_validate_structure_finds_cycle_and_missing_lease(orch: Orchestrator) -> None:
    """A dependency cycle written behind the orchestrator's back is reported."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    orch.db.write(
        lambda conn: conn.execute(
            insert(task_dependencies), [{"task_id": a.id, "depends_on_id": b.id}]
        )
    )
    _set(orch, b.id, status="in_progress")
    kinds = {f.kind for f in orch.maintenance_coordinator("validate_structure").findings}
    assert kinds == {"dependency_cycle", "missing_lease"}


def test_validate_full_detects_missing_content(orch: Orchestrator) -> None:
    """full validation notices artifact content that disappeared."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    done = orch.complete_task(a.id, "ok", detailed_work="text")
    orch.db.write(lambda conn: orch.blobs.remove(conn, [done.artifacts[0].sha256]))
    findings = orch.maintenance_coordinator("validate_structure", validation_level="full").findings
    assert [f.kind for f in findings] == ["missing_content"]


def test_prepare_handover_writes_markdown(orch: Orchestrator, workdir: Path) -> None:
    """The handover lists running, ready and completed work."""
    a = orch.plan_task("Write notes")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "notes done", next_action="tag the release")
    orch.plan_task("Tag release")
    report = orch.maintenance_coordinator("prepare_handover")
    text = (workdir / ".castoff" / "handover.md").read_text()
    assert report.path == str(workdir / ".castoff" / "handover.md")
    assert "## Ready to start" in text
    assert "Tag release" in text
    assert "tag the release" in text


def test_update_documentation_writes_session_md(orch: Orchestrator, workdir: Path) -> None:
    """update_documentation writes SESSION.md with every status group present."""
    orch.plan_task("a")
    orch.maintenance_coordinator("update_documentation")
    assert "## Pending" in (workdir / ".castoff" / "SESSION.md").read_text()


def test_unknown_action_is_refused(orch: Orchestrator) -> None:
    """A bad action names the allowed ones."""
    with pytest.raises(UsageError, match="scan_cleanup"):
        orch.maintenance_coordinator("defrag")


def test_health_check_reports_database(orch: Orchestrator) -> None:
    """health_check includes dialect, migration, latency, journal and counts."""
    orch.plan_task("a")
    orch.put_record("note", {"n": 1}, expect=None, event="test.noted")
    report = orch.health_check(include_database_status=True)
    assert report.healthy
    db = report.database
    assert db is not None
    assert db.dialect == orch.db.dialect
    assert db.migration_version == db.migration_head
    assert db.counts["tasks"] == 1
    assert db.counts["records"] == 1
    assert db.latency_ms >= 0
    assert db.journal_mode in {"wal", "replica", "logical", "minimal"}


def test_health_check_without_database_status(orch: Orchestrator) -> None:
    """Without include_database_status the report has no database section."""
    assert orch.health_check().database is None


@pytest.mark.parametrize("dead", ["cancelled", "failed", "archived"])
def test_pending_task_behind_a_dead_dependency_is_found_and_blocked(
    orch: Orchestrator, dead: str
) -> None:
    """validate_structure reports it; scan_cleanup blocks it with the reason."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    c = orch.plan_task("c", dependencies=[b.id])
    _set(orch, a.id, status=dead)
    findings = orch.maintenance_coordinator("validate_structure").findings
    assert [(f.kind, f.task_id, f.fixed) for f in findings] == [("dead_dependency", b.id, False)]
    assert f"{a.id} is {dead}" in findings[0].message
    assert orch.get_task(b.id).status == TaskStatus.PENDING
    report = orch.maintenance_coordinator("scan_cleanup")
    assert [(f.kind, f.task_id, f.fixed) for f in report.findings] == [
        ("dead_dependency", b.id, True)
    ]
    blocked = orch.get_task(b.id)
    assert blocked.status == TaskStatus.BLOCKED
    assert blocked.error is not None
    assert "can never run" in blocked.error
    assert orch.events(task_id=b.id, limit=1)[0].kind == "task.blocked"
    assert orch.get_task(c.id).status == TaskStatus.PENDING  # b may be unblocked: c waits
    assert orch.maintenance_coordinator("validate_structure").findings == []


def test_health_check_counts_dependencies(orch: Orchestrator) -> None:
    """The database counts include task_dependencies."""
    a = orch.plan_task("a")
    orch.plan_task("b", dependencies=[a.id])
    report = orch.health_check(include_database_status=True)
    assert report.database is not None
    assert report.database.counts["task_dependencies"] == 1


def test_scan_cleanup_runs_the_cleaners_it_is_given(orch: Orchestrator, workdir: Path) -> None:
    """Cleaners get the working directory; what they removed is reported and recorded."""
    seen: list[Path] = []

    def cleaner(root: Path) -> list[str]:
        seen.append(root)
        return ["/tmp/left-by-a-crash"]

    report = orch.maintenance_coordinator("scan_cleanup", cleaners=(cleaner,))
    assert seen == [workdir]
    assert [(f.kind, f.fixed) for f in report.findings] == [("stale_scratch", True)]
    assert "/tmp/left-by-a-crash" in report.findings[0].message
    assert orch.events(limit=1)[0].kind == "maintenance.scratch_removed"


def test_a_failing_cleaner_is_a_finding_not_a_crash(orch: Orchestrator) -> None:
    """A cleaner raising a castoff error becomes a warning; the scan still reports."""

    def broken(root: Path) -> list[str]:
        raise UsageError(f"cannot look at {root}")

    report = orch.maintenance_coordinator("scan_cleanup", cleaners=(broken,))
    assert [(f.kind, f.severity, f.fixed) for f in report.findings] == [
        ("scratch_cleanup_failed", "warning", False)
    ]
