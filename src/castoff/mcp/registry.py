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

Every tool runs in a worker thread, so the server keeps answering (pings,
cancellations, other calls) while one works. ``inline`` marks the few short
orchestrator calls (one small transaction) that on stdio run on the event loop
instead: the thread hop would cost more than the call. ``long`` marks the tools
that may run for minutes; they accept task-augmented calls (``tasks/*``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ORCH = "castoff.mcp.orchestrator_tools:"
REL = "castoff.mcp.release_tools:"

PROFILES = ("core", "release", "all")
CORE = frozenset({"core"})
RELEASE = frozenset({"release"})
BOTH = CORE | RELEASE
ALL_ONLY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: its function, profiles and behaviour hints."""

    name: str
    target: str
    """``module:function``, imported only when a profile offers the tool (release
    tools import the release engines' result types: not paid for by ``core``)."""
    profiles: frozenset[str]
    title: str
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False
    inline: bool = False
    """Short orchestrator call: on stdio it runs on the event loop, not in a thread."""
    long: bool = False
    """May run for minutes: offered as a task (``execution.taskSupport`` optional)."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The tool function."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _spec(
    name: str,
    target: str,
    profiles: frozenset[str],
    title: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
    inline: bool = False,
    long: bool = False,
) -> ToolSpec:
    return ToolSpec(
        name=name,
        target=target,
        profiles=profiles,
        title=title,
        # A read-only tool is also idempotent and not destructive.
        read_only=read_only,
        destructive=destructive and not read_only,
        idempotent=idempotent or read_only,
        open_world=open_world,
        inline=inline,
        long=long,
    )


RO = {"read_only": True}
SHORT = {"inline": True}

TOOLS: tuple[ToolSpec, ...] = (
    # -- orchestrator: the task loop (core) ------------------------------------------
    _spec(
        "orchestrator_initialize_session",
        ORCH + "initialize_session",
        CORE,
        "Start or reopen a session",
        idempotent=True,
        **SHORT,
    ),
    _spec("orchestrator_plan_task", ORCH + "plan_task", CORE, "Plan a task", **SHORT),
    _spec(
        "orchestrator_execute_task",
        ORCH + "execute_task",
        CORE,
        "Claim a task and get its context",
        **SHORT,
    ),
    _spec("orchestrator_complete_task", ORCH + "complete_task", CORE, "Complete a task", **SHORT),
    _spec("orchestrator_query_tasks", ORCH + "query_tasks", CORE, "Find tasks", **RO, **SHORT),
    _spec("orchestrator_get_status", ORCH + "get_status", BOTH, "Session progress", **RO, **SHORT),
    # Replaces fields (title, context, dependencies, status): not only additive.
    _spec(
        "orchestrator_update_task",
        ORCH + "update_task",
        CORE,
        "Change a task",
        destructive=True,
        idempotent=True,
        **SHORT,
    ),
    _spec(
        "orchestrator_cancel_task",
        ORCH + "cancel_task",
        CORE,
        "Cancel a task",
        destructive=True,
        idempotent=True,
        **SHORT,
    ),
    # -- orchestrator: coordination and upkeep (all) ---------------------------------
    _spec(
        "orchestrator_delete_task",
        ORCH + "delete_task",
        ALL_ONLY,
        "Delete or archive a task",
        destructive=True,
        idempotent=True,
        **SHORT,
    ),
    # A re-run over unchanged children records nothing new.
    _spec(
        "orchestrator_synthesize_results",
        ORCH + "synthesize_results",
        ALL_ONLY,
        "Combine child results",
        idempotent=True,
    ),
    _spec(
        "orchestrator_health_check", ORCH + "health_check", ALL_ONLY, "Check the orchestrator", **RO
    ),
    # scan_cleanup cancels orphaned tasks and blocks hopeless ones.
    _spec(
        "orchestrator_maintenance_coordinator",
        ORCH + "maintenance_coordinator",
        ALL_ONLY,
        "Maintain the task graph",
        destructive=True,
        idempotent=True,
    ),
    _spec(
        "orchestrator_restart_status",
        ORCH + "restart_status",
        ALL_ONLY,
        "What the last restart recovered",
        **RO,
        **SHORT,
    ),
    _spec(
        "orchestrator_list_sessions",
        ORCH + "list_sessions",
        ALL_ONLY,
        "List sessions",
        **RO,
        **SHORT,
    ),
    _spec(
        "orchestrator_resume_session",
        ORCH + "resume_session",
        ALL_ONLY,
        "Resume a session",
        idempotent=True,
        **SHORT,
    ),
    _spec(
        "orchestrator_session_status",
        ORCH + "session_status",
        ALL_ONLY,
        "One session's status",
        **RO,
        **SHORT,
    ),
    _spec(
        "orchestrator_cleanup_sessions",
        ORCH + "cleanup_sessions",
        ALL_ONLY,
        "Remove stale sessions",
        destructive=True,
        idempotent=True,
    ),
    # -- release components: one entry per component tool that exists ---------------
    # The CHANGELOG section is added once: a second update_changelog changes nothing.
    _spec(
        "notes_generate",
        REL + "notes_generate",
        RELEASE,
        "Generate release notes",
        idempotent=True,
        long=True,
    ),
    _spec("version_next", REL + "version_next", RELEASE, "Plan the next version", **RO),
    _spec(
        "version_tag",
        REL + "version_tag",
        RELEASE,
        "Tag the release",
        idempotent=True,
        open_world=True,
    ),
    # Installs from the package index and runs the project's test command (scratch copy).
    _spec(
        "validate_preflight",
        REL + "validate_preflight",
        RELEASE,
        "Pre-flight checks",
        read_only=True,
        open_world=True,
        long=True,
    ),
    _spec(
        "validate_postdeploy",
        REL + "validate_postdeploy",
        RELEASE,
        "Post-deploy checks",
        read_only=True,
        open_world=True,
        long=True,
    ),
    # verify runs the project's build and test commands in a scratch worktree.
    _spec(
        "rollback_plan",
        REL + "rollback_plan",
        RELEASE,
        "Plan a rollback",
        read_only=True,
        open_world=True,
        long=True,
    ),
    _spec(
        "rollback_run",
        REL + "rollback_run",
        RELEASE,
        "Roll back a release",
        destructive=True,
        idempotent=True,
        open_world=True,
        long=True,
    ),
    _spec("announce_draft", REL + "announce_draft", RELEASE, "Draft the announcement", **RO),
    # Not destructive: a send adds a post, mark_sent turns an unknown delivery into a sent
    # one (the record's event log keeps what it said); repeated, neither does more.
    _spec(
        "announce_send",
        REL + "announce_send",
        RELEASE,
        "Send the announcement",
        idempotent=True,
        open_world=True,
    ),
    # -- release workflow ---------------------------------------------------------
    _spec(
        "release_prepare",
        REL + "release_prepare",
        RELEASE,
        "Prepare the release",
        idempotent=True,
        open_world=True,
        long=True,
    ),
    _spec("release_status", REL + "release_status", RELEASE, "Release status", **RO),
    _spec(
        "release_resume",
        REL + "release_resume",
        RELEASE,
        "Resume the release",
        idempotent=True,
        open_world=True,
        long=True,
    ),
)


def tools_for(profile: str) -> list[ToolSpec]:
    """The tools a profile offers, in table order."""
    if profile not in PROFILES:
        raise ValueError(f"unknown tool profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile == "all":
        return list(TOOLS)
    return [spec for spec in TOOLS if profile in spec.profiles]
