"""The two rollback operations as the CLI and the MCP server call them.

``rollback_plan`` and ``rollback_run`` take a project directory and the tool
parameters, load the configuration, open the store only when it is needed,
and return plain dataclasses (serialize with :func:`plan_data` /
:func:`outcome_data`). The adapters add nothing but presentation.
"""

from __future__ import annotations

import os
from pathlib import Path

from castoff import workspace
from castoff.config import load_config
from castoff.release.rollback.execute import Progress, RollbackRun, run_rollback
from castoff.release.rollback.model import RollbackPlan
from castoff.release.rollback.repo import plan_rollback, resolve_new_release
from castoff.release.rollback.verify import verify_plan


def rollback_plan(
    root: Path,
    *,
    to: str | None = None,
    version: str | None = None,
    verify: bool = False,
    on_progress: Progress | None = None,
) -> RollbackPlan:
    """Plan undoing release ``version`` (default: latest tag) back to ``to``; maybe verify it."""
    config = load_config(root)
    new_version, new_tag, new_ref = resolve_new_release(root, config, version)
    plan = plan_rollback(
        root, config, new_version=new_version, new_tag=new_tag, new_ref=new_ref, target_tag=to
    )
    if verify:
        plan = plan.with_verification(verify_plan(root, config, plan, on_progress=on_progress))
    return plan


def rollback_run(
    root: Path,
    *,
    to: str,
    yes: bool = False,
    push: bool = False,
    database_url: str | None = None,
    on_progress: Progress | None = None,
) -> RollbackRun:
    """Dry-run (default) or run the rollback to ``to``; a dry run never creates a store."""
    config = load_config(root)
    store_exists = (workspace.state_dir(root) / "castoff.db").exists()
    if not (yes or store_exists or database_url or workspace.DATABASE_ENV in os.environ):
        return run_rollback(root, config, None, to_tag=to, yes=False, push=push)
    from castoff.orchestrator.service import Orchestrator

    with Orchestrator.open(
        root, database_url=database_url, actor="rollback", process_bound=True
    ) as orch:
        return run_rollback(
            root, config, orch, to_tag=to, yes=yes, push=push, on_progress=on_progress
        )
