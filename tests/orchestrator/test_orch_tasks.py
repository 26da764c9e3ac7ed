"""Planning, updating, cancelling, deleting and querying tasks (both dialects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from castoff.errors import (
    ConflictError,
    DependencyCycle,
    InvalidTransition,
    LeaseConflict,
    NotFound,
    UsageError,
)
from castoff.orchestrator.models import TaskStatus
from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import tasks


def _snapshot(orch: Orchestrator) -> tuple[object, ...]:
    page = orch.query_tasks(limit=1000)
    return tuple(
        (t.id, t.status, tuple(t.dependencies), t.parent_task_id) for t in page.tasks
    ), len(orch.events(limit=1000))


def test_plan_task_stores_every_field(orch: Orchestrator) -> None:
    """plan_task keeps all given fields and starts pending."""
    parent = orch.plan_task("Release 1.2")
    dep = orch.plan_task("Notes")
    task = orch.plan_task(
        "Tag",
        description="tag it",
        task_type="deployment",
        parent_task_id=parent.id,
        complexity="simple",
        specialist_type="version_tagging",
        estimated_effort="1h",
        due_date="2030-01-02",
        context={"version": "1.2.0"},
        dependencies=[dep.id],
    )
    got = orch.get_task(task.id)
    assert got.status == TaskStatus.PENDING
    assert (got.task_type, got.complexity, got.specialist_type) == (
        "deployment",
        "simple",
        "version_tagging",
    )
    assert got.parent_task_id == parent.id
    assert got.dependencies == [dep.id]
    assert got.context == {"version": "1.2.0"}
    assert got.due_date == datetime(2030, 1, 2, tzinfo=UTC)
    assert got.estimated_effort == "1h"


def test_plan_task_refuses_unknown_dependency(orch: Orchestrator) -> None:
    """An unknown dependency id is refused and nothing is stored."""
    before = _snapshot(orch)
    with pytest.raises(NotFound, match="unknown dependencies: nope"):
        orch.plan_task("x", dependencies=["nope"])
    assert _snapshot(orch) == before


def test_plan_task_refuses_bad_enum(orch: Orchestrator) -> None:
    """A malformed value names the allowed values."""
    with pytest.raises(UsageError, match="complexity must be one of"):
        orch.plan_task("x", complexity="huge")


def test_plan_task_refuses_empty_title(orch: Orchestrator) -> None:
    """A title is required."""
    with pytest.raises(UsageError, match="title"):
        orch.plan_task("   ")


def test_plan_task_refuses_malformed_due_date(orch: Orchestrator) -> None:
    """due_date must be ISO 8601."""
    with pytest.raises(UsageError, match="ISO 8601"):
        orch.plan_task("x", due_date="next tuesday")


def test_update_task_refuses_dependency_cycle(orch: Orchestrator) -> None:
    """A dependency that would close a loop is refused; the store is unchanged."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", dependencies=[a.id])
    c = orch.plan_task("c", dependencies=[b.id])
    before = _snapshot(orch)
    with pytest.raises(DependencyCycle, match="cycle"):
        orch.update_task(a.id, dependencies=[c.id])
    assert _snapshot(orch) == before


def test_update_task_refuses_self_dependency(orch: Orchestrator) -> None:
    """A task cannot depend on itself."""
    a = orch.plan_task("a")
    with pytest.raises(DependencyCycle):
        orch.update_task(a.id, dependencies=[a.id])


def test_update_task_changes_fields_and_records_event(orch: Orchestrator) -> None:
    """update_task writes the fields and appends task.updated."""
    a = orch.plan_task("a")
    updated = orch.update_task(a.id, title="A!", complexity="complex", status="blocked")
    assert (updated.title, updated.complexity, updated.status) == ("A!", "complex", "blocked")
    kinds = [e.kind for e in orch.events(task_id=a.id)]
    assert kinds[:2] == ["task.blocked", "task.updated"]


def test_update_task_refuses_status_with_own_operation(orch: Orchestrator) -> None:
    """Completing through update_task is refused with a pointer to complete_task."""
    a = orch.plan_task("a")
    with pytest.raises(UsageError, match="complete_task"):
        orch.update_task(a.id, status="completed")


def test_update_task_refuses_parent_below_itself(orch: Orchestrator) -> None:
    """A task cannot move under its own subtask."""
    a = orch.plan_task("a")
    b = orch.plan_task("b", parent_task_id=a.id)
    with pytest.raises(UsageError, match="below"):
        orch.update_task(a.id, parent_task_id=b.id)


