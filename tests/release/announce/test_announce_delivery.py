"""Delivery against loopback servers: exactly once, retries, crashes, clear failures, no secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from castoff.errors import UsageError
from castoff.orchestrator.service import Orchestrator
from castoff.release.announce.delivery import mark_sent
from castoff.release.announce.ledger import delivery_key
from castoff.release.model import ReleaseNotes
from castoff.release.workflow.deliveries import StoreLedger
from conftest import (
    TOKEN,
    FakeGitHub,
    HttpSink,
    Recorded,
    entry,
    make_settings,
    record_intent,
    sample_notes,
    send,
    stored_text,
)

SinkFactory = Callable[[Callable[[Recorded], tuple[int, Any]]], HttpSink]


def _github_settings(tmp_path: Path, sink: HttpSink, **more: Any) -> Any:
    table = {"api_url": sink.url, "repo": "acme/widget", "token_env": "TEST_GH_TOKEN"}
    return make_settings(tmp_path, tables={"github": table, **more.pop("tables", {})}, **more)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GH_TOKEN", TOKEN)


def test_github_release_created_with_payload_and_auth(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes
) -> None:
    """The release is created once, with the body, the tag and the bearer token."""
    api = FakeGitHub()
    sink = http_sink(api)
    report = send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert report.ok, report
    (result,) = report.results
    assert (result.status, result.url) == ("sent", "https://gh.test/r/v1.2.0")
    (post,) = sink.calls("POST")
    assert post.json()["tag_name"] == "v1.2.0"
    assert "## ⚠ Breaking changes" in post.json()["body"]
    assert post.json()["prerelease"] is False


def test_github_rerun_sends_nothing(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes
) -> None:
    """A second run finds the ledger says sent and makes no request at all."""
    sink = http_sink(FakeGitHub())
    settings = _github_settings(tmp_path, sink)
    send(notes, settings, tmp_path, ["github"], confirm=True)
    before = len(sink.requests)
    report = send(notes, settings, tmp_path, ["github"], confirm=True)
    assert report.results[0].status == "already_sent"
    assert len(sink.requests) == before


def test_github_crash_after_send_is_resolved_by_lookup(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes
) -> None:
    """Intent recorded, release created, result lost: the rerun finds it by tag, no POST."""
    api = FakeGitHub()
    api.releases["v1.2.0"] = {"id": 7, "tag_name": "v1.2.0", "html_url": "https://gh.test/r/v1.2.0"}
    sink = http_sink(api)
    record_intent(tmp_path, "github")
    report = send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert report.results[0].status == "sent"
    assert sink.calls("POST") == []
    assert entry(tmp_path, "github").status == "sent"  # type: ignore[union-attr]


def test_github_lost_answer_is_not_created_twice(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes
) -> None:
    """The create answer is lost; the retry looks the release up and does not POST again."""
    sink = http_sink(FakeGitHub(lose_first_answer=True))
    report = send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert report.results[0].status == "sent"
    assert len(sink.calls("POST")) == 1


def test_github_missing_remote_tag_fails_clearly(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes
) -> None:
    """A tag not pushed yet fails the channel and creates nothing."""
    sink = http_sink(FakeGitHub(tags=()))
    report = send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert report.results[0].status == "failed"
    assert "push it first" in report.results[0].detail
    assert sink.calls("POST") == []


def test_bad_token_fails_without_leaking_it(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 fails the channel; the token appears in neither report nor store."""
    monkeypatch.setenv("TEST_GH_TOKEN", "ghp_WRONGTOKEN987654")
    sink = http_sink(FakeGitHub())
    report = send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert not report.ok
    assert "401" in report.results[0].detail
    assert "401" in stored_text(tmp_path)
    assert "ghp_WRONGTOKEN987654" not in json.dumps([r.detail for r in report.results])
    assert "ghp_WRONGTOKEN987654" not in stored_text(tmp_path)


def _webhook_settings(tmp_path: Path, **tables: Any) -> Any:
    return make_settings(tmp_path, tables=tables)


