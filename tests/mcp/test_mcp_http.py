"""The MCP server over streamable HTTP: several clients, bearer token, Origin checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import HttpServer

from mcp import ClientSession

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@asynccontextmanager
async def http_session(url: str, token: str | None = None) -> AsyncIterator[ClientSession]:
    """An initialized client session over streamable HTTP."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def ok(result: Any) -> Any:
    """The structured content of a successful call."""
    assert not result.is_error, result.content
    return result.structured_content


async def test_two_clients_share_one_store(http_server: HttpServer) -> None:
    """Two concurrent clients, each its own MCP session, plan into the same task graph."""

    async def plan(session: ClientSession, who: str) -> None:
        for n in range(15):
            ok(await session.call_tool("orchestrator_plan_task", {"title": f"{who} {n}"}))

    async with http_session(http_server.url) as a, http_session(http_server.url) as b:
        async with anyio.create_task_group() as tg:
            tg.start_soon(plan, a, "a")
            tg.start_soon(plan, b, "b")
        seen_a = ok(await a.call_tool("orchestrator_query_tasks", {"limit": 100}))
        seen_b = ok(await b.call_tool("orchestrator_query_tasks", {"search_text": "b"}))
    assert seen_a["total"] == 30
    assert seen_b["total"] == 15


async def test_one_task_one_holder(http_server: HttpServer) -> None:
    """When two clients execute the same task, exactly one gets the lease."""
    async with http_session(http_server.url) as a, http_session(http_server.url) as b:
        task = ok(await a.call_tool("orchestrator_plan_task", {"title": "Only once"}))
        results: list[Any] = []

        async def claim(session: ClientSession) -> None:
            results.append(
                await session.call_tool("orchestrator_execute_task", {"task_id": task["id"]})
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(claim, a)
            tg.start_soon(claim, b)
    assert sorted(r.is_error for r in results) == [False, True]
    refused = next(r for r in results if r.is_error)
    assert refused.meta["castoff/error"] in {"LeaseConflict", "InvalidTransition"}


async def test_switching_session_is_per_client(http_server: HttpServer, tmp_path: Any) -> None:
    """initialize_session on another directory changes only that client's session."""
    other = tmp_path / "other"
    other.mkdir()
    async with http_session(http_server.url) as a, http_session(http_server.url) as b:
        ok(await a.call_tool("orchestrator_initialize_session", {"working_directory": str(other)}))
        ok(await a.call_tool("orchestrator_plan_task", {"title": "elsewhere"}))
        mine = ok(await b.call_tool("orchestrator_get_status", {}))
    assert mine["total"] == 0


async def test_missing_token_is_401(token_server: HttpServer) -> None:
    """Without a bearer token every request is refused with 401."""
    async with httpx.AsyncClient() as client:
        response = await client.post(token_server.url, json=INIT, headers=HEADERS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_token_is_401(token_server: HttpServer) -> None:
    """A wrong bearer token is refused with 401."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            token_server.url, json=INIT, headers={**HEADERS, "authorization": "Bearer nope"}
        )
    assert response.status_code == 401


async def test_right_token_is_served(token_server: HttpServer) -> None:
    """With the right token the SDK client works as usual."""
    async with http_session(token_server.url, token="s3cret") as session:
        status = ok(await session.call_tool("orchestrator_get_status", {}))
    assert status["total"] == 0


async def test_foreign_origin_is_refused(http_server: HttpServer) -> None:
    """A browser Origin other than loopback is refused (DNS rebinding)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            http_server.url, json=INIT, headers={**HEADERS, "origin": "http://evil.example"}
        )
    assert response.status_code == 403


async def test_loopback_origin_is_allowed(http_server: HttpServer) -> None:
    """A page served from loopback may talk to the loopback server."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            http_server.url, json=INIT, headers={**HEADERS, "origin": "http://localhost:3000"}
        )
    assert response.status_code == 200


async def test_foreign_host_is_refused(http_server: HttpServer) -> None:
    """A Host header naming another machine is refused on a loopback bind."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            http_server.url, json=INIT, headers={**HEADERS, "host": "attacker.example"}
        )
    assert response.status_code == 421
