"""Fixtures for validation tests: loopback HTTP servers and the sample project."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: ``respond(path, hit_number) -> (status, json_body_or_None)``
Responder = Callable[[str, int], tuple[int, Any]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    respond: Responder
    hits: int


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server = self.server
            assert isinstance(server, _Server)
            server.hits += 1
            status, body = server.respond(self.path, server.hits)
            payload = json.dumps(body).encode() if body is not None else b"not json"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], tuple[str, _Server]]]:
    """Start a loopback HTTP server answering with ``respond``; returns (base URL, server)."""
    servers: list[_Server] = []

    def start(respond: Responder) -> tuple[str, _Server]:
        server = _Server(("127.0.0.1", 0), _handler())
        server.respond = respond
        server.hits = 0
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"
