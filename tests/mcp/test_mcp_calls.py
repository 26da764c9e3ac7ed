"""Calls over stdio: argument errors, result shape, per-caller resources, prompts, transport."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from mcp_helpers import stdio_session

from mcp import ClientSession, StdioServerParameters, stdio_client

pytestmark = pytest.mark.anyio

USAGE = {"castoff/error": "UsageError", "castoff/exit_code": 2}


def ok(result: CallToolResult) -> Any:
    """The structured content of a successful call."""
    assert not result.is_error, result.content
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    """The text content of a result."""
    return result.content[0].text  # type: ignore[union-attr]


async def test_bad_enum_is_one_clear_line(project: Path) -> None:
    """A bad enum value: one line naming the tool, the parameter, the values and the input."""
    async with stdio_session(project) as session:
        result = await session.call_tool(
            "orchestrator_plan_task", {"title": "x", "complexity": "huge"}
        )
    assert result.is_error
    assert text_of(result) == (
        "orchestrator_plan_task: complexity must be one of trivial, simple, moderate, "
        "complex, very_complex; got 'huge'"
    )
    assert result.meta == USAGE


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("orchestrator_plan_task", {}, "orchestrator_plan_task: title is required"),
        (
            "orchestrator_plan_task",
            {"title": "x", "context": 5},
            "orchestrator_plan_task: context must be an object or a string; got 5",
        ),
        (
            "orchestrator_query_tasks",
            {"status": ["done"]},
            "orchestrator_query_tasks: status[0] must be one of pending, in_progress, blocked, "
            "completed, failed, cancelled, archived; got 'done'",
        ),
        (
            "orchestrator_query_tasks",
            {"limit": 0},
            "orchestrator_query_tasks: limit must be greater than or equal to 1; got 0",
        ),
        (
            "orchestrator_get_status",
            {"include_completed": "maybe"},
            "orchestrator_get_status: include_completed must be true or false; got 'maybe'",
        ),
    ],
)
async def test_wrong_arguments_are_usage_errors(
    project: Path, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    """Missing, mistyped and out-of-range arguments: one line, no pydantic dump, _meta set."""
    async with stdio_session(project) as session:
        result = await session.call_tool(tool, arguments)
    assert text_of(result) == expected
    assert "pydantic" not in text_of(result)
    assert result.meta == USAGE


async def test_unknown_parameter_is_refused(project: Path) -> None:
    """A parameter the tool does not have is refused, and every schema says so."""
    async with stdio_session(project, "--tools", "all") as session:
        result = await session.call_tool("orchestrator_get_status", {"bogus": 1})
        tools = (await session.list_tools()).tools
        status = ok(await session.call_tool("orchestrator_get_status", {}))
    assert text_of(result) == (
        "orchestrator_get_status: unknown parameter 'bogus' (accepted: include_completed)"
    )
    assert result.meta == USAGE
    assert status["total"] == 0
    assert all(t.input_schema.get("additionalProperties") is False for t in tools)


async def test_datetimes_are_spelled_like_the_cli(project: Path, run_castoff: Any) -> None:
    """Structured content and the CLI's --json write the same timestamps (+00:00)."""
    async with stdio_session(project) as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "When"}))
        result = await session.call_tool("orchestrator_query_tasks", {})
    cli = run_castoff("orchestrator", "query-tasks", "--json", cwd=project)
    assert cli.returncode == 0, cli.stderr
    listed = json.loads(cli.stdout)["tasks"][0]
    assert task["created_at"] == listed["created_at"]
    assert task["created_at"].endswith("+00:00")
    assert json.loads(text_of(result).partition("\n")[2]) == result.structured_content


async def test_session_status_resource_is_the_callers(project: Path, tmp_path: Path) -> None:
    """After initialize_session elsewhere, castoff://session/status shows that session."""
    other = tmp_path / "other"
    other.mkdir()
    async with stdio_session(project) as session:
        ok(await session.call_tool("orchestrator_plan_task", {"title": "here"}))
        ok(
            await session.call_tool(
                "orchestrator_initialize_session", {"working_directory": str(other)}
            )
        )
        read = await session.read_resource("castoff://session/status")
    status = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert status["session"]["working_directory"] == str(other)
    assert status["total"] == 0


async def test_artifact_mime_type_matches_the_list(project: Path) -> None:
    """A Markdown artifact read through the template is text/markdown, as listed."""
    async with stdio_session(project) as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Doc"}))
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        done = ok(
            await session.call_tool(
                "orchestrator_complete_task",
                {
                    "task_id": task["id"],
                    "summary": "s",
                    "artifacts": [{"name": "guide.md", "content": "# Guide"}],
                },
            )
        )
        uri = f"castoff://artifacts/{done['artifacts'][0]['sha256']}"
        unlisted = await session.read_resource(uri)  # before any resources/list
        listed = {str(r.uri): r for r in (await session.list_resources()).resources}
        read = await session.read_resource(uri)
    assert listed[uri].mime_type == "text/markdown"
    assert read.contents[0].mime_type == unlisted.contents[0].mime_type == "text/markdown"


