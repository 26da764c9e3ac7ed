"""Helpers for the MCP tests: the real server in a subprocess, over stdio or HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CASTOFF_TOKEN"}


@asynccontextmanager
async def stdio_session(project: Path, *args: str) -> AsyncIterator[ClientSession]:
    """An initialized client session with ``castoff mcp`` on ``project`` over stdio."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "castoff", "mcp", "-C", str(project), *args],
        env=_env(),
    )
    with (project.parent / "mcp-stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpServer:
    """``castoff serve`` running in a subprocess on 127.0.0.1."""

    def __init__(self, project: Path, token: str | None, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        env = _env()
        if token is not None:
            env["CASTOFF_TOKEN"] = token
        self.log = (project.parent / "serve-stderr.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "castoff",
                "serve",
                "--port",
                str(self.port),
                "-C",
                str(project),
                *args,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"castoff serve exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("castoff serve did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
