"""The one table of MCP tools, and the profiles that select from it.

Each :class:`ToolSpec` names a typed tool function (its signature, minus the
first ``state`` parameter, becomes the input schema; its return type becomes
the output schema; its docstring the description), the profiles that offer it,
and the behaviour hints clients see. Adding a tool is one entry in ``TOOLS``.

Profiles keep an agent's context small (sizes in docs/mcp.md):

- ``core``: the task loop an agent drives — session, plan, execute, complete,
  query, status, update, cancel.
- ``release``: the release components that exist, plus ``orchestrator_get_status``.
- ``all``: every tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from castoff.mcp import orchestrator_tools as orch
from castoff.mcp import release_tools as rel

PROFILES = ("core", "release", "all")
CORE = frozenset({"core"})
RELEASE = frozenset({"release"})
BOTH = CORE | RELEASE
ALL_ONLY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: its function, profiles and behaviour hints."""

    name: str
    fn: Callable[..., Any]
    profiles: frozenset[str]
    title: str
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False


def _spec(
    name: str,
    fn: Callable[..., Any],
    profiles: frozenset[str],
    title: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
) -> ToolSpec:
    return ToolSpec(
        name=name,
        fn=fn,
        profiles=profiles,
        title=title,
        # A read-only tool is also idempotent and not destructive.
        read_only=read_only,
        destructive=destructive and not read_only,
        idempotent=idempotent or read_only,
        open_world=open_world,
    )


RO = {"read_only": True}

TOOLS: tuple[ToolSpec, ...] = (
    # -- orchestrator: the task loop (core) ------------------------------------------
    _spec(
        "orchestrator_initialize_session",
        orch.initialize_session,
        CORE,
        "Start or reopen a session",
        idempotent=True,
    ),
    _spec("orchestrator_plan_task", orch.plan_task, CORE, "Plan a task"),
    _spec("orchestrator_execute_task", orch.execute_task, CORE, "Claim a task and get its context"),
    _spec("orchestrator_complete_task", orch.complete_task, CORE, "Complete a task"),
    _spec("orchestrator_query_tasks", orch.query_tasks, CORE, "Find tasks", **RO),
    _spec("orchestrator_get_status", orch.get_status, BOTH, "Session progress", **RO),
    _spec("orchestrator_update_task", orch.update_task, CORE, "Change a task", idempotent=True),
    _spec(
        "orchestrator_cancel_task",
        orch.cancel_task,
        CORE,
        "Cancel a task",
        destructive=True,
        idempotent=True,
    ),
    # -- orchestrator: coordination and upkeep (all) ---------------------------------
    _spec(
        "orchestrator_delete_task",
        orch.delete_task,
        ALL_ONLY,
        "Delete or archive a task",
        destructive=True,
    ),
    _spec(
        "orchestrator_synthesize_results",
        orch.synthesize_results,
        ALL_ONLY,
        "Combine child results",
    ),
    _spec("orchestrator_health_check", orch.health_check, ALL_ONLY, "Check the orchestrator", **RO),
    _spec(
        "orchestrator_maintenance_coordinator",
        orch.maintenance_coordinator,
        ALL_ONLY,
        "Maintain the task graph",
    ),
    _spec(
        "orchestrator_restart_status",
        orch.restart_status,
        ALL_ONLY,
        "What the last restart recovered",
        **RO,
    ),
    _spec("orchestrator_list_sessions", orch.list_sessions, ALL_ONLY, "List sessions", **RO),
    _spec(
        "orchestrator_resume_session",
        orch.resume_session,
        ALL_ONLY,
        "Resume a session",
        idempotent=True,
    ),
    _spec(
        "orchestrator_session_status", orch.session_status, ALL_ONLY, "One session's status", **RO
    ),
    _spec(
        "orchestrator_cleanup_sessions",
        orch.cleanup_sessions,
        ALL_ONLY,
        "Remove stale sessions",
        destructive=True,
        idempotent=True,
    ),
    # -- release components: one entry per component tool that exists ---------------
    _spec("notes_generate", rel.notes_generate, RELEASE, "Generate release notes"),
    _spec("version_next", rel.version_next, RELEASE, "Plan the next version", **RO),
    _spec(
        "version_tag", rel.version_tag, RELEASE, "Tag the release", idempotent=True, open_world=True
    ),
    _spec("validate_preflight", rel.validate_preflight, RELEASE, "Pre-flight checks", **RO),
    _spec(
        "validate_postdeploy",
        rel.validate_postdeploy,
        RELEASE,
        "Post-deploy checks",
        read_only=True,
        open_world=True,
    ),
    _spec("rollback_plan", rel.rollback_plan, RELEASE, "Plan a rollback", **RO),
    _spec(
        "rollback_run",
        rel.rollback_run,
        RELEASE,
        "Roll back a release",
        destructive=True,
        idempotent=True,
        open_world=True,
    ),
    _spec("announce_draft", rel.announce_draft, RELEASE, "Draft the announcement", **RO),
    _spec(
        "announce_send",
        rel.announce_send,
        RELEASE,
        "Send the announcement",
        idempotent=True,
        open_world=True,
    ),
    # -- release workflow ---------------------------------------------------------
    _spec(
        "release_prepare",
        rel.release_prepare,
        RELEASE,
        "Prepare the release",
        idempotent=True,
        open_world=True,
    ),
    _spec("release_status", rel.release_status, RELEASE, "Release status", **RO),
    _spec(
        "release_resume",
        rel.release_resume,
        RELEASE,
        "Resume the release",
        idempotent=True,
        open_world=True,
    ),
)


def tools_for(profile: str) -> list[ToolSpec]:
    """The tools a profile offers, in table order."""
    if profile not in PROFILES:
        raise ValueError(f"unknown tool profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile == "all":
        return list(TOOLS)
    return [spec for spec in TOOLS if profile in spec.profiles]