async def test_mime_type_of_an_artifact_older_than_the_listed_ones(project: Path) -> None:
    """An artifact with 250 newer ones (beyond any list) still reads as its name's type."""
    from castoff.orchestrator.models import ArtifactInput
    from castoff.orchestrator.service import Orchestrator

    with Orchestrator.open(project, actor="test") as orch:
        first = orch.plan_task("old")
        orch.execute_task(first.id)
        sha = (
            orch.complete_task(first.id, "s", artifacts=[ArtifactInput("notes.md", "# Notes")])
            .artifacts[0]
            .sha256
        )
        later = orch.plan_task("later")
        orch.execute_task(later.id)
        orch.complete_task(
            later.id, "s", artifacts=[ArtifactInput(f"n{i}.txt", str(i)) for i in range(250)]
        )
    async with stdio_session(project) as session:
        read = await session.read_resource(f"castoff://artifacts/{sha}")
    assert read.contents[0].mime_type == "text/markdown"


async def test_cleanup_sessions_of_all_hosts(project: Path, tmp_path: Path) -> None:
    """Another machine's stale session is skipped, unless all_hosts is given (as --all-hosts)."""
    from sqlalchemy import update

    from castoff.orchestrator.service import Orchestrator
    from castoff.store.schema import sessions

    gone = tmp_path / "gone"
    gone.mkdir()
    with Orchestrator.open(project, actor="test") as orch:
        sid = orch.initialize_session(gone).id
        orch.db.write(
            lambda c: c.execute(update(sessions).where(sessions.c.id == sid).values(host="ci-7"))
        )
    gone.rmdir()
    async with stdio_session(project, "--tools", "all") as session:
        args = {"dry_run": True}
        mine = ok(await session.call_tool("orchestrator_cleanup_sessions", args))
        every = ok(
            await session.call_tool("orchestrator_cleanup_sessions", args | {"all_hosts": True})
        )
    assert ([s["id"] for s in mine["skipped"]], mine["sessions"]) == ([sid], [])
    assert ([s["id"] for s in every["sessions"]], every["skipped"]) == ([sid], [])


async def test_prompt_for_unknown_task_says_why(project: Path) -> None:
    """A role prompt for an unknown task id is a protocol error naming the task."""
    async with stdio_session(project) as session:
        with pytest.raises(MCPError, match="nope"):
            await session.get_prompt("role_coder", {"task_id": "nope"})


async def test_long_lines_cross_the_pipe(project: Path) -> None:
    """A 3 MB argument and its echo travel whole (no line-length limit on the pipes)."""
    content = "x" * 3_000_000
    async with stdio_session(project) as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Big"}))
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        done = ok(
            await session.call_tool(
                "orchestrator_complete_task",
                {"task_id": task["id"], "summary": "s", "detailed_work": content},
            )
        )
    assert done["detailed_work"] == content


def test_stdio_from_a_terminal_uses_the_sdk_transport(project: Path, tmp_path: Path) -> None:
    """stdin a TTY and stdout a file (not pipes): the SDK's own transport serves."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "tty", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
    ]
    stdout = tmp_path / "out.jsonl"
    terminal, server_side = pty.openpty()
    attributes = termios.tcgetattr(server_side)
    attributes[3] &= ~termios.ECHO  # lflag: the test reads replies from the file only
    termios.tcsetattr(server_side, termios.TCSANOW, attributes)
    with stdout.open("w") as fout:
        process = subprocess.Popen(
            [sys.executable, "-m", "castoff", "mcp", "-C", str(project)],
            stdin=server_side,
            stdout=fout,
            stderr=subprocess.DEVNULL,
        )
    os.close(server_side)
    try:
        os.write(terminal, "".join(json.dumps(m) + "\n" for m in messages).encode())
        deadline = time.monotonic() + 60
        while len(stdout.read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
        os.close(terminal)
    replies = [json.loads(line) for line in stdout.read_text().splitlines()]
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[1]["result"] == {}


async def test_server_answers_while_a_tool_works(released: Path) -> None:
    """A slow version_tag (its commit hook sleeps) runs in a thread: pings answer meanwhile."""
    hook = released / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nsleep 2\n")
    hook.chmod(0o755)
    pings: list[float] = []
    async with stdio_session(released, "--tools", "release") as session:
        tagged: list[Any] = []

        async def tag() -> None:
            tagged.append(ok(await session.call_tool("version_tag", {})))

        async with anyio.create_task_group() as group:
            group.start_soon(tag)
            await anyio.sleep(0.5)
            for _ in range(3):
                started = anyio.current_time()
                await session.send_ping()
                pings.append(anyio.current_time() - started)
            assert not tagged  # still tagging
    assert tagged[0]["status"] == "tagged"
    assert max(pings) < 0.5, pings


@pytest.fixture
def released(repo: Any) -> Path:
    """A project with release v0.1.0 and a feature after it."""
    repo.commit("feat: first", {"pyproject.toml": '[project]\nname = "demo"\nversion = "0.1.0"\n'})
    repo.tag("v0.1.0")
    repo.commit("feat: second feature")
    return Path(repo.path)


async def test_a_broken_store_is_every_calls_error(project: Path) -> None:
    """The server answers initialize while the store opens; a store that cannot open is a
    clear tool error (the configuration's message), not a dead server."""
    env = {k: v for k, v in os.environ.items() if k != "CASTOFF_TOKEN"}
    env["CASTOFF_DATABASE_URL"] = "nosuchdb://nowhere/db"
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "castoff", "mcp", "-C", str(project)], env=env
    )
    with (project.parent / "mcp-stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            first = await session.call_tool("orchestrator_get_status", {})
            second = await session.call_tool("orchestrator_plan_task", {"title": "x"})
    assert len(tools) == 8
    assert "unsupported database URL" in text_of(first)
    assert first.meta == {"castoff/error": "ConfigError", "castoff/exit_code": 2}
    assert text_of(second) == text_of(first)
