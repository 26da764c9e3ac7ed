"""The task lifecycle as an explicit state machine (pure).

::

    pending ──execute──▶ in_progress ──complete──▶ completed ──▶ archived
       │  ▲                 │  │  └──fail──▶ failed ──retry──▶ pending
       │  └──lease expires──┘  └──block──▶ blocked ──unblock──▶ pending
       └──────────── cancel (from any open status) ──▶ cancelled ──reopen──▶ pending

A task is *executable* when it is pending and every dependency is completed.
"""

from __future__ import annotations

from castoff.errors import InvalidTransition
from castoff.orchestrator.models import OPEN_STATUSES, TaskStatus

P, R, B = TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED
C, F, X, A = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.ARCHIVED

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    P: frozenset({R, B, X, A}),
    R: frozenset({C, F, P, B, X}),
    B: frozenset({P, X, A}),
    F: frozenset({P, X, A}),
    C: frozenset({A}),
    X: frozenset({P, A}),
    A: frozenset(),
}

# Statuses update_task may set directly; the others have their own operation.
SETTABLE: dict[TaskStatus, str] = {
    P: "",
    B: "",
    A: "",
    R: "use execute_task to start a task",
    C: "use complete_task to complete a task",
    F: "use fail_task to record a failure",
    X: "use cancel_task to cancel a task",
}


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    """True when the lifecycle allows ``current`` → ``target``."""
    return target in TRANSITIONS[current]


def check_transition(task_id: str, current: TaskStatus, target: TaskStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``current`` → ``target`` is allowed."""
    if can_transition(current, target):
        return
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (final)"
    raise InvalidTransition(
        f"task {task_id} is {current}; it cannot become {target} (allowed: {allowed})",
        task_id=task_id,
        current=str(current),
        target=str(target),
    )


def is_open(status: TaskStatus) -> bool:
    """Pending, in progress or blocked: work that is not finished."""
    return status in OPEN_STATUSES
