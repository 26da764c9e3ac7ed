"""The lifecycle state machine (pure), including property-based checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from castoff.errors import InvalidTransition
from castoff.orchestrator.lifecycle import TRANSITIONS, can_transition, check_transition, is_open
from castoff.orchestrator.models import TaskStatus

statuses = st.sampled_from(list(TaskStatus))


def test_every_status_has_a_row() -> None:
    """The transition table covers every status."""
    assert set(TRANSITIONS) == set(TaskStatus)


def test_archived_is_final() -> None:
    """Nothing leaves archived."""
    assert not TRANSITIONS[TaskStatus.ARCHIVED]


def test_pending_cannot_complete_directly() -> None:
    """A task must be executed before it completes."""
    assert not can_transition(TaskStatus.PENDING, TaskStatus.COMPLETED)


def test_illegal_transition_message_names_allowed_targets() -> None:
    """The error says what is allowed instead."""
    with pytest.raises(InvalidTransition, match=r"allowed: archived"):
        check_transition("t1", TaskStatus.COMPLETED, TaskStatus.PENDING)


@given(statuses, statuses)
def test_check_agrees_with_table(a: TaskStatus, b: TaskStatus) -> None:
    """check_transition raises exactly when the table forbids the move."""
    if b in TRANSITIONS[a]:
        check_transition("t", a, b)
    else:
        with pytest.raises(InvalidTransition):
            check_transition("t", a, b)


@given(statuses)
def test_no_self_transitions(a: TaskStatus) -> None:
    """A status never transitions to itself."""
    assert not can_transition(a, a)


@given(st.lists(statuses, min_size=1, max_size=30))
def test_every_status_reaches_archived_or_is_archived(path: list[TaskStatus]) -> None:
    """From any status some legal path leads to archived (no dead ends)."""
    for start in path:
        seen, frontier = {start}, [start]
        while frontier:
            nxt = [t for s in frontier for t in TRANSITIONS[s] if t not in seen]
            seen.update(nxt)
            frontier = nxt
        assert TaskStatus.ARCHIVED in seen


@given(statuses)
def test_open_statuses_can_be_cancelled(a: TaskStatus) -> None:
    """Every open task can be cancelled."""
    if is_open(a):
        assert can_transition(a, TaskStatus.CANCELLED)