def test_webhook_retries_5xx_then_delivers_with_one_key(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two 503s then 200: delivered, every attempt carrying the same Idempotency-Key."""
    answers = iter([(503, {}), (503, {}), (200, b"ok")])
    sink = http_sink(lambda req: next(answers))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{sink.url}/services/T0/B0/SECRET")
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["slack"], confirm=True)
    assert report.results[0].status == "sent"
    keys = {r.headers["Idempotency-Key"] for r in sink.requests}
    assert keys == {delivery_key("v1.2.0", "slack")}
    assert len(sink.requests) == 3
    assert sink.requests[0].json()["blocks"][0]["type"] == "header"


def test_webhook_4xx_fails_but_other_channels_deliver(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel answering 400 fails alone; the next channel is still delivered."""
    bad = http_sink(lambda req: (400, {"message": "invalid_payload"}))
    good = http_sink(lambda req: (204, b""))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{bad.url}/hook")
    monkeypatch.setenv("MATTERMOST_WEBHOOK_URL", f"{good.url}/hooks/abc")
    report = send(
        notes, _webhook_settings(tmp_path), tmp_path, ["slack", "mattermost"], confirm=True
    )
    statuses = {r.channel: r.status for r in report.results}
    assert statuses == {"slack": "failed", "mattermost": "sent"}
    assert "HTTP 400" in report.results[0].detail
    assert not report.ok
    assert entry(tmp_path, "slack").status == "failed"  # type: ignore[union-attr]


def test_failed_channel_is_retried_on_rerun(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused delivery is not recorded as sent, so the next run sends it."""
    answers = iter([(400, {}), (200, b"ok")])
    sink = http_sink(lambda req: next(answers))
    monkeypatch.setenv("ANNOUNCE_WEBHOOK_URL", f"{sink.url}/in")
    settings = _webhook_settings(tmp_path)
    assert send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0].status == "failed"
    assert send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0].status == "sent"


def test_missing_env_var_fails_that_channel_only(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset variable fails its channel (named, not recorded); the others are delivered."""
    good = http_sink(lambda req: (200, {"id": "991"}))
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", f"{good.url}/api/webhooks/1/tok")
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["slack", "discord"], confirm=True)
    slack, discord = report.results
    assert slack.status == "failed"
    assert "SLACK_WEBHOOK_URL is not set" in slack.detail
    assert (discord.status, discord.remote_id) == ("sent", "991")
    assert good.requests[0].path.endswith("?wait=true")
    assert entry(tmp_path, "slack") is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a valid http(s) URL"),
        ("http://hooks.example.org/x/SECRET9", "plain http"),
    ],
)
def test_bad_webhook_url_fails_without_echoing_it(
    tmp_path: Path, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    """A malformed or plain-http non-loopback URL fails clearly and is never shown."""
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", url)
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["teams"], confirm=True)
    assert report.results[0].status == "failed"
    assert message in report.results[0].detail
    assert "SECRET9" not in report.results[0].detail


