"""Fixtures for the MCP tests (helpers live in mcp_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import HttpServer


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio."""
    return "asyncio"


@pytest.fixture
def project(repo: Any) -> Path:
    """A git repository with one commit, the server's working directory."""
    repo.commit("feat: first feature")
    return Path(repo.path)


@pytest.fixture
def http_server(project: Path) -> Iterator[HttpServer]:
    """``castoff serve --tools all`` on a free loopback port, without a token."""
    server = HttpServer(project, None, "--tools", "all")
    yield server
    server.stop()


@pytest.fixture
def token_server(project: Path) -> Iterator[HttpServer]:
    """``castoff serve`` on loopback with CASTOFF_TOKEN=s3cret."""
    server = HttpServer(project, "s3cret")
    yield server
    server.stop()
