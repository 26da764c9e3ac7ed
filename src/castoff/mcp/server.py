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
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts import Prompt
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, InputRequiredResult, ToolExecution
from mcp.types import Resource as MCPResource
from mcp.types import Tool as MCPTool
from pydantic import Field

from castoff import __version__
from castoff.errors import CastoffError
from castoff.mcp.adapter import Caller, ToolRunner, build_tool, resource_errors
from castoff.mcp.registry import tools_for
from castoff.mcp.state import Runtime
from castoff.serialize import to_data

if TYPE_CHECKING:
    from castoff.orchestrator.models import Role

logger = logging.getLogger("castoff.mcp")

INSTRUCTIONS = (
    "castoff tracks work as a graph of tasks. Loop: orchestrator_plan_task (break work "
    "down, with dependencies) -> orchestrator_execute_task (claim a ready task, read its "
    "role instructions) -> do the work -> orchestrator_complete_task (summary, artifacts). "
    "orchestrator_get_status shows what is ready."
)
ARTIFACT_LIST_LIMIT = 50
REPORT_NAME = "release-report.md"
STATUS_URI = "castoff://session/status"
ARTIFACT_PREFIX = "castoff://artifacts/"


class CastoffServer(MCPServer[Runtime]):
    """MCPServer with castoff's tools, per-caller resources and the stdio fast path.

    - tools/list is built once (tools never change while the server runs); the
      long tools say ``execution.taskSupport: "optional"``.
    - ``castoff://session/status`` is the caller's session (``initialize_session``
      / ``resume_session`` switch it per client); artifacts keep the MIME type
      the resource list gave them.
    - stdio reads and writes its pipes on the event loop (:mod:`castoff.mcp.stdio`).
    """

    def __init__(self, runtime: Runtime, runners: dict[str, ToolRunner], **kwargs: Any) -> None:
        from castoff.mcp.middleware import CastoffMiddleware

        self.runtime = runtime
        self.runners = runners
        super().__init__(middleware=[CastoffMiddleware(runners)], **kwargs)
        self._tools_listed: list[MCPTool] | None = None
        self._mimes: dict[str, str] = {}

    async def list_tools(self) -> list[MCPTool]:
        """Every tool, built once; long tools may be called as tasks."""
        if self._tools_listed is None:
            listed = await super().list_tools()
            for tool in listed:
                runner = self.runners.get(tool.name)
                if runner is not None and runner.spec.long:
                    tool.execution = ToolExecution(task_support="optional")
            self._tools_listed = listed
        return self._tools_listed

    async def list_resources(self) -> list[MCPResource]:
        """Static resources, then the most recent artifacts."""
        import anyio.to_thread

        listed = await super().list_resources()
        if self.runtime.base is None:
            return listed
        orchestrator = self.runtime.base
        artifacts = await anyio.to_thread.run_sync(
            lambda: orchestrator.list_artifacts(limit=ARTIFACT_LIST_LIMIT)
        )
        for artifact in artifacts:
            mime = self._mimes[artifact.sha256] = _mime(artifact.name)
            listed.append(
                MCPResource(
                    uri=f"{ARTIFACT_PREFIX}{artifact.sha256}",
                    name=artifact.name,
                    description=f"{artifact.artifact_type.value} artifact of {artifact.task_id}",
                    mime_type=mime,
                    size=artifact.size,
                )
            )
        return listed

    async def read_resource(
        self, uri: Any, context: Context[Runtime, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        """The caller's session status; artifacts with the MIME type of their name."""
        import anyio.to_thread

        if str(uri) == STATUS_URI and context is not None and self.runtime.base is not None:
            caller = Caller.of(context)
            text = await anyio.to_thread.run_sync(lambda: _status_json(caller))
            return [ReadResourceContents(content=text, mime_type="application/json")]
        contents = await super().read_resource(uri, context)
        name = str(uri)
        if not name.startswith(ARTIFACT_PREFIX) or isinstance(contents, InputRequiredResult):
            return contents
        sha256 = name.removeprefix(ARTIFACT_PREFIX)
        mime = self._mimes.get(sha256) or await anyio.to_thread.run_sync(
            lambda: self._artifact_mime(sha256)
        )
        return [ReadResourceContents(c.content, mime or _binary(c), c.meta) for c in contents]

    def _artifact_mime(self, sha256: str) -> str | None:
        """The MIME type from the artifact's name (looked up by sha256, however old)."""
        from castoff.errors import CastoffError

        if self.runtime.base is None:
            return None
        try:
            artifact = self.runtime.base.find_artifact(sha256)
        except CastoffError:
            return None
        return self._mimes.setdefault(sha256, _mime(artifact.name))

    async def run_stdio_async(self) -> None:
        """Serve over stdio, reading and writing the pipes on the event loop when it can."""
        from mcp.server.stdio import stdio_server

        from castoff.mcp.stdio import pipe_streams

        async with pipe_streams() as streams:
            stdin, stdout = streams or (None, None)
            async with stdio_server(stdin=stdin, stdout=stdout) as (read, write):
                await self._lowlevel_server.run(
                    read, write, self._lowlevel_server.create_initialization_options()
                )


def _status_json(caller: Caller) -> str:
    state = caller.runtime.state_for(caller.connection, caller.client)
    with resource_errors():
        status = state.orchestrator.get_status(include_completed=True)
    return json.dumps(to_data(status), indent=2)


def _binary(contents: ReadResourceContents) -> str:
    return "text/plain" if isinstance(contents.content, str) else "application/octet-stream"


def _mime(name: str) -> str:
    import mimetypes

    if name.endswith(".md"):
        return "text/markdown"
    return mimetypes.guess_type(name)[0] or "text/plain"


def build_server(root: Path, profile: str = "core", *, inline: bool = False) -> CastoffServer:
    """The MCP server for the project at ``root`` offering the ``profile`` tools.

    ``inline`` runs the short orchestrator tools on the event loop (right for
    stdio's one client).
    """
    from castoff.mcp.state import lifespan_for

    runtime = Runtime(root=root, inline=inline)
    built = [build_tool(spec) for spec in tools_for(profile)]
    server = CastoffServer(
        runtime,
        {runner.spec.name: runner for _tool, runner in built},
        name="castoff",
        title="castoff",
        description="Release preparation as a durable, resumable graph of tasks.",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan_for(runtime),
        tools=[tool for tool, _runner in built],
        log_level="WARNING",
    )
    _add_resources(server, runtime)
    _add_prompts(server, runtime)
    return server


def _add_resources(server: CastoffServer, runtime: Runtime) -> None:
    @server.resource(
        STATUS_URI,
        name="session-status",
        description="Task counts, running leases and ready tasks of your session (JSON).",
        mime_type="application/json",
    )
    def session_status() -> str:  # read through CastoffServer.read_resource, per caller
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
            reports = [a for a in orchestrator.list_artifacts(limit=200) if a.name == REPORT_NAME]
            if not reports:
                raise NotFound("no release report yet: run `castoff release prepare`")
            return orchestrator.read_artifact(reports[0].sha256).decode("utf-8")

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
    def render(
        task_id: Annotated[str, Field(description="The task to work on.")], ctx: Context
    ) -> str:
        caller = Caller.of(ctx)
        try:
            orchestrator = runtime.state_for(caller.connection, caller.client).orchestrator
            task = orchestrator.get_task(task_id)
        except CastoffError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from exc
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
    dashboard: bool = False,
) -> None:
    """Serve until the client disconnects (stdio) or the process is interrupted (HTTP).

    ``dashboard`` (HTTP only): also serve the read-only dashboard at every path but
    ``/mcp``, reading the store the MCP server opened (:mod:`castoff.dashboard`).
    """
    from castoff.workspace import find_root

    _log_to_stderr()
    root = find_root(working_directory)
    if transport == "http":
        from castoff.mcp.http import check_bind, serve_http

        check_bind(host, token)
        server = build_server(root, profile)
        site = None
        if dashboard:
            from castoff.dashboard.app import build_app

            runtime = server.runtime
            site = build_app(root, lambda: runtime.require().orchestrator)
        serve_http(
            server,
            host=host,
            port=port,
            token=token,
            allowed_origins=allowed_origins,
            site=site,
        )
    else:
        build_server(root, profile, inline=True).run("stdio")


def _log_to_stderr() -> None:
    """Plain one-line logs on stderr (set before the SDK would install its Rich handler)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("castoff mcp %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logger.setLevel(logging.INFO)  # our own lines: refusals, cancellations