def test_illegal_transition_leaves_store_unchanged(orch: Orchestrator) -> None:
    """completed -> pending is refused and changes nothing."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "done")
    before = _snapshot(orch)
    with pytest.raises(InvalidTransition):
        orch.update_task(a.id, status="pending")
    assert _snapshot(orch) == before


def test_cancel_parent_cancels_open_children(orch: Orchestrator) -> None:
    """Cancelling a parent cancels its open subtasks but not finished ones."""
    p = orch.plan_task("p")
    c1 = orch.plan_task("c1", parent_task_id=p.id)
    c2 = orch.plan_task("c2", parent_task_id=p.id)
    g = orch.plan_task("g", parent_task_id=c1.id)
    orch.execute_task(c2.id)
    orch.complete_task(c2.id, "done")
    result = orch.cancel_task(p.id, reason="not needed")
    assert set(result.cancelled) == {p.id, c1.id, g.id}
    assert orch.get_task(c2.id).status == TaskStatus.COMPLETED
    assert orch.get_task(g.id).status == TaskStatus.CANCELLED


def test_cancel_without_preserve_work_removes_artifacts(orch: Orchestrator) -> None:
    """preserve_work=False drops the artifacts of the cancelled tasks."""
    p = orch.plan_task("p")
    c = orch.plan_task("c", parent_task_id=p.id)
    orch.execute_task(c.id)
    orch.complete_task(c.id, "done")
    orch.synthesize_results(p.id)
    result = orch.cancel_task(p.id, preserve_work=False)
    assert result.artifacts_removed == 1
    assert orch.get_task(p.id).artifacts == []


def test_cancel_preserves_work_by_default(orch: Orchestrator) -> None:
    """By default a cancelled task keeps its artifacts."""
    p = orch.plan_task("p")
    c = orch.plan_task("c", parent_task_id=p.id)
    orch.execute_task(c.id)
    orch.complete_task(c.id, "done")
    orch.synthesize_results(p.id)
    orch.cancel_task(p.id, reason="scope cut")
    got = orch.get_task(p.id)
    assert (got.status, len(got.artifacts), got.error) == ("cancelled", 1, "scope cut")


def test_cancel_completed_task_is_refused(orch: Orchestrator) -> None:
    """A completed task cannot be cancelled."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "done")
    with pytest.raises(InvalidTransition):
        orch.cancel_task(a.id)


def test_delete_refuses_task_with_children_without_force(orch: Orchestrator) -> None:
    """Deleting a parent needs force (exit 3)."""
    p = orch.plan_task("p")
    orch.plan_task("c", parent_task_id=p.id)
    with pytest.raises(ConflictError, match="force"):
        orch.delete_task(p.id)


def test_delete_with_force_removes_subtree_and_dependency_edges(orch: Orchestrator) -> None:
    """force deletes the subtree; tasks that depended on it lose the edge."""
    p = orch.plan_task("p")
    c = orch.plan_task("c", parent_task_id=p.id)
    other = orch.plan_task("other", dependencies=[c.id])
    result = orch.delete_task(p.id, force=True)
    assert set(result.deleted) == {p.id, c.id}
    assert orch.get_task(other.id).dependencies == []
    with pytest.raises(NotFound):
        orch.get_task(c.id)


def test_delete_archive_instead_keeps_rows(orch: Orchestrator) -> None:
    """archive_instead archives the task rather than deleting it."""
    a = orch.plan_task("a")
    result = orch.delete_task(a.id, archive_instead=True)
    assert result.archived == [a.id]
    assert orch.get_task(a.id).status == TaskStatus.ARCHIVED


def test_query_filters_combine(orch: Orchestrator) -> None:
    """Every list filter narrows the result; search_text is case-insensitive."""
    orch.plan_task(
        "Write release notes", specialist_type="release_notes", task_type="documentation"
    )
    orch.plan_task("Tag version", specialist_type="version_tagging", complexity="simple")
    b = orch.plan_task("Blocked thing")
    orch.update_task(b.id, status="blocked")
    assert orch.query_tasks(search_text="RELEASE").total == 1
    assert orch.query_tasks(status=["pending", "blocked"]).total == 3
    assert orch.query_tasks(status="blocked").tasks[0].id == b.id
    assert orch.query_tasks(specialist_type=["version_tagging"], complexity=["simple"]).total == 1
    assert orch.query_tasks(task_type=["documentation", "testing"]).total == 1


def test_query_search_text_treats_wildcards_literally(orch: Orchestrator) -> None:
    """% and _ in search_text match themselves."""
    orch.plan_task("100% done")
    orch.plan_task("1000 done")
    assert orch.query_tasks(search_text="100%").total == 1


