"""E-mail delivery to a local SMTP sink: once, multipart, STARTTLS by default."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from castoff.release.announce.ledger import delivery_key
from castoff.release.model import ReleaseNotes
from conftest import SmtpSink, make_settings, record_intent, send


def _settings(tmp_path: Path, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch, **email: Any) -> Any:
    monkeypatch.setenv("TEST_SMTP_HOST", sink.host)
    monkeypatch.setenv("TEST_SMTP_PORT", str(sink.port))
    table = {
        "host_env": "TEST_SMTP_HOST",
        "port_env": "TEST_SMTP_PORT",
        "from": "Widget Releases <releases@widget.test>",
        "to": ["users@widget.test", "dev@widget.test"],
        "starttls": False,
        **email,
    }
    return make_settings(tmp_path, tables={"email": table})


def _parse(sink: SmtpSink, index: int = 0) -> Message:
    return message_from_bytes(sink.messages[index].original_content)


def test_email_is_delivered_as_multipart(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message with subject, a deterministic Message-ID, plain text and HTML parts."""
    report = send(
        notes, _settings(tmp_path, smtp_sink, monkeypatch), tmp_path, ["email"], confirm=True
    )
    assert report.ok, report
    (envelope,) = smtp_sink.messages
    assert envelope.rcpt_tos == ["users@widget.test", "dev@widget.test"]
    msg = _parse(smtp_sink)
    assert msg["Subject"] == "widget 1.2.0 released"
    assert delivery_key("v1.2.0", "email")[:32] in msg["Message-ID"]
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_email_rerun_sends_nothing(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun after delivery sends no second message."""
    settings = _settings(tmp_path, smtp_sink, monkeypatch)
    send(notes, settings, tmp_path, ["email"], confirm=True)
    report = send(notes, settings, tmp_path, ["email"], confirm=True)
    assert report.results[0].status == "already_sent"
    assert len(smtp_sink.messages) == 1


def test_email_crash_after_send_is_not_resent(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intent recorded, result lost: the rerun reports unknown and mails nothing."""
    record_intent(tmp_path, "email")
    report = send(
        notes, _settings(tmp_path, smtp_sink, monkeypatch), tmp_path, ["email"], confirm=True
    )
    assert report.results[0].status == "unknown"
    assert smtp_sink.messages == []


def test_starttls_is_required_by_default(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default starttls = true, a server without STARTTLS fails the channel, no mail."""
    settings = _settings(tmp_path, smtp_sink, monkeypatch, starttls=True)
    report = send(notes, settings, tmp_path, ["email"], confirm=True)
    assert report.results[0].status == "failed"
    assert "STARTTLS" in report.results[0].detail
    assert smtp_sink.messages == []


def test_plain_smtp_to_remote_host_is_refused(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """starttls = false is allowed only for loopback hosts (or allow_insecure)."""
    settings = _settings(tmp_path, smtp_sink, monkeypatch)
    monkeypatch.setenv("TEST_SMTP_HOST", "mail.example.org")
    report = send(notes, settings, tmp_path, ["email"], confirm=True)
    assert report.results[0].status == "failed"
    assert "plain SMTP" in report.results[0].detail


def test_unreachable_smtp_server_fails_after_retries(
    tmp_path: Path, smtp_sink: SmtpSink, notes: ReleaseNotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connection refused on every attempt: failed (not unknown), nothing recorded as sent."""
    settings = _settings(tmp_path, smtp_sink, monkeypatch)
    monkeypatch.setenv("TEST_SMTP_PORT", "1")
    report = send(notes, settings, tmp_path, ["email"], confirm=True)
    assert report.results[0].status == "failed"
    assert "could not connect" in report.results[0].detail
