"""Task-augmented tool calls (MCP 2025-11-25 tasks) over stdio, with the SDK's client.

The SDK client (2.3) has no task helpers, and its ``send_request`` checks a
``tools/call`` answer against ``CallToolResult``, which a ``CreateTaskResult``
is not; so the task-augmented call itself goes through the session's raw
JSON-RPC dispatcher. ``tasks/*`` use ``send_request`` with the SDK's types.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    CallToolResult,
    CancelTaskRequest,
    CancelTaskRequestParams,
    CancelTaskResult,
    GetTaskPayloadRequest,
    GetTaskPayloadRequestParams,
    GetTaskRequest,
    GetTaskRequestParams,
    GetTaskResult,
    ListTasksRequest,
    ListTasksResult,
)
from mcp_helpers import stdio_session

from mcp import ClientSession

pytestmark = pytest.mark.anyio

LONG = {
    "release_prepare",
    "release_resume",
    "notes_generate",
    "validate_preflight",
    "validate_postdeploy",
    "rollback_plan",
    "rollback_run",
}
RELATED = "io.modelcontextprotocol/related-task"


async def call_as_task(
    session: ClientSession, name: str, arguments: dict[str, Any], ttl: int = 60_000
) -> dict[str, Any]:
    """Send ``tools/call`` with ``task``; the raw ``CreateTaskResult``."""
    params = {"name": name, "arguments": arguments, "task": {"ttl": ttl}}
    return await session._dispatcher.send_raw_request("tools/call", params, {})


async def get(session: ClientSession, task_id: str) -> GetTaskResult:
    """tasks/get."""
    request = GetTaskRequest(params=GetTaskRequestParams(task_id=task_id))
    return await session.send_request(request, GetTaskResult)


async def result_of(session: ClientSession, task_id: str) -> CallToolResult:
    """tasks/result: the tool's CallToolResult once the task ended."""
    request = GetTaskPayloadRequest(params=GetTaskPayloadRequestParams(task_id=task_id))
    return await session.send_request(request, CallToolResult)


async def cancel(session: ClientSession, task_id: str) -> CancelTaskResult:
    """tasks/cancel."""
    request = CancelTaskRequest(params=CancelTaskRequestParams(task_id=task_id))
    return await session.send_request(request, CancelTaskResult)


@pytest.fixture
def released(repo: Any) -> Path:
    """A project with release v0.1.0 and two changes after it."""
    repo.commit("feat: first", {"pyproject.toml": '[project]\nname = "demo"\nversion = "0.1.0"\n'})
    repo.tag("v0.1.0")
    repo.commit("feat: second feature")
    repo.commit("fix: a bug")
    return Path(repo.path)


async def test_tasks_are_declared(released: Path) -> None:
    """initialize declares the tasks capability; long tools say taskSupport optional."""
    async with stdio_session(released, "--tools", "all") as session:
        capabilities = session.server_capabilities
        tools = (await session.list_tools()).tools
    assert capabilities is not None
    tasks = capabilities.tasks
    assert tasks is not None
    assert tasks.requests is not None
    assert tasks.requests.tools is not None
    assert tasks.requests.tools.call is not None
    assert tasks.list is not None
    assert tasks.cancel is not None
    supported = {t.name for t in tools if t.execution and t.execution.task_support == "optional"}
    assert supported == LONG


async def test_task_lifecycle(released: Path) -> None:
    """Create → tasks/get → tasks/result (the plain call's result) → tasks/list → no re-cancel."""
    async with stdio_session(released, "--tools", "release") as session:
        created = await call_as_task(session, "notes_generate", {})
        task = created["task"]
        assert task["status"] == "working"
        assert task["ttl"] == 60_000
        assert {"taskId", "createdAt", "lastUpdatedAt", "pollInterval"} <= task.keys()
        result = await result_of(session, task["taskId"])
        done = await get(session, task["taskId"])
        listed = await session.send_request(ListTasksRequest(), ListTasksResult)
        plain = await session.call_tool("notes_generate", {})
        with pytest.raises(MCPError) as refused:
            await cancel(session, task["taskId"])
    assert not result.is_error
    assert result.structured_content == plain.structured_content
    assert result.meta is not None
    assert result.meta[RELATED] == {"taskId": task["taskId"]}
    assert done.status == "completed"
    assert "entries" in (done.status_message or "")
    assert [t.task_id for t in listed.tasks] == [task["taskId"]]
    assert refused.value.code == INVALID_PARAMS


