"""Fixtures of the announce tests: sample notes, settings, loopback HTTP and SMTP sinks,
and delivery through the store ledger of a working directory's session (embedded SQLite)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from castoff.orchestrator.service import Orchestrator
from castoff.release.announce.delivery import SendReport
from castoff.release.announce.ledger import Delivery, delivery_key
from castoff.release.announce.service import send_notes
from castoff.release.announce.settings import AnnounceSettings
from castoff.release.model import Change, Group, Person, Reference, ReleaseNotes
from castoff.release.workflow.deliveries import EVENT_PREFIX, StoreLedger, record_key

ALICE = Person("Alice Doe", "1234+alice@users.noreply.github.com")
BOB = Person("Bob Builder", "bob@example.com")


def sample_notes(**overrides: Any) -> ReleaseNotes:
    """A small release with a breaking change, features, a fix and a first-time contributor."""
    feat = Change(
        "a" * 40,
        "feat",
        "add --json to every command",
        scope="cli",
        refs=(Reference(12),),
        authors=(ALICE,),
    )
    drop = Change(
        "c" * 40,
        "feat",
        "drop Python 3.10",
        breaking=True,
        breaking_description="Python 3.10 is no longer supported.",
        authors=(ALICE,),
    )
    fix = Change(
        "b" * 40,
        "fix",
        "don't crash on empty repos & <tags>",
        refs=(Reference(3, repo="other/repo"),),
        authors=(BOB,),
    )
    values: dict[str, Any] = {
        "version": "1.2.0",
        "date": date(2024, 5, 1),
        "groups": (Group("feat", "Features", (feat, drop)), Group("fix", "Bug Fixes", (fix,))),
        "tag": "v1.2.0",
        "previous_tag": "v1.1.0",
        "breaking": (drop,),
        "contributors": (ALICE, BOB),
        "first_timers": (BOB,),
        "compare_url": "https://github.com/acme/widget/compare/v1.1.0...v1.2.0",
        "repo_url": "https://github.com/acme/widget",
        "commit_count": 3,
    }
    values.update(overrides)
    return ReleaseNotes(**values)


def make_settings(root: Path, **overrides: Any) -> AnnounceSettings:
    values: dict[str, Any] = {
        "root": root,
        "project_name": "widget",
        "backoff": 0.0,
        "timeout": 2.0,
    }
    values.update(overrides)
    return AnnounceSettings(**values)


def send(
    notes: ReleaseNotes,
    settings: AnnounceSettings,
    root: Path,
    channels: Sequence[str],
    *,
    confirm: bool,
    force: Collection[str] = (),
) -> SendReport:
    """Deliver through the store ledger of ``root``'s session, as castoff does."""
    with Orchestrator.open(root, actor="test") as orch:
        ledger = StoreLedger(orch, notes.tag or "unreleased")
        return send_notes(notes, settings, channels, ledger=ledger, confirm=confirm, force=force)


def entry(root: Path, channel: str, tag: str = "v1.2.0") -> Delivery | None:
    """What the store ledger of ``root`` says about ``channel``."""
    with Orchestrator.open(root, actor="test") as orch:
        return StoreLedger(orch, tag).get(channel)


def record_intent(root: Path, channel: str, tag: str = "v1.2.0") -> None:
    """An intent with no result: what a process killed mid-delivery leaves behind."""
    with Orchestrator.open(root, actor="test") as orch:
        StoreLedger(orch, tag).record_intent(channel, delivery_key(tag, channel))


def stored_text(root: Path, tag: str = "v1.2.0") -> str:
    """Everything the store keeps about the deliveries of ``tag``: record and events, as JSON."""
    with Orchestrator.open(root, actor="test") as orch:
        record = orch.get_record(record_key(tag))
        events = [e.data for e in orch.events(limit=1000) if e.kind.startswith(EVENT_PREFIX)]
    return json.dumps({"record": record.data if record else None, "events": events})


@pytest.fixture
def notes() -> ReleaseNotes:
    return sample_notes()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any]
Handler = Callable[[Recorded], Reply]


@dataclass
class HttpSink:
    """A loopback HTTP server answering with ``handler`` and recording every request."""

    handler: Handler
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]


@pytest.fixture
def http_sink() -> Iterator[Callable[[Handler], HttpSink]]:
    """Factory: ``http_sink(handler)`` starts a server on 127.0.0.1 for this test."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> HttpSink:
        sink = HttpSink(handler)

        class Handle(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                rec = Recorded(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                sink.requests.append(rec)
                status, body = sink.handler(rec)
                if status == 0:  # simulate a lost answer: close without replying
                    self.close_connection = True
                    self.connection.close()
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        server.daemon_threads = True
        sink.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return sink

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


TOKEN = "ghp_TESTTOKEN0123456789"


class FakeGitHub:
    """Enough of the GitHub releases API: tags, releases by tag, release creation."""

    def __init__(
        self, *, tags: tuple[str, ...] = ("v1.2.0",), lose_first_answer: bool = False
    ) -> None:
        self.tags = set(tags)
        self.releases: dict[str, dict[str, Any]] = {}
        self.lose_first_answer = lose_first_answer

    def __call__(self, req: Recorded) -> tuple[int, Any]:
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}
        prefix = "/repos/acme/widget"
        if req.method == "GET" and req.path.startswith(f"{prefix}/git/ref/tags/"):
            tag = req.path.rsplit("/", 1)[1]
            return (200, {"ref": f"refs/tags/{tag}"}) if tag in self.tags else (404, {})
        if req.method == "GET" and req.path.startswith(f"{prefix}/releases/tags/"):
            tag = req.path.rsplit("/", 1)[1]
            return (200, self.releases[tag]) if tag in self.releases else (404, {})
        if req.method == "POST" and req.path == f"{prefix}/releases":
            body = req.json()
            assert set(body) == {"tag_name", "name", "body", "draft", "prerelease"}
            if body["tag_name"] in self.releases:
                return 422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}
            release = {
                "id": 7,
                "tag_name": body["tag_name"],
                "html_url": f"https://gh.test/r/{body['tag_name']}",
            }
            self.releases[body["tag_name"]] = release
            if self.lose_first_answer:
                self.lose_first_answer = False
                return 0, None
            return 201, release
        return 404, {}


class _Collect:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@dataclass
class SmtpSink:
    host: str
    port: int
    handler: _Collect

    @property
    def messages(self) -> list[Any]:
        return self.handler.envelopes


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A local SMTP server (aiosmtpd) on 127.0.0.1 collecting messages, without STARTTLS."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSink("127.0.0.1", port, handler)
    finally:
        controller.stop()
