"""One executor per release step: the engines, wired in as task executors.

An executor takes a :class:`~.contract.StepInput` (the repository, the
configuration, the release being prepared and the results of the steps
already done) and returns a :class:`~.contract.StepResult` (a summary,
JSON-ready data kept as the task's ``result.json`` artifact, and documents
stored as further artifacts). A part of the data that is also one of the
documents (the notes as ``notes.json``, the pre-flight report as
``preflight.json``) is stored once, as that document, and ``result.json``
names it (``StepResult.refs``).

The results an executor reads are only those the release runner itself
produced: a step completed by anyone else is run again (see
:mod:`.runner`). The tag step still checks its own preconditions from those
results — validation passed and the rollback was verified, both on the
commit it tags — so no edit of the task graph can get a commit tagged that
was not validated.

Every executor is idempotent: run again after a crash at any point, it
finishes what is missing and never doubles a tag, a CHANGELOG section, a
commit or an announcement. Executors never touch the orchestrator; the
runner does that.

:data:`EXECUTORS` maps each step's key to its executor. The executors live
by concern: :mod:`.git_steps` (version, notes, release_commit, tag, push),
:mod:`.check_steps` (validate, rollback) and :mod:`.announce_steps`
(announce_draft, highlights, announce_send); the types they share are in
:mod:`.contract`.
"""

from __future__ import annotations

from collections.abc import Callable

from castoff.release.workflow.announce_steps import (
    run_announce_draft,
    run_announce_send,
    run_highlights,
)
from castoff.release.workflow.check_steps import run_rollback, run_validate
from castoff.release.workflow.contract import StepInput, StepResult
from castoff.release.workflow.git_steps import (
    run_notes,
    run_push,
    run_release_commit,
    run_tag,
    run_version,
)

EXECUTORS: dict[str, Callable[[StepInput], StepResult]] = {
    "version": run_version,
    "notes": run_notes,
    "release_commit": run_release_commit,
    "validate": run_validate,
    "rollback": run_rollback,
    "announce_draft": run_announce_draft,
    "highlights": run_highlights,
    "tag": run_tag,
    "push": run_push,
    "announce_send": run_announce_send,
}