def test_query_children_and_descendants(orch: Orchestrator) -> None:
    """parent_task_id gives children; include_children adds grandchildren."""
    p = orch.plan_task("p")
    c = orch.plan_task("c", parent_task_id=p.id)
    orch.plan_task("g", parent_task_id=c.id)
    assert orch.query_tasks(parent_task_id=p.id).total == 1
    assert orch.query_tasks(parent_task_id=p.id, include_children=True).total == 2


def test_query_paging(orch: Orchestrator) -> None:
    """limit/offset page through tasks oldest first with a stable total."""
    ids = [orch.plan_task(f"t{i}").id for i in range(7)]
    first = orch.query_tasks(limit=3)
    last = orch.query_tasks(limit=3, offset=6)
    assert [t.id for t in first.tasks] == ids[:3]
    assert first.total == 7
    assert first.has_more
    assert [t.id for t in last.tasks] == ids[6:]
    assert not last.has_more


def test_query_created_window(orch: Orchestrator) -> None:
    """created_after / created_before bound the creation time."""
    orch.plan_task("a")
    now = datetime.now(UTC)
    assert orch.query_tasks(created_after=(now + timedelta(hours=1)).isoformat()).total == 0
    assert orch.query_tasks(created_before=(now + timedelta(hours=1)).isoformat()).total == 1


def test_query_include_artifacts(orch: Orchestrator) -> None:
    """include_artifacts attaches each task's artifacts."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "done", detailed_work="details")
    assert orch.query_tasks().tasks[0].artifacts == []
    assert orch.query_tasks(include_artifacts=True).tasks[0].artifacts[0].name == "detailed_work.md"


def test_query_refuses_bad_limit(orch: Orchestrator) -> None:
    """limit outside 1..1000 is refused."""
    with pytest.raises(UsageError, match="limit"):
        orch.query_tasks(limit=0)


def test_query_unknown_parent_is_not_found(orch: Orchestrator) -> None:
    """An unknown parent_task_id is refused."""
    with pytest.raises(NotFound):
        orch.query_tasks(parent_task_id="missing")


def test_tasks_of_other_sessions_are_invisible(orch: Orchestrator, db_url: str, tmp_path) -> None:
    """A task id from another session is not found in this one."""
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with Orchestrator.open(other_dir, database_url=db_url) as other:
        foreign = other.plan_task("foreign")
    with pytest.raises(NotFound):
        orch.get_task(foreign.id)
    with pytest.raises(NotFound):
        orch.plan_task("x", dependencies=[foreign.id])


def test_every_transition_is_an_event_with_actor(orch: Orchestrator) -> None:
    """plan, claim and completion each append an event by the actor."""
    a = orch.plan_task("a")
    orch.execute_task(a.id)
    orch.complete_task(a.id, "done")
    events = list(reversed(orch.events(task_id=a.id)))
    assert [e.kind for e in events] == ["task.planned", "task.in_progress", "task.completed"]
    assert {e.actor for e in events} == {"test"}
    assert events[2].data["from"] == "in_progress"


def test_record_event_appends_custom_kind(orch: Orchestrator) -> None:
    """record_event stores the caller's own kind and data."""
    a = orch.plan_task("a")
    orch.record_event(a.id, "release.tagged", {"tag": "v1.0.0"})
    latest = orch.events(kind="release.tagged")[0]
    assert (latest.task_id, latest.data) == (a.id, {"tag": "v1.0.0"})


def test_query_include_children_needs_a_parent(orch: Orchestrator) -> None:
    """include_children without parent_task_id is refused, not silently ignored."""
    orch.plan_task("a")
    with pytest.raises(UsageError, match="include_children needs parent_task_id"):
        orch.query_tasks(include_children=True)


def test_update_status_refuses_another_workers_live_lease(orch: Orchestrator) -> None:
    """Setting an in-progress task pending takes it from its holder: refused unless forced."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="alice")
    before = _snapshot(orch)
    with pytest.raises(LeaseConflict, match=r"leased by alice.*force"):
        orch.update_task(a.id, status="pending")
    assert _snapshot(orch) == before
    task = orch.update_task(a.id, status="pending", force=True)
    assert (task.status, task.lease_owner) == (TaskStatus.PENDING, None)


def test_update_status_by_the_holder_or_after_expiry(orch: Orchestrator) -> None:
    """The holder may give its task back; anyone may once the lease has expired."""
    a = orch.plan_task("a")
    orch.execute_task(a.id, worker="alice")
    assert orch.update_task(a.id, status="blocked", worker="alice").status == TaskStatus.BLOCKED
    orch.update_task(a.id, status="pending")
    orch.execute_task(a.id, worker="bob")
    past = datetime.now(UTC) - timedelta(seconds=1)
    orch.db.write(
        lambda conn: conn.execute(
            update(tasks).where(tasks.c.id == a.id).values(lease_expires_at=past)
        )
    )
    assert orch.update_task(a.id, status="pending").status == TaskStatus.PENDING


def test_events_page_with_before(orch: Orchestrator) -> None:
    """events(before=id) continues the log below a page's last event, without overlap."""
    for n in range(5):
        orch.plan_task(f"t{n}")
    everything = [e.id for e in orch.events(limit=1000)]
    first = orch.events(limit=3)
    second = orch.events(limit=3, before=first[-1].id)
    assert [e.id for e in first + second] == everything[:6]
    with pytest.raises(UsageError, match="before must be an event id"):
        orch.events(before=0)


