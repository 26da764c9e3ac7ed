"""`castoff announce draft | send` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import HttpSink, Recorded, entry, record_intent

Run = Callable[..., Any]


@pytest.fixture
def project(repo: Any) -> Any:
    """A repository with a released v0.1.0, two new commits and a GitHub origin."""
    repo.commit("feat: first feature")
    repo.tag("v0.1.0")
    repo.commit("feat(cli): add the widget command")
    repo.commit("fix: handle empty input", author="Bob Builder <bob@example.com>")
    repo.git("remote", "add", "origin", "https://github.com/acme/widget.git")
    return repo


def _config(repo: Any, body: str) -> None:
    repo.write("castoff.toml", body)


def test_draft_json_has_every_channel(project: Any, run_castoff: Run) -> None:
    """--json prints every channel's draft for the upcoming version."""
    out = run_castoff("announce", "draft", "--json", cwd=project.path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["version"] == "0.2.0"
    assert "social" in data["drafts"]
    assert "add the widget command" in data["drafts"]["github"]["content"]


def test_draft_output_writes_files(project: Any, run_castoff: Run, tmp_path: Path) -> None:
    """--output writes one file per draft (two for e-mail)."""
    target = tmp_path / "drafts"
    out = run_castoff(
        "announce", "draft", "-c", "email", "-c", "slack", "--output", str(target), cwd=project.path
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in target.iterdir()) == ["email.html", "email.txt", "slack.json"]


def test_draft_for_a_tag(project: Any, run_castoff: Run) -> None:
    """--tag drafts the notes of that tagged release."""
    out = run_castoff(
        "announce", "draft", "-c", "social", "--tag", "v0.1.0", "--json", cwd=project.path
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tag"] == "v0.1.0"


def test_unknown_channel_exits_2(project: Any, run_castoff: Run) -> None:
    """An unknown channel is bad input: exit 2, one line, no traceback."""
    out = run_castoff("announce", "draft", "-c", "irc", cwd=project.path)
    assert out.returncode == 2
    assert "unknown channel 'irc'" in out.stderr
    assert "Traceback" not in out.stderr


def test_send_draft_only_channel_exits_2(project: Any, run_castoff: Run) -> None:
    """Social posts are draft-only; asking to send one is bad input."""
    project.tag("v0.2.0")
    out = run_castoff("announce", "send", "-c", "social", cwd=project.path)
    assert out.returncode == 2
    assert "draft-only" in out.stderr


def test_send_without_yes_is_a_dry_run(
    project: Any, run_castoff: Run, http_sink: Callable[..., HttpSink]
) -> None:
    """Without --yes nothing is posted or recorded (no store is created); exit code 0."""
    sink = http_sink(lambda req: (200, b"ok"))
    project.tag("v0.2.0")
    _config(project, '[announce]\nchannels = ["slack"]\n')
    out = run_castoff(
        "announce", "send", cwd=project.path, env={"SLACK_WEBHOOK_URL": f"{sink.url}/h"}
    )
    assert out.returncode == 0, out.stderr
    assert "would_send" in out.stdout
    assert "dry run" in out.stdout
    assert sink.requests == []
    assert not (project.path / ".castoff" / "castoff.db").exists()


def test_send_yes_delivers_once(
    project: Any, run_castoff: Run, http_sink: Callable[..., HttpSink]
) -> None:
    """--yes posts once; a second run reports already_sent and posts nothing."""
    received: list[Recorded] = []
    sink = http_sink(lambda req: (received.append(req), (200, b"ok"))[1])
    project.tag("v0.2.0")
    _config(project, '[announce]\nchannels = ["slack"]\n')
    env = {"SLACK_WEBHOOK_URL": f"{sink.url}/h"}
    first = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    second = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["results"][0]["status"] == "sent"
    assert json.loads(second.stdout)["results"][0]["status"] == "already_sent"
    assert len(received) == 1
    assert "v0.2.0" in received[0].body.decode()


def test_send_with_a_failing_channel_exits_1(
    project: Any, run_castoff: Run, http_sink: Callable[..., HttpSink]
) -> None:
    """One channel failing (unset variable) exits 1 while the other is delivered."""
    sink = http_sink(lambda req: (200, b"ok"))
    project.tag("v0.2.0")
    _config(project, '[announce]\nchannels = ["slack", "mattermost"]\n')
    out = run_castoff(
        "announce",
        "send",
        "--yes",
        cwd=project.path,
        env={"MATTERMOST_WEBHOOK_URL": f"{sink.url}/h", "SLACK_WEBHOOK_URL": ""},
    )
    assert out.returncode == 1
    assert "slack: failed" in out.stdout
    assert "mattermost: sent" in out.stdout
    assert len(sink.requests) == 1


def test_send_without_a_tag_exits_2(repo: Any, run_castoff: Run) -> None:
    """Nothing tagged yet: sending is refused with a hint."""
    repo.commit("feat: something")
    _config(repo, '[announce]\nchannels = ["slack"]\n')
    out = run_castoff("announce", "send", cwd=repo.path)
    assert out.returncode == 2
    assert "castoff version tag" in out.stderr


@pytest.mark.parametrize(("answer", "status"), [(b"n", "sending"), (b"y", "sent")])
def test_mark_sent_on_a_terminal_asks_first(
    project: Any, answer: bytes, status: str, on_a_terminal: Any
) -> None:
    """Without --yes on a terminal --mark-sent shows what it would record and asks: n records
    nothing (exit 0), y records the channel as sent."""
    _config(project, '[announce]\nchannels = ["webhook"]\n')
    project.commit("chore: announce on a webhook")
    project.tag("v0.2.0")
    record_intent(project.path, "webhook", "v0.2.0")  # what a sender killed mid-send leaves
    code, out = on_a_terminal(
        project.path,
        ["announce", "send", "--mark-sent", "webhook"],
        b"Record webhook of v0.2.0 as sent",
        answer,
    )
    assert code == 0, out[-2000:]
    assert b"would be recorded as sent by" in out
    assert (b"declined" in out) == (answer == b"n")
    assert entry(project.path, "webhook", "v0.2.0").status == status  # type: ignore[union-attr]
