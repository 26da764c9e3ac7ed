"""Fixtures for orchestrator tests: an open Orchestrator on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from castoff.orchestrator.service import Orchestrator


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A session working directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def orch(db_url: str, workdir: Path) -> Iterator[Orchestrator]:
    """An open orchestrator on a fresh store (both dialects)."""
    with Orchestrator.open(workdir, database_url=db_url, actor="test") as o:
        yield o
