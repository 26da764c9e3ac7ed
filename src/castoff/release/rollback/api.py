"""The two rollback operations as the CLI and the MCP server call them.

``rollback_plan`` and ``rollback_run`` take a project directory and the tool
parameters, load the configuration, open the store only when it is needed,
and return plain dataclasses (serialize with :func:`plan_data` /
:func:`outcome_data`). The adapters add nothing but presentation.

``rollback_plan`` stores the plan it returns as
``.castoff/rollback/rollback-plan-<tag>.md`` / ``.json`` (``plan.artifacts``
lists them), so the CLI and the MCP tool leave the same record. Before
verifying (``rollback_plan(verify=True)``) or running (``rollback_run(yes=True)``)
the scratch worktrees a crashed verification left behind are removed.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from pathlib import Path

from castoff import workspace
from castoff.config import load_config
from castoff.release.rollback.execute import Progress, RollbackRun, run_rollback
from castoff.release.rollback.model import RollbackPlan
from castoff.release.rollback.plan import plan_documents
from castoff.release.rollback.repo import plan_rollback, resolve_new_release
from castoff.release.rollback.verify import cleanup_stale_worktrees, verify_plan
from castoff.release.version import resolve_package

PLAN_DIR = "rollback"
logger = logging.getLogger("castoff.rollback")


def _file_name(name: str) -> str:
    """An artifact name as a file name (a monorepo tag such as ``pkg/v1.0.0`` has a slash)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def store_plan(root: Path, plan: RollbackPlan) -> RollbackPlan:
    """Store ``plan`` as ``rollback-plan-<tag>.md`` / ``.json`` under ``.castoff/rollback/``.

    Returns the plan with ``artifacts`` set (the stored JSON lists them too). A
    plan that cannot be stored is returned without artifacts and a warning is
    logged: the plan itself matters more.
    """
    directory = workspace.state_dir(root) / PLAN_DIR
    names = [_file_name(name) for name, _content, _kind in plan_documents(plan)]
    stored = replace(plan, artifacts=tuple(str(directory / n) for n in names))
    try:
        workspace.ensure_state_dir(workspace.state_dir(root))
        directory.mkdir(exist_ok=True)
        for file_name, (_name, content, _kind) in zip(names, plan_documents(stored), strict=True):
            (directory / file_name).write_text(content, encoding="utf-8")
    except OSError as exc:
        logger.warning("castoff: warning: the rollback plan could not be stored: %s", exc)
        return plan
    return stored


def rollback_plan(
    root: Path,
    *,
    to: str | None = None,
    version: str | None = None,
    verify: bool = False,
    on_progress: Progress | None = None,
    package: str | None = None,
) -> RollbackPlan:
    """Plan undoing release ``version`` (default: latest tag) back to ``to``; maybe verify it.

    The plan is stored (see :func:`store_plan`); ``to`` must be older than the
    release (UsageError otherwise). In a monorepo the release is ``package``'s
    (or that of the package whose tag ``to`` is).
    """
    config = load_config(root)
    package = resolve_package(config, package, to)
    new_version, new_tag, new_ref = resolve_new_release(root, config, version, package)
    plan = plan_rollback(
        root,
        config,
        new_version=new_version,
        new_tag=new_tag,
        new_ref=new_ref,
        target_tag=to,
        package=package,
    )
    if verify:
        cleanup_stale_worktrees(root)
        plan = plan.with_verification(verify_plan(root, config, plan, on_progress=on_progress))
    return store_plan(root, plan)


def rollback_run(
    root: Path,
    *,
    to: str,
    yes: bool = False,
    push: bool = False,
    database_url: str | None = None,
    on_progress: Progress | None = None,
    package: str | None = None,
) -> RollbackRun:
    """Dry-run (default) or run the rollback to ``to``; a dry run never creates a store.

    A dry run writes nothing at all; a real run first removes the verification
    worktrees a crashed process left behind. In a monorepo ``to`` is a tag of
    ``package`` (which, when not given, is the package whose tag format ``to`` matches).
    """
    config = load_config(root)
    package = resolve_package(config, package, to)
    if yes:
        cleanup_stale_worktrees(root)
    store_exists = (workspace.state_dir(root) / "castoff.db").exists()
    if not (yes or store_exists or database_url or workspace.DATABASE_ENV in os.environ):
        return run_rollback(root, config, None, to_tag=to, yes=False, push=push, package=package)
    from castoff.orchestrator.service import Orchestrator

    with Orchestrator.open(
        root, database_url=database_url, actor="rollback", process_bound=True
    ) as orch:
        return run_rollback(
            root,
            config,
            orch,
            to_tag=to,
            yes=yes,
            push=push,
            on_progress=on_progress,
            package=package,
        )