def test_webhook_crash_between_send_and_record_is_not_resent(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An intent without a result: the rerun reports unknown and posts nothing."""
    sink = http_sink(lambda req: (200, b"ok"))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{sink.url}/hook")
    record_intent(tmp_path, "slack")
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["slack"], confirm=True)
    assert report.results[0].status == "unknown"
    assert "--force-channel slack" in report.results[0].detail
    assert sink.requests == []


def test_force_channel_resends_an_unknown_delivery(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force-channel resends a channel the ledger is unsure about."""
    sink = http_sink(lambda req: (200, b"ok"))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{sink.url}/hook")
    record_intent(tmp_path, "slack")
    report = send(
        notes, _webhook_settings(tmp_path), tmp_path, ["slack"], confirm=True, force=["slack"]
    )
    assert report.results[0].status == "sent"
    assert len(sink.requests) == 1


def test_webhook_lost_answer_is_unknown_and_not_retried(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer after the request went out: one attempt, reported unknown, never resent."""
    sink = http_sink(lambda req: (0, None))
    monkeypatch.setenv("ANNOUNCE_WEBHOOK_URL", f"{sink.url}/in")
    settings = _webhook_settings(tmp_path)
    assert send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0].status == "unknown"
    assert send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0].status == "unknown"
    assert len(sink.requests) == 1


def test_unknown_delivery_marked_sent_is_never_sent_again(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """unknown -> mark_sent (a dry run first records nothing) -> sends skip it as sent."""
    sink = http_sink(lambda req: (0, None))  # the request arrives, the answer is lost
    monkeypatch.setenv("ANNOUNCE_WEBHOOK_URL", f"{sink.url}/in")
    settings = _webhook_settings(tmp_path)
    assert send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0].status == "unknown"
    with Orchestrator.open(tmp_path, actor="test") as orch:
        ledger = StoreLedger(orch, "v1.2.0")
        preview = mark_sent("v1.2.0", ["webhook"], ledger, by="alice@box (cli)", confirm=False)
        assert [r.status for r in preview.results] == ["would_mark_sent"]
        assert preview.ok
        assert ledger.get("webhook").status == "unknown"  # type: ignore[union-attr]
        with ledger.exclusive():
            done = mark_sent("v1.2.0", ["webhook"], ledger, by="alice@box (cli)", confirm=True)
    assert [r.status for r in done.results] == ["marked_sent"]
    assert done.ok
    again = send(notes, settings, tmp_path, ["webhook"], confirm=True).results[0]
    assert again.status == "already_sent"
    assert again.detail.startswith("marked sent by alice@box (cli)")
    assert len(sink.requests) == 1


def test_marking_refuses_every_channel_if_one_cannot_be_marked(
    tmp_path: Path, notes: ReleaseNotes
) -> None:
    """One channel uncertain, one never sent: refused (exit 2), neither recorded."""
    record_intent(tmp_path, "slack")
    with Orchestrator.open(tmp_path, actor="test") as orch:
        ledger = StoreLedger(orch, "v1.2.0")
        with pytest.raises(UsageError, match="no delivery of discord is recorded"):
            mark_sent("v1.2.0", ["slack", "discord"], ledger, by="me", confirm=True)
    assert entry(tmp_path, "slack").status == "sending"  # type: ignore[union-attr]


def test_secret_echoed_by_a_channel_is_redacted(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4xx body quoting the webhook URL is redacted in the report, the record and events."""
    secret_path = "/services/T0/B0/TOPSECRETVALUE"
    sink = http_sink(lambda req: (404, {"error": f"no hook at {sink.url}{secret_path}"}))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{sink.url}{secret_path}")
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["slack"], confirm=True)
    assert "TOPSECRETVALUE" not in report.results[0].detail
    assert "HTTP 404" in stored_text(tmp_path)
    assert "TOPSECRETVALUE" not in stored_text(tmp_path)


def test_dry_run_sends_and_records_nothing(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without confirmation each channel says what it would do; no request, nothing recorded."""
    sink = http_sink(lambda req: (200, b"ok"))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{sink.url}/hook")
    report = send(notes, _webhook_settings(tmp_path), tmp_path, ["slack", "social"], confirm=False)
    assert [r.status for r in report.results] == ["would_send", "skipped"]
    assert "$SLACK_WEBHOOK_URL" in report.results[0].detail
    assert sink.requests == []
    assert stored_text(tmp_path) == '{"record": null, "events": []}'


def test_prerelease_is_flagged_on_github(tmp_path: Path, http_sink: SinkFactory) -> None:
    """A prerelease version creates a GitHub prerelease."""
    sink = http_sink(FakeGitHub(tags=("v2.0.0-rc.1",)))
    notes = sample_notes(version="2.0.0-rc.1", tag="v2.0.0-rc.1")
    send(notes, _github_settings(tmp_path, sink), tmp_path, ["github"], confirm=True)
    assert sink.calls("POST")[0].json()["prerelease"] is True


def test_gitlab_release_created_with_private_token(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitLab: lookup by tag (404), then one POST to the encoded project with PRIVATE-TOKEN."""
    created: dict[str, Any] = {}

    def gitlab(req: Recorded) -> tuple[int, Any]:
        assert req.headers.get("PRIVATE-TOKEN") == "glpat-SECRET1234"
        base = "/api/v4/projects/group%2Fsub%2Fwidget/releases"
        if req.method == "GET" and req.path == f"{base}/v1.2.0":
            return (200, created) if created else (404, {})
        if req.method == "POST" and req.path == base:
            body = req.json()
            assert set(body) == {"tag_name", "name", "description"}
            created.update(tag_name=body["tag_name"], _links={"self": "https://gl.test/r/v1.2.0"})
            return 201, created
        return 404, {}

    sink = http_sink(gitlab)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-SECRET1234")
    table = {"api_url": f"{sink.url}/api/v4", "repo": "group/sub/widget"}
    settings = make_settings(tmp_path, tables={"gitlab": table})
    report = send(notes, settings, tmp_path, ["gitlab"], confirm=True)
    assert (report.results[0].status, report.results[0].url) == ("sent", "https://gl.test/r/v1.2.0")
    assert len(sink.calls("POST")) == 1


def test_gitea_existing_release_is_left_unchanged(
    tmp_path: Path, http_sink: SinkFactory, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gitea: a release already present for the tag counts as sent; nothing is created."""

    def gitea(req: Recorded) -> tuple[int, Any]:
        assert req.headers.get("Authorization") == "token gitea-SECRET1234"
        if req.path == "/api/v1/repos/acme/widget/releases/tags/v1.2.0":
            return 200, {
                "id": 5,
                "html_url": "https://codeberg.test/acme/widget/releases/tag/v1.2.0",
            }
        return 404, {}

    sink = http_sink(gitea)
    monkeypatch.setenv("GITEA_TOKEN", "gitea-SECRET1234")
    table = {"api_url": f"{sink.url}/api/v1"}
    settings = make_settings(tmp_path, tables={"gitea": table})
    report = send(notes, settings, tmp_path, ["gitea"], confirm=True)  # repo from repo_url
    assert report.results[0].status == "sent"
    assert "already existed" in report.results[0].detail
    assert sink.calls("POST") == []


def test_gitea_needs_an_api_url(
    tmp_path: Path, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gitea has no default host: a missing api_url fails the channel clearly."""
    monkeypatch.setenv("GITEA_TOKEN", "gitea-SECRET1234")
    report = send(notes, make_settings(tmp_path), tmp_path, ["gitea"], confirm=False)
    assert report.results[0].status == "failed"
    assert "api_url" in report.results[0].detail
