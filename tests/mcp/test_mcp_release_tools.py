"""Release tools over MCP: each answers, long ones report progress and honour cancellation."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_helpers import stdio_session

from castoff.orchestrator.service import Orchestrator

pytestmark = pytest.mark.anyio


def ok(result: Any) -> Any:
    """The structured content of a successful call."""
    assert not result.is_error, result.content
    return result.structured_content


@pytest.fixture
def released(repo: Any) -> Path:
    """A project with release v0.1.0 and a feature after it."""
    repo.commit("feat: first", {"pyproject.toml": '[project]\nname = "demo"\nversion = "0.1.0"\n'})
    repo.tag("v0.1.0")
    repo.commit("feat: second feature")
    repo.commit("fix: a bug")
    return Path(repo.path)


async def test_version_and_notes_tools(released: Path) -> None:
    """version_next, version_tag (dry run) and notes_generate answer with their results."""
    async with stdio_session(released, "--tools", "release") as session:
        nxt = ok(await session.call_tool("version_next", {}))
        preview = ok(await session.call_tool("version_tag", {"dry_run": True}))
        notes = ok(await session.call_tool("notes_generate", {}))
    assert (nxt["current"], nxt["next"]) == ("0.1.0", "0.2.0")
    assert (preview["tag"], preview["status"]) == ("v0.2.0", "dry run")
    assert "second feature" in notes["text"]
    assert notes["changelog_updated"] is False


async def test_version_tag_tags_once(released: Path) -> None:
    """version_tag creates the tag; a second call finds it already there."""
    async with stdio_session(released, "--tools", "release") as session:
        first = ok(await session.call_tool("version_tag", {}))
        second = ok(await session.call_tool("version_tag", {}))
    assert first["status"] == "tagged"
    assert second["status"] == "already tagged"
    tags = subprocess.run(["git", "tag"], cwd=released, capture_output=True, text=True, check=True)
    assert tags.stdout.split() == ["v0.1.0", "v0.2.0"]


async def test_validate_tools(released: Path) -> None:
    """validate_preflight and validate_postdeploy return their reports (failures inside)."""
    async with stdio_session(released, "--tools", "release") as session:
        pre = ok(
            await session.call_tool("validate_preflight", {"check": ["clean-tree", "tag-free"]})
        )
        post = ok(await session.call_tool("validate_postdeploy", {}))
    assert pre["kind"] == "preflight"
    assert {c["id"] for c in pre["checks"]} == {"clean-tree", "tag-free"}
    assert post["status"] == "pass"


async def test_rollback_and_announce_tools(released: Path, repo: Any) -> None:
    """rollback_plan, rollback_run (dry run), announce_draft and announce_send (dry run) answer."""
    repo.tag("v0.2.0")
    async with stdio_session(released, "--tools", "release") as session:
        plan = ok(await session.call_tool("rollback_plan", {}))
        run = ok(await session.call_tool("rollback_run", {"to": "v0.1.0"}))
        drafts = ok(await session.call_tool("announce_draft", {}))
        sent = await session.call_tool("announce_send", {})
    assert (plan["new_tag"], plan["previous_tag"]) == ("v0.2.0", "v0.1.0")
    assert run["status"] == "dry_run"
    assert drafts["version"] == "0.2.0"
    assert sent.is_error or sent.structured_content["dry_run"] is True


async def test_announce_send_records_in_the_store(
    released: Path, repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """announce_send (yes) delivers once through the store's ledger, shared with the CLI."""
    hits: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ANNOUNCE_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/in")
        repo.commit("chore: announce", {"castoff.toml": '[announce]\nchannels = ["webhook"]\n'})
        repo.tag("v0.2.0")
        async with stdio_session(released, "--tools", "release") as session:
            first = ok(await session.call_tool("announce_send", {"yes": True}))
            again = ok(await session.call_tool("announce_send", {"yes": True}))
        cli = subprocess.run(
            [sys.executable, "-m", "castoff", "announce", "send", "--yes", "--json"],
            cwd=released, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert [r["status"] for r in first["results"]] == ["sent"]
    assert [r["status"] for r in again["results"]] == ["already_sent"]
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["results"][0]["status"] == "already_sent"
    assert hits == ["/in"]
    with Orchestrator.open(released, actor="test", create=False) as orch:
        logged = [
            (e.kind, e.actor) for e in reversed(orch.events()) if e.kind.startswith("announce")
        ]
    assert logged == [("announce.sending", "mcp"), ("announce.sent", "mcp")]


async def test_announce_send_marks_an_uncertain_delivery_sent(released: Path, repo: Any) -> None:
    """mark_sent: a dry run unless yes, then recorded in the client's name (mcp); nothing is
    sent; combined with sending, or for a channel never sent, it is a tool error."""
    from castoff.release.announce.ledger import delivery_key
    from castoff.release.workflow.deliveries import StoreLedger

    repo.commit("chore: announce", {"castoff.toml": '[announce]\nchannels = ["webhook"]\n'})
    repo.tag("v0.2.0")
    with Orchestrator.open(released, actor="test") as orch:  # a sender killed mid-send
        StoreLedger(orch, "v0.2.0").record_intent("webhook", delivery_key("v0.2.0", "webhook"))
    async with stdio_session(released, "--tools", "release") as session:
        preview = ok(await session.call_tool("announce_send", {"mark_sent": ["webhook"]}))
        mixed = await session.call_tool(
            "announce_send", {"mark_sent": ["webhook"], "force_channel": ["webhook"], "yes": True}
        )
        never = await session.call_tool("announce_send", {"mark_sent": ["slack"], "yes": True})
        marked = ok(
            await session.call_tool("announce_send", {"mark_sent": ["webhook"], "yes": True})
        )
        again = await session.call_tool("announce_send", {"mark_sent": ["webhook"], "yes": True})
    assert (preview["dry_run"], preview["results"][0]["status"]) == (True, "would_mark_sent")
    assert mixed.is_error
    assert "sends nothing" in str(mixed.content)
    assert never.is_error
    assert "no delivery of slack is recorded" in str(never.content)
    assert (marked["dry_run"], marked["results"][0]["status"]) == (False, "marked_sent")
    assert again.is_error
    assert "already recorded as marked sent" in str(again.content)
    with Orchestrator.open(released, actor="test", create=False) as orch:
        entry = StoreLedger(orch, "v0.2.0").get("webhook")
        logged = [e for e in orch.events() if e.kind == "announce.marked_sent"]
    assert entry is not None
    assert entry.status == "sent"
    assert [(e.actor, e.data["by"].endswith(" (mcp)")) for e in logged] == [("mcp", True)]


async def test_progress_is_reported(released: Path, repo: Any) -> None:
    """A long tool sends progress notifications when the client gives a progress token."""
    repo.tag("v0.2.0")
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    async with stdio_session(released, "--tools", "release") as session:
        ok(await session.call_tool("notes_generate", {}, progress_callback=on_progress))
    assert seen
    assert seen[0][1] == "reading history"


def _big_history(repo: Any, commits: int) -> None:
    """``commits`` conventional commits on main, written fast with git fast-import."""
    lines = []
    for n in range(commits):
        body = f"feat: change number {n}\n"
        lines.append(
            f"commit refs/heads/main\nmark :{n + 1}\n"
            f"committer Dev <dev@example.com> {1_700_000_000 + n} +0000\n"
            f"data {len(body)}\n{body}"
            + (f"from :{n}\n" if n else "")
            + f"M 644 inline file.txt\ndata {len(str(n))}\n{n}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo.path,
        input="".join(lines).encode(),
        check=True,
    )
    repo.git("checkout", "-q", "-f", "main")


async def test_cancelled_notes_write_nothing(repo: Any) -> None:
    """Cancelling notes_generate stops it before the CHANGELOG is written; the server lives on."""
    _big_history(repo, 4000)
    project = Path(repo.path)

    async with stdio_session(project, "--tools", "release") as session:
        with anyio.CancelScope() as scope:

            async def cancel_on_first(
                progress: float, total: float | None, message: str | None
            ) -> None:
                scope.cancel()

            await session.call_tool(
                "notes_generate", {"update_changelog": True}, progress_callback=cancel_on_first
            )
        assert scope.cancelled_caught
        await anyio.sleep(0.5)
        status = ok(await session.call_tool("orchestrator_get_status", {}))
    assert status["total"] == 0
    assert not (project / "CHANGELOG.md").exists()
    log = (project.parent / "mcp-stderr.log").read_text()
    assert "cancelled by the client" in log


async def test_release_workflow_tools(released: Path) -> None:
    """release_prepare (dry run) reports progress and an outcome; resume without a release errs."""
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with stdio_session(released, "--tools", "release") as session:
        outcome = ok(
            await session.call_tool(
                "release_prepare", {"dry_run": True}, progress_callback=on_progress
            )
        )
        resumed = await session.call_tool("release_resume", {})
        status = await session.call_tool("release_status", {})
    assert outcome["version"] == "0.2.0"
    assert outcome["outcome"] in {"dry_run", "failed"}
    assert outcome["steps"]
    assert seen
    assert resumed.is_error
    assert "no release in progress" in resumed.content[0].text  # type: ignore[union-attr]
    assert status.is_error or status.structured_content["outcome"]


# -- the release workflow on the light sample repository --------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release" / "workflow"))
from workflow_sample import build_light_repository, events, release_tasks  # noqa: E402


@pytest.fixture
def skyline(tmp_path: Path) -> Path:
    """The release workflow's light sample repository (a few seconds per release)."""
    return build_light_repository(tmp_path / "skyline")


async def test_release_prepare_takes_agent_and_skip_rollback_check(skyline: Path) -> None:
    """release_prepare's agent and skip_rollback_check: described, and they plan the release."""
    async with stdio_session(skyline, "--tools", "release") as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        props = tools["release_prepare"].input_schema["properties"]
        outcome = ok(
            await session.call_tool(
                "release_prepare", {"agent": True, "skip_rollback_check": True, "yes": True}
            )
        )
    assert "highlights" in props["agent"]["description"]
    assert "rollback" in props["skip_rollback_check"]["description"]
    assert outcome["outcome"] == "partial"
    assert outcome["exit_code"] == 4
    assert "waiting for an agent to complete: Write the highlights paragraph" in outcome["message"]
    state = release_tasks(skyline)
    assert state.steps["highlights_draft"].status == "pending"
    kinds = [e.kind for e in events(skyline, state.root.id)]
    assert "release.rollback_check_skipped" in kinds


async def test_cancelled_release_prepare_is_partial_and_resumable(skyline: Path) -> None:
    """Cancelled mid-validation: the step is pending again (not failed), an event says
    "cancelled by client", status is partial (exit 4), and release_resume finishes it."""
    pyproject = skyline / "pyproject.toml"
    slow = (
        "[tool.castoff.validate]\nconcurrency = 1\nchecks = ["
        + ", ".join(f'{{ id = "slow{n}", command = "sleep 1" }}' for n in range(3))
        + "]\n"
    )  # validation reports progress once a second, so the cancellation lands inside it
    pyproject.write_text(pyproject.read_text().replace("[tool.castoff.validate]\n", slow))
    subprocess.run(["git", "commit", "-qam", "chore: slow checks"], cwd=skyline, check=True)

    async with stdio_session(skyline, "--tools", "release") as session:
        with anyio.CancelScope() as scope:

            async def cancel_in_validation(
                progress: float, total: float | None, message: str | None
            ) -> None:
                if message and message.startswith("Pre-flight validation: custom.slow0"):
                    scope.cancel()

            await session.call_tool(
                "release_prepare", {"yes": True}, progress_callback=cancel_in_validation
            )
        assert scope.cancelled_caught
        with anyio.fail_after(60):
            while True:  # the server finishes the step's cleanup after the cancellation
                status = ok(await session.call_tool("release_status", {}))
                step = next(s for s in status["steps"] if s["key"] == "validate")
                if step["status"] != "in_progress":
                    break
                await anyio.sleep(0.2)
        assert step["status"] == "pending", step
        assert status["outcome"] == "partial"
        assert status["exit_code"] == 4
        done = ok(await session.call_tool("release_resume", {"yes": True}))
    assert done["outcome"] == "released", done["message"]
    state = release_tasks(skyline)
    assert state.steps["validate"].attempts == 2
    kinds = [e.kind for e in events(skyline, state.steps["validate"].id)]
    assert "task.failed" not in kinds
    cancelled = [
        e for e in events(skyline, state.steps["validate"].id) if e.kind == "release.step_cancelled"
    ]
    assert [e.data["reason"] for e in cancelled] == ["cancelled by client"]


def test_channel_and_check_enums_match_the_engines(released: Path) -> None:
    """The published channel and pre-flight check ids are exactly the engines' own."""
    from typing import get_args

    from castoff.config import load_config
    from castoff.mcp.release_tools import Channel, PreflightCheck
    from castoff.release.announce.settings import CHANNELS
    from castoff.release.validate.preflight import preflight_checks
    from castoff.release.validate.settings import load_settings

    config = load_config(released)
    checks = preflight_checks(
        released,
        config,
        load_settings(config),
        version="0.2.0",
        tag="v0.2.0",
        workdir=released / "scratch",
    )
    built_in = get_args(get_args(PreflightCheck)[0])
    assert get_args(Channel) == CHANNELS
    assert built_in == tuple(c.id for c in checks if not c.id.startswith("custom."))


async def test_bad_check_and_channel_are_named(released: Path) -> None:
    """An unknown check id or channel is refused in one line listing what is accepted."""
    async with stdio_session(released, "--tools", "release") as session:
        check = await session.call_tool("validate_preflight", {"check": ["lint"]})
        channel = await session.call_tool("announce_draft", {"channel": ["twitter"]})
    assert check.content[0].text == (  # type: ignore[union-attr]
        "validate_preflight: check[0] must be one of clean-tree, branch, upstream, tag-free, "
        "version-files, changelog, tests, build, twine-check, smoke or a string matching "
        "^custom\\..+; got 'lint'"
    )
    assert "must be one of github, gitlab" in channel.content[0].text  # type: ignore[union-attr]
    assert channel.meta == {"castoff/error": "UsageError", "castoff/exit_code": 2}


async def test_release_results_have_readable_lines(released: Path) -> None:
    """Each release result's text starts with a sentence, not a class name."""
    async with stdio_session(released, "--tools", "release") as session:
        lines = {
            name: (await session.call_tool(name, args)).content[0].text.partition("\n")[0]  # type: ignore[union-attr]
            for name, args in (
                ("version_next", {}),
                ("notes_generate", {}),
                ("version_tag", {"dry_run": True}),
                ("validate_preflight", {"check": ["clean-tree"]}),
            )
        }
    assert lines["version_next"] == "next version 0.2.0 (minor: 1 feature) from 0.1.0"
    assert lines["notes_generate"] == "Unreleased: 2 entries in 2 groups"
    assert lines["version_tag"].startswith("dry run: would tag v0.2.0")
    assert lines["validate_preflight"].startswith("preflight ")
