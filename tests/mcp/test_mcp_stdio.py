"""The MCP server over stdio, driven by the SDK's client in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp.types import CallToolResult
from mcp_helpers import stdio_session

pytestmark = pytest.mark.anyio

CORE = {
    "orchestrator_initialize_session",
    "orchestrator_plan_task",
    "orchestrator_execute_task",
    "orchestrator_complete_task",
    "orchestrator_query_tasks",
    "orchestrator_get_status",
    "orchestrator_update_task",
    "orchestrator_cancel_task",
}
RELEASE = {
    "release_prepare",
    "release_status",
    "release_resume",
    "orchestrator_get_status",
    "notes_generate",
    "version_next",
    "version_tag",
    "validate_preflight",
    "validate_postdeploy",
    "rollback_plan",
    "rollback_run",
    "announce_draft",
    "announce_send",
}
ORCHESTRATOR_NAMES = """
initialize_session plan_task execute_task complete_task query_tasks get_status update_task
delete_task cancel_task synthesize_results health_check maintenance_coordinator restart_status
list_sessions resume_session session_status cleanup_sessions
"""
ORCHESTRATOR = {f"orchestrator_{name}" for name in ORCHESTRATOR_NAMES.split()}


def ok(result: CallToolResult) -> Any:
    """The structured content of a successful call."""
    assert not result.is_error, result.content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """The message of a tool error."""
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(("profile", "expected"), [("core", CORE), ("release", RELEASE)])
async def test_profiles_offer_their_tools(project: Path, profile: str, expected: set[str]) -> None:
    """Each profile lists exactly its documented tools."""
    async with stdio_session(project, "--tools", profile) as session:
        names = {t.name for t in (await session.list_tools()).tools}
    assert names == expected


async def test_all_profile_has_every_orchestrator_tool(project: Path) -> None:
    """--tools all offers every orchestrator tool of DESIGN.md and every release tool."""
    async with stdio_session(project, "--tools", "all") as session:
        names = {t.name for t in (await session.list_tools()).tools}
    assert names == ORCHESTRATOR | RELEASE


async def test_every_schema_is_valid_and_described(project: Path) -> None:
    """Input and output schemas are valid JSON Schema; tools and parameters are described."""
    async with stdio_session(project, "--tools", "all") as session:
        tools = (await session.list_tools()).tools
    for tool in tools:
        assert tool.description, tool.name
        assert len(tool.description) > 20, tool.name
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.output_schema is not None, tool.name
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert tool.output_schema["type"] == "object"
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        hints = tool.annotations
        assert hints is not None
        assert None not in (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint)


async def test_enums_come_from_the_models(project: Path) -> None:
    """Fixed values are published as enums (plan_task.specialist_type lists the release roles)."""
    async with stdio_session(project) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    props = tools["orchestrator_plan_task"].input_schema["properties"]
    assert "release_notes" in props["specialist_type"]["enum"]
    assert props["complexity"]["enum"][-1] == "very_complex"
    query = tools["orchestrator_query_tasks"].input_schema["properties"]
    assert "in_progress" in query["status"]["items"]["enum"]


async def test_default_profile_stays_small(project: Path) -> None:
    """The default (core) tools/list stays well below 17.7 KB."""
    async with stdio_session(project) as session:
        listed = await session.list_tools()
    size = len(listed.model_dump_json(by_alias=True, exclude_none=True))
    assert size < 13_500, size  # docs/mcp.md states the figure


async def test_task_loop(project: Path) -> None:
    """plan → execute → complete → query with a status filter → status."""
    async with stdio_session(project) as session:
        session_data = ok(await session.call_tool("orchestrator_initialize_session", {}))
        assert session_data["working_directory"] == str(project)
        first = ok(await session.call_tool("orchestrator_plan_task", {"title": "Write notes"}))
        second = ok(
            await session.call_tool(
                "orchestrator_plan_task",
                {
                    "title": "Announce",
                    "dependencies": [first["id"]],
                    "specialist_type": "announcement",
                },
            )
        )
        context = ok(await session.call_tool("orchestrator_execute_task", {"task_id": first["id"]}))
        assert context["task"]["status"] == "in_progress"
        assert context["role"]["instructions"]
        done = ok(
            await session.call_tool(
                "orchestrator_complete_task",
                {
                    "task_id": first["id"],
                    "summary": "written",
                    "artifacts": [{"name": "notes.md", "content": "# Notes"}],
                },
            )
        )
        assert done["status"] == "completed"
        page = ok(await session.call_tool("orchestrator_query_tasks", {"status": ["completed"]}))
        assert [t["id"] for t in page["tasks"]] == [first["id"]]
        status = ok(await session.call_tool("orchestrator_get_status", {}))
        assert [t["id"] for t in status["ready"]] == [second["id"]]


async def test_text_content_has_summary_and_json(project: Path) -> None:
    """The readable text says what happened and carries the same data as JSON."""
    async with stdio_session(project) as session:
        result = await session.call_tool("orchestrator_plan_task", {"title": "Tag it"})
    text = result.content[0].text  # type: ignore[union-attr]
    line, _, data = text.partition("\n")
    assert "'Tag it' is pending" in line
    assert json.loads(data) == result.structured_content


async def test_update_cancel_and_delete(project: Path) -> None:
    """update_task, cancel_task and delete_task change the task graph."""
    async with stdio_session(project, "--tools", "all") as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Old"}))
        updated = ok(
            await session.call_tool(
                "orchestrator_update_task",
                {"task_id": task["id"], "title": "New", "complexity": "simple"},
            )
        )
        assert (updated["title"], updated["complexity"]) == ("New", "simple")
        cancelled = ok(
            await session.call_tool(
                "orchestrator_cancel_task", {"task_id": task["id"], "reason": "moot"}
            )
        )
        assert cancelled["cancelled"] == [task["id"]]
        deleted = ok(await session.call_tool("orchestrator_delete_task", {"task_id": task["id"]}))
        assert deleted["deleted"] == [task["id"]]


async def test_coordination_and_upkeep_tools(project: Path) -> None:
    """synthesize, health, maintenance, restart status and the session tools all answer."""
    async with stdio_session(project, "--tools", "all") as session:
        parent = ok(await session.call_tool("orchestrator_plan_task", {"title": "Release"}))
        child = ok(
            await session.call_tool(
                "orchestrator_plan_task", {"title": "Notes", "parent_task_id": parent["id"]}
            )
        )
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": child["id"]}))
        ok(
            await session.call_tool(
                "orchestrator_complete_task", {"task_id": child["id"], "summary": "ok"}
            )
        )
        synthesis = ok(
            await session.call_tool(
                "orchestrator_synthesize_results", {"parent_task_id": parent["id"]}
            )
        )
        assert synthesis["parent_task_id"] == parent["id"]
        health = ok(
            await session.call_tool("orchestrator_health_check", {"include_database_status": True})
        )
        assert health["healthy"] is True
        report = ok(
            await session.call_tool(
                "orchestrator_maintenance_coordinator", {"action": "validate_structure"}
            )
        )
        assert report["action"] == "validate_structure"
        ok(await session.call_tool("orchestrator_restart_status", {}))
        sessions = ok(await session.call_tool("orchestrator_list_sessions", {}))["sessions"]
        assert [s["working_directory"] for s in sessions] == [str(project)]
        ok(
            await session.call_tool(
                "orchestrator_resume_session", {"session_id": sessions[0]["id"]}
            )
        )
        status = ok(await session.call_tool("orchestrator_session_status", {}))
        assert status["total"] == 2
        cleanup = ok(await session.call_tool("orchestrator_cleanup_sessions", {"dry_run": True}))
        assert cleanup["sessions"] == []


async def test_bad_arguments_are_tool_errors(project: Path) -> None:
    """An unknown enum value comes back as a tool error naming the allowed values."""
    async with stdio_session(project) as session:
        result = await session.call_tool(
            "orchestrator_plan_task", {"title": "x", "complexity": "huge"}
        )
        assert "very_complex" in error_text(result)
        page = ok(await session.call_tool("orchestrator_query_tasks", {}))
    assert page["total"] == 0


async def test_refused_transition_leaves_the_store_unchanged(project: Path) -> None:
    """Completing an unclaimed-then-completed task again is refused; the task is unchanged."""
    async with stdio_session(project) as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Once"}))
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        first = ok(
            await session.call_tool(
                "orchestrator_complete_task", {"task_id": task["id"], "summary": "a"}
            )
        )
        again = await session.call_tool(
            "orchestrator_complete_task", {"task_id": task["id"], "summary": "b"}
        )
        assert "completed" in error_text(again)
        assert again.meta == {"castoff/error": "InvalidTransition", "castoff/exit_code": 2}
        page = ok(await session.call_tool("orchestrator_query_tasks", {}))
    assert page["tasks"][0]["summary"] == first["summary"] == "a"


async def test_unknown_task_is_a_clear_error(project: Path) -> None:
    """An unknown task id is a NotFound tool error, and the server keeps serving."""
    async with stdio_session(project) as session:
        result = await session.call_tool("orchestrator_execute_task", {"task_id": "nope"})
        assert "nope" in error_text(result)
        assert ok(await session.call_tool("orchestrator_get_status", {}))["total"] == 0


async def test_dependency_cycle_is_refused(project: Path) -> None:
    """update_task refuses a dependency cycle as a tool error."""
    async with stdio_session(project) as session:
        a = ok(await session.call_tool("orchestrator_plan_task", {"title": "a"}))
        b = ok(
            await session.call_tool(
                "orchestrator_plan_task", {"title": "b", "dependencies": [a["id"]]}
            )
        )
        result = await session.call_tool(
            "orchestrator_update_task", {"task_id": a["id"], "dependencies": [b["id"]]}
        )
        assert "cycle" in error_text(result).lower()


async def test_resources_list_and_read(project: Path) -> None:
    """Session status, CHANGELOG and artifacts are listed and readable."""
    (project / "CHANGELOG.md").write_text("# Changelog\n")
    async with stdio_session(project) as session:
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Notes"}))
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        done = ok(
            await session.call_tool(
                "orchestrator_complete_task",
                {
                    "task_id": task["id"],
                    "summary": "s",
                    "artifacts": [{"name": "n.md", "content": "hello"}],
                },
            )
        )
        listed = {str(r.uri): r for r in (await session.list_resources()).resources}
        sha = done["artifacts"][0]["sha256"]
        assert f"castoff://artifacts/{sha}" in listed
        artifact = await session.read_resource(f"castoff://artifacts/{sha}")
        status = await session.read_resource("castoff://session/status")
        changelog = await session.read_resource("castoff://changelog")
        templates = (await session.list_resource_templates()).resource_templates
    assert artifact.contents[0].text == "hello"  # type: ignore[union-attr]
    assert json.loads(status.contents[0].text)["counts"]["completed"] == 1  # type: ignore[union-attr]
    assert changelog.contents[0].text == "# Changelog\n"  # type: ignore[union-attr]
    assert [t.uri_template for t in templates] == ["castoff://artifacts/{sha256}"]


async def test_unknown_artifact_is_an_error(project: Path) -> None:
    """Reading an artifact that does not exist is a protocol error, not a crash."""
    from mcp.shared.exceptions import MCPError

    async with stdio_session(project) as session:
        with pytest.raises(MCPError):
            await session.read_resource("castoff://artifacts/" + "0" * 64)
        assert ok(await session.call_tool("orchestrator_get_status", {}))["total"] == 0


async def test_role_prompts(project: Path) -> None:
    """One prompt per specialist role, rendering the role with the task."""
    async with stdio_session(project) as session:
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Cut the tag"}))
        rendered = await session.get_prompt("role_version_tagging", {"task_id": task["id"]})
    assert len(prompts) == 15
    assert [a.name for a in prompts["role_coder"].arguments or []] == ["task_id"]
    text = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert "Cut the tag" in text
    assert "orchestrator_execute_task" in text


async def test_logs_never_reach_stdout(project: Path) -> None:
    """stdout carries only JSON-RPC: a tool crash logs to stderr, the client still parses."""
    async with stdio_session(project) as session:
        result = await session.call_tool(
            "orchestrator_plan_task", {"title": "x", "due_date": "soon"}
        )
        assert "due_date" in error_text(result)
        assert ok(await session.call_tool("orchestrator_get_status", {}))["total"] == 0


def test_serve_refuses_non_loopback_without_token(project: Path, run_castoff: Any) -> None:
    """Binding beyond loopback without CASTOFF_TOKEN exits 2 before listening."""
    for host in ("0.0.0.0", "::"):
        done: subprocess.CompletedProcess[str] = run_castoff(
            "serve", "--host", host, "-C", str(project)
        )
        assert done.returncode == 2
        assert "CASTOFF_TOKEN" in done.stderr


async def test_server_survives_client_cancelling(project: Path) -> None:
    """A call the client abandons does not take the server down."""
    async with stdio_session(project) as session:
        with anyio.move_on_after(0.001):
            await session.call_tool("orchestrator_get_status", {})
        assert ok(await session.call_tool("orchestrator_get_status", {}))["total"] == 0


async def test_latest_release_report(project: Path) -> None:
    """castoff://reports/latest reads the newest release-report.md artifact."""
    from mcp.shared.exceptions import MCPError

    async with stdio_session(project) as session:
        with pytest.raises(MCPError, match="no release report"):
            await session.read_resource("castoff://reports/latest")
        task = ok(await session.call_tool("orchestrator_plan_task", {"title": "Release 1.0"}))
        ok(await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        report = {"name": "release-report.md", "content": "# Release 1.0\n"}
        ok(
            await session.call_tool(
                "orchestrator_complete_task",
                {"task_id": task["id"], "summary": "released", "artifacts": [report]},
            )
        )
        read = await session.read_resource("castoff://reports/latest")
    assert read.contents[0].text == "# Release 1.0\n"  # type: ignore[union-attr]


async def test_two_servers_on_one_project_hold_leases_apart(project: Path) -> None:
    """Two stdio servers (two windows of one client) each have their own lease holder.

    Numbered per process, both used to be `mcp:<client>#1@<host>`: the second
    one's execute_task renewed the first one's lease and could complete its task.
    """
    async with (
        stdio_session(project) as first,
        stdio_session(project) as second,
    ):
        task = ok(await first.call_tool("orchestrator_plan_task", {"title": "mine"}))
        claimed = ok(await first.call_tool("orchestrator_execute_task", {"task_id": task["id"]}))
        refused = await second.call_tool("orchestrator_execute_task", {"task_id": task["id"]})
        assert refused.is_error
        assert "leased by" in refused.content[0].text  # type: ignore[union-attr]
        stolen = await second.call_tool(
            "orchestrator_complete_task", {"task_id": task["id"], "summary": "not mine"}
        )
        assert stolen.is_error
        done = ok(
            await first.call_tool(
                "orchestrator_complete_task", {"task_id": task["id"], "summary": "mine"}
            )
        )
        assert done["status"] == "completed"
        assert claimed["task"]["lease_owner"].startswith("mcp:")