def test_durations_from_the_last_claim(orch: Orchestrator) -> None:
    """durations: completed and running tasks from their last claim; pending ones absent."""
    done, running, waiting = orch.plan_task("d"), orch.plan_task("r"), orch.plan_task("w")
    orch.execute_task(done.id)
    orch.complete_task(done.id, "ok")
    orch.execute_task(running.id)
    found = orch.durations([orch.get_task(t.id) for t in (done, running, waiting)])
    assert set(found) == {done.id, running.id}
    assert all(0 <= seconds < 60 for seconds in found.values())


def test_plan_tasks_plans_a_graph_by_keys_in_one_go(orch: Orchestrator) -> None:
    """Parent, children and their dependencies named by key (children listed before
    the parent, one dependency on an existing task) are stored as plan_task would,
    with one task.planned event each, and come back in the given order."""
    from castoff.orchestrator.models import TaskSpec

    before = orch.plan_task("existing")
    planned = orch.plan_tasks(
        [
            TaskSpec("notes", "Notes", parent="root", specialist_type="release_notes"),
            TaskSpec("tag", "Tag", parent="root", dependencies=["notes", before.id]),
            TaskSpec("root", "Release", task_type="deployment", context={"k": 1}),
        ]
    )
    notes, tag, root = planned
    assert [t.title for t in planned] == ["Notes", "Tag", "Release"]
    assert notes.parent_task_id == tag.parent_task_id == root.id
    assert root.parent_task_id is None
    assert tag.dependencies == [notes.id, before.id]
    assert [t.id for t in planned] == sorted(t.id for t in planned)
    stored = {t.id: t for t in orch.query_tasks(limit=100).tasks}
    assert stored[tag.id].dependencies == sorted([notes.id, before.id])
    assert stored[root.id].context == {"k": 1}
    assert stored[notes.id].specialist_type == "release_notes"
    events = [e for e in orch.events(kind="task.planned") if e.task_id in stored]
    assert len(events) == 4
    tag_event = next(e for e in events if e.task_id == tag.id)
    assert tag_event.data == {
        "title": "Tag",
        "parent_task_id": root.id,
        "dependencies": [notes.id, before.id],
    }
    assert orch.get_status().counts["pending"] == 4


@pytest.mark.parametrize(
    ("specs", "error", "message"),
    [
        ([("a", ["b"]), ("b", ["a"])], DependencyCycle, "cycle: a -> b -> a"),
        ([("a", ["a"])], DependencyCycle, "task a cannot depend on itself"),
        ([("a", []), ("a", [])], UsageError, r"unique within a batch \(repeated: a\)"),
        ([("a", ["no-such-id"])], NotFound, "unknown dependencies: no-such-id"),
    ],
)
def test_plan_tasks_refuses_a_bad_batch_and_writes_nothing(
    orch: Orchestrator,
    specs: list[tuple[str, list[str]]],
    error: type[Exception],
    message: str,
) -> None:
    """A cycle, a self-dependency, a repeated key or an unknown id: one clear error and
    the store unchanged."""
    from castoff.orchestrator.models import TaskSpec

    orch.plan_task("keep")
    before = _snapshot(orch)
    with pytest.raises(error, match=message):
        orch.plan_tasks([TaskSpec(k, k, dependencies=d) for k, d in specs])
    assert _snapshot(orch) == before


def test_plan_tasks_refuses_a_parent_loop(orch: Orchestrator) -> None:
    """Two tasks of a batch that are each other's parent are refused."""
    from castoff.orchestrator.models import TaskSpec

    with pytest.raises(UsageError, match="parents would form a loop"):
        orch.plan_tasks([TaskSpec("a", "a", parent="b"), TaskSpec("b", "b", parent="a")])
    assert orch.query_tasks().total == 0
