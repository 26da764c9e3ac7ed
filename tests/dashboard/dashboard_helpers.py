"""Helpers for the dashboard tests: the real ``castoff serve`` on a real store.

What they build on lives beside other suites: the light sample repository and
its release (tests/release/workflow/workflow_sample.py) and the server in a
subprocess (tests/mcp/mcp_helpers.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "release" / "workflow", TESTS / "mcp"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from mcp_helpers import HttpServer  # noqa: E402


class Server(HttpServer):
    """``castoff serve`` in a subprocess; :attr:`base` is its root URL."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve(project: Path, token: str | None = None, *args: str) -> Server:
    """``castoff serve -C project`` on a free loopback port, on the embedded store."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CASTOFF_DATABASE_URL", raising=False)
        return Server(project, token, *args)