async def test_release_prepare_as_a_task(released: Path) -> None:
    """release_prepare (dry run) runs in the background; polling sees it end."""
    async with stdio_session(released, "--tools", "release") as session:
        created = await call_as_task(session, "release_prepare", {"dry_run": True})
        task_id = created["task"]["taskId"]
        assert await session.send_ping() is not None  # the server answers meanwhile
        with anyio.fail_after(120):
            while (state := await get(session, task_id)).status == "working":
                await anyio.sleep(0.2)
        result = await result_of(session, task_id)
    assert state.status in {"completed", "failed"}
    assert result.structured_content is not None
    assert result.structured_content["version"] == "0.2.0"


async def test_cancelled_task_writes_nothing(repo: Any) -> None:
    """tasks/cancel: the task is cancelled at once; notes stop before the CHANGELOG write."""
    lines = []
    for n in range(4000):
        body = f"feat: change number {n}\n"
        lines.append(
            f"commit refs/heads/main\nmark :{n + 1}\n"
            f"committer Dev <dev@example.com> {1_700_000_000 + n} +0000\n"
            f"data {len(body)}\n{body}" + (f"from :{n}\n" if n else "")
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo.path, input="".join(lines).encode(), check=True
    )
    repo.git("checkout", "-q", "-f", "main")
    project = Path(repo.path)
    async with stdio_session(project, "--tools", "release") as session:
        created = await call_as_task(session, "notes_generate", {"update_changelog": True})
        task_id = created["task"]["taskId"]
        cancelled = await cancel(session, task_id)
        result = await result_of(session, task_id)
        after = await get(session, task_id)
    assert cancelled.status == "cancelled"
    assert after.status == "cancelled"
    assert result.is_error
    assert not (project / "CHANGELOG.md").exists()


async def test_short_tools_refuse_tasks(released: Path) -> None:
    """A tool without task support answers a task-augmented call with -32601."""
    async with stdio_session(released) as session:
        with pytest.raises(MCPError) as refused:
            await call_as_task(session, "orchestrator_plan_task", {"title": "x"})
        with pytest.raises(MCPError) as unknown:
            await get(session, "no-such-task")
    assert refused.value.code == METHOD_NOT_FOUND
    assert unknown.value.code == INVALID_PARAMS


async def test_cancelled_release_task_is_resumable(tmp_path: Path) -> None:
    """tasks/cancel during validation: the task is cancelled, the release is partial with
    the step pending again, and release_resume finishes it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release" / "workflow"))
    from workflow_sample import build_light_repository

    skyline = build_light_repository(tmp_path / "skyline")
    pyproject = skyline / "pyproject.toml"
    slow = (
        "[tool.castoff.validate]\nconcurrency = 1\nchecks = ["
        + ", ".join(f'{{ id = "slow{n}", command = "sleep 1" }}' for n in range(3))
        + "]\n"
    )
    pyproject.write_text(pyproject.read_text().replace("[tool.castoff.validate]\n", slow))
    subprocess.run(["git", "commit", "-qam", "chore: slow checks"], cwd=skyline, check=True)

    async with stdio_session(skyline, "--tools", "release") as session:
        created = await call_as_task(session, "release_prepare", {"yes": True})
        task_id = created["task"]["taskId"]
        with anyio.fail_after(120):
            while True:
                status = await session.call_tool("release_status", {})
                steps = (status.structured_content or {}).get("steps", [])
                if any(s["key"] == "validate" and s["status"] == "in_progress" for s in steps):
                    break
                await anyio.sleep(0.2)
        cancelled = await cancel(session, task_id)
        result = await result_of(session, task_id)
        after = await get(session, task_id)
        outcome = (await session.call_tool("release_status", {})).structured_content
        done = await session.call_tool("release_resume", {"yes": True})
    assert cancelled.status == after.status == "cancelled"
    assert result.meta is not None
    assert result.meta[RELATED] == {"taskId": task_id}
    assert outcome is not None
    assert outcome["outcome"] == "partial"
    assert next(s for s in outcome["steps"] if s["key"] == "validate")["status"] == "pending"
    assert done.structured_content is not None
    assert done.structured_content["outcome"] == "released", done.structured_content["message"]
