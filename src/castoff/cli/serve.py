"""`castoff mcp` and `castoff serve`: the MCP server over stdio or streamable HTTP, and the
read-only dashboard beside it over HTTP."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from castoff.cli.options import WorkdirOpt

TOKEN_ENV = "CASTOFF_TOKEN"
DEFAULT_PORT = 8765


class Transport(StrEnum):
    """How clients reach the server."""

    STDIO = "stdio"
    HTTP = "http"


class ToolProfile(StrEnum):
    """Which tools the server offers (docs/mcp.md lists each profile)."""

    CORE = "core"
    RELEASE = "release"
    ALL = "all"


ToolsOpt = Annotated[
    ToolProfile,
    typer.Option(
        "--tools",
        help="Tool profile: core (task orchestration), release, or all.",
        case_sensitive=False,
    ),
]
HostOpt = Annotated[
    str,
    typer.Option("--host", help=f"HTTP address to bind; beyond loopback requires ${TOKEN_ENV}."),
]
PortOpt = Annotated[int, typer.Option("--port", help="HTTP port.", min=0, max=65535)]
OriginOpt = Annotated[
    list[str] | None,
    typer.Option("--allow-origin", help="Extra browser Origin to accept over HTTP (repeatable)."),
]
DashboardOpt = Annotated[
    bool,
    typer.Option(
        "--dashboard/--no-dashboard",
        help="Over HTTP, also serve the read-only dashboard at / (docs/dashboard.md).",
    ),
]


def _run(
    *,
    transport: Transport,
    tools: ToolProfile,
    host: str,
    port: int,
    working_directory: Path | None,
    allow_origin: list[str] | None,
    dashboard: bool,
) -> None:
    from castoff.mcp.server import run

    token = os.environ.get(TOKEN_ENV) or None
    run(
        transport=transport.value,
        profile=tools.value,
        working_directory=working_directory,
        host=host,
        port=port,
        token=token,
        allowed_origins=allow_origin or [],
        dashboard=dashboard,
    )


def register(app: typer.Typer) -> None:
    """Add ``castoff mcp`` and ``castoff serve`` to ``app``."""

    @app.command("mcp")
    def mcp_command(
        *,
        transport: Annotated[
            Transport, typer.Option("--transport", help="stdio (default) or streamable HTTP.")
        ] = Transport.STDIO,
        tools: ToolsOpt = ToolProfile.CORE,
        host: HostOpt = "127.0.0.1",
        port: PortOpt = DEFAULT_PORT,
        working_directory: WorkdirOpt = None,
        allow_origin: OriginOpt = None,
        dashboard: DashboardOpt = True,
    ) -> None:
        """Run the MCP server for AI agents (stdio: logs go to stderr only)."""
        _run(
            transport=transport,
            tools=tools,
            host=host,
            port=port,
            working_directory=working_directory,
            allow_origin=allow_origin,
            dashboard=dashboard,
        )

    @app.command("serve")
    def serve_command(
        *,
        host: HostOpt = "127.0.0.1",
        port: PortOpt = DEFAULT_PORT,
        tools: ToolsOpt = ToolProfile.CORE,
        working_directory: WorkdirOpt = None,
        allow_origin: OriginOpt = None,
        dashboard: DashboardOpt = True,
    ) -> None:
        """Serve MCP over streamable HTTP at /mcp and the read-only dashboard at /
        (same as `castoff mcp --transport http`)."""
        _run(
            transport=Transport.HTTP,
            tools=tools,
            host=host,
            port=port,
            working_directory=working_directory,
            allow_origin=allow_origin,
            dashboard=dashboard,
        )
