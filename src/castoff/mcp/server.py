"""The castoff MCP server: tools from the registry, resources, role prompts.

:func:`build_server` assembles an :class:`~mcp.server.mcpserver.MCPServer` for
one project directory and one tool profile; :func:`run` serves it over stdio
or streamable HTTP. Nothing here holds release or orchestrator logic: tools,
resources and prompts all call the same service the CLI uses.

Resources:
    ``castoff://session/status``       the session's status (JSON)
    ``castoff://changelog``            the project's current CHANGELOG
    ``castoff://reports/latest``       the most recent release report (Markdown)
    ``castoff://artifacts/{sha256}``   a stored artifact; recent ones are listed
Prompts:
    ``role_<specialist_type>(task_id)`` the role instructions with the task's details
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts import Prompt
from mcp.types import Resource as MCPResource
from pydantic import Field

from castoff import __version__
from castoff.mcp.adapter import build_tool, resource_errors
from castoff.mcp.registry import tools_for
from castoff.mcp.state import Runtime
from castoff.orchestrator.models import Artifact, Role, TaskStatus
from castoff.orchestrator.service import Orchestrator
from castoff.serialize import to_data

logger = logging.getLogger("castoff.mcp")

INSTRUCTIONS = (
    "castoff tracks work as a graph of tasks. Loop: orchestrator_plan_task (break work "
    "down, with dependencies) -> orchestrator_execute_task (claim a ready task, read its "
    "role instructions) -> do the work -> orchestrator_complete_task (summary, artifacts). "
    "orchestrator_get_status shows what is ready."
)
ARTIFACT_LIST_LIMIT = 50
REPORT_NAME = "release-report.md"


class CastoffServer(MCPServer[Runtime]):
    """MCPServer whose resource list also names the session's recent artifacts."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime

    async def list_resources(self) -> list[MCPResource]:
        """Static resources, then the most recent artifacts."""
        import anyio.to_thread

        listed = await super().list_resources()
        if self.runtime.base is None:
            return listed
        orchestrator = self.runtime.base
        artifacts = await anyio.to_thread.run_sync(lambda: _recent_artifacts(orchestrator))
        for artifact in artifacts[-ARTIFACT_LIST_LIMIT:]:
            listed.append(
                MCPResource(
                    uri=f"castoff://artifacts/{artifact.sha256}",
                    name=artifact.name,
                    description=f"{artifact.artifact_type.value} artifact of {artifact.task_id}",
                    mime_type=_mime(artifact.name),
                    size=artifact.size,
                )
            )
        return listed


def _recent_artifacts(
    orchestrator: Orchestrator, tasks: int = ARTIFACT_LIST_LIMIT
) -> list[Artifact]:
    """The artifacts of the ``tasks`` most recently created completed tasks, newest last."""
    done = [TaskStatus.COMPLETED]
    total = orchestrator.query_tasks(status=done, limit=1).total
    page = orchestrator.query_tasks(
        status=done, include_artifacts=True, limit=tasks, offset=max(0, total - tasks)
    )
    return [a for task in page.tasks for a in task.artifacts]


def _mime(name: str) -> str:
    import mimetypes

    if name.endswith(".md"):
        return "text/markdown"
    return mimetypes.guess_type(name)[0] or "text/plain"


def build_server(root: Path, profile: str = "core", *, inline: bool = False) -> CastoffServer:
    """The MCP server for the project at ``root`` offering the ``profile`` tools.

    ``inline`` runs short tools on the event loop (right for stdio's one client).
    """
    from castoff.mcp.state import lifespan_for

    runtime = Runtime(root=root, inline=inline)
    server = CastoffServer(
        runtime,
        name="castoff",
        title="castoff",
        description="Release preparation as a durable, resumable graph of tasks.",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan_for(runtime),
        tools=[build_tool(spec) for spec in tools_for(profile)],
        log_level="WARNING",
    )
    _add_resources(server, runtime)
    _add_prompts(server, runtime)
    return server


def _add_resources(server: CastoffServer, runtime: Runtime) -> None:
    @server.resource(
        "castoff://session/status",
        name="session-status",
        description="Task counts, running leases and ready tasks of this session (JSON).",
        mime_type="application/json",
    )
    def session_status() -> str:
        with resource_errors():
            status = runtime.require().orchestrator.get_status(include_completed=True)
            return json.dumps(to_data(status), indent=2)

    @server.resource(
        "castoff://changelog",
        name="changelog",
        description="The project's current CHANGELOG.",
        mime_type="text/markdown",
    )
    def changelog() -> str:
        from castoff.config import load_config
        from castoff.errors import NotFound

        with resource_errors():
            path = load_config(runtime.root).changelog
            if not path.is_file():
                raise NotFound(f"there is no changelog yet at {path.name}")
            return path.read_text(encoding="utf-8")

    @server.resource(
        "castoff://reports/latest",
        name="release-report",
        description="The report of the most recent release preparation (Markdown).",
        mime_type="text/markdown",
    )
    def latest_report() -> str:
        from castoff.errors import NotFound

        with resource_errors():
            orchestrator = runtime.require().orchestrator
            reports = [a for a in _recent_artifacts(orchestrator, 200) if a.name == REPORT_NAME]
            if not reports:
                raise NotFound("no release report yet: run `castoff release prepare`")
            return orchestrator.read_artifact(reports[-1].sha256).decode("utf-8")

    @server.resource(
        "castoff://artifacts/{sha256}",
        name="artifact",
        description="A stored task artifact, by the sha256 of its content.",
    )
    def artifact(sha256: str) -> str | bytes:
        with resource_errors():
            content = runtime.require().orchestrator.read_artifact(sha256)
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            return content


def _add_prompts(server: CastoffServer, runtime: Runtime) -> None:
    from castoff.orchestrator.roles import all_roles

    for role in all_roles():
        server.add_prompt(
            Prompt.from_function(
                _role_prompt(role, runtime),
                name=f"role_{role.specialist_type.value}",
                title=role.title,
                description=f"Work on a task as the {role.title}: role instructions plus the task.",
            )
        )


def _role_prompt(role: Role, runtime: Runtime) -> Any:
    def render(task_id: Annotated[str, Field(description="The task to work on.")]) -> str:
        task = runtime.require().orchestrator.get_task(task_id)
        details = {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "status": task.status.value,
            "context": task.context,
            "dependencies": task.dependencies,
        }
        return (
            f"You are the {role.title}. {role.instructions}\n\n"
            f"Expected artifacts: {', '.join(a.value for a in role.expected_artifacts)}.\n\n"
            f"Task:\n{json.dumps(to_data(details), indent=2)}\n\n"
            f"Claim it with orchestrator_execute_task(task_id={task.id!r}) and finish with "
            "orchestrator_complete_task."
        )

    return render


def run(
    *,
    transport: str,
    profile: str,
    working_directory: Path | None,
    host: str,
    port: int,
    token: str | None,
    allowed_origins: list[str],
) -> None:
    """Serve until the client disconnects (stdio) or the process is interrupted (HTTP)."""
    from castoff.workspace import find_root

    _log_to_stderr()
    root = find_root(working_directory)
    if transport == "http":
        from castoff.mcp.http import check_bind, serve_http

        check_bind(host, token)
        serve_http(
            build_server(root, profile),
            host=host,
            port=port,
            token=token,
            allowed_origins=allowed_origins,
        )
    else:
        build_server(root, profile, inline=True).run("stdio")


def _log_to_stderr() -> None:
    """Plain one-line logs on stderr (set before the SDK would install its Rich handler)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("castoff mcp %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logger.setLevel(logging.INFO)  # our own lines: refusals, cancellations
