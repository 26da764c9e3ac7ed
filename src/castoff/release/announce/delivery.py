"""Deliver drafts to their channels, exactly once per channel per release.

For each channel: resolve its target (a missing variable or bad URL fails that
channel only), consult the ledger, record the intent, send, record the result.

=========================  ===============================================
ledger says                what a run does
=========================  ===============================================
nothing / ``failed``       send
``sent``                   skip (``already_sent``)
``sending`` / ``unknown``  forges: look the release up by tag, create it
                           only if missing; webhooks and e-mail: report
                           ``unknown`` — resend only with ``force``
=========================  ===============================================

Without ``confirm`` nothing is sent or recorded: each channel reports what
would happen (``would_send``), after the same configuration checks.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import httpx

from castoff.errors import CastoffError
from castoff.release.announce.drafts import Draft
from castoff.release.announce.ledger import (
    FAILED,
    SENDING,
    SENT,
    UNKNOWN,
    Ledger,
    Outcome,
    delivery_key,
)
from castoff.release.announce.redact import Redactor
from castoff.release.announce.senders import DEFAULT_ENV, Delivery, resolve
from castoff.release.announce.settings import FORGES, AnnounceSettings
from castoff.release.announce.transport import RetryPolicy, SendError
from castoff.release.model import ReleaseNotes

WOULD_SEND, ALREADY_SENT, SKIPPED = "would_send", "already_sent", "skipped"
OK_STATUSES = frozenset({SENT, ALREADY_SENT, WOULD_SEND, SKIPPED})


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What happened to one channel in this run."""

    channel: str
    status: str  # sent | already_sent | would_send | skipped | failed | unknown
    detail: str = ""
    remote_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SendReport:
    """The outcome of ``announce send`` for one release."""

    tag: str
    dry_run: bool
    results: tuple[ChannelResult, ...]

    @property
    def ok(self) -> bool:
        """True when no channel failed or was left uncertain."""
        return all(r.status in OK_STATUSES for r in self.results)


def secret_redactor(settings: AnnounceSettings) -> Redactor:
    """A redactor that knows every secret any configured channel names."""
    redact = Redactor()
    names = set(DEFAULT_ENV.values()) | {"SMTP_USER", "SMTP_PASSWORD"}
    for table in settings.tables.values():
        names.update(
            str(v)
            for k, v in table.items()
            if k.endswith("_env") and k not in ("host_env", "port_env")
        )
    for name in names:
        redact.add(os.environ.get(name))
    return redact


def deliver(
    drafts: Mapping[str, Draft],
    notes: ReleaseNotes,
    settings: AnnounceSettings,
    ledger: Ledger,
    *,
    confirm: bool,
    force: Collection[str] = (),
    policy: RetryPolicy | None = None,
    client: httpx.Client | None = None,
) -> SendReport:
    """Send each draft (or, without ``confirm``, say what would be sent)."""
    tag = notes.tag or notes.version or "unreleased"
    policy = policy or RetryPolicy(settings.retries, settings.backoff, settings.timeout)
    redact = secret_redactor(settings)
    own_client = client is None
    http = client or httpx.Client(timeout=policy.timeout, follow_redirects=False)
    try:
        results = tuple(
            _one(
                channel,
                draft,
                notes=notes,
                settings=settings,
                ledger=ledger,
                confirm=confirm,
                forced=channel in force,
                policy=policy,
                redact=redact,
                client=http,
            )
            for channel, draft in drafts.items()
        )
    finally:
        if own_client:
            http.close()
    return SendReport(tag=tag, dry_run=not confirm, results=results)


def _one(
    channel: str,
    draft: Draft,
    *,
    notes: ReleaseNotes,
    settings: AnnounceSettings,
    ledger: Ledger,
    confirm: bool,
    forced: bool,
    policy: RetryPolicy,
    redact: Redactor,
    client: httpx.Client,
) -> ChannelResult:
    try:
        target = resolve(channel, settings, notes, redact)
    except CastoffError as exc:
        return ChannelResult(channel, FAILED, redact(exc.message))
    previous = ledger.get(channel)
    if previous is not None and not forced:
        if previous.status == SENT:
            return ChannelResult(
                channel,
                ALREADY_SENT,
                f"sent {previous.finished_at or ''}".strip(),
                previous.remote_id,
                previous.url,
            )
        if previous.status in (SENDING, UNKNOWN) and channel not in FORGES:
            detail = (
                f"unknown: may have been delivered (attempt started {previous.started_at}); "
                f"rerun with --force-channel {channel} to resend"
            )
            if confirm and previous.status == SENDING:
                ledger.record_result(
                    channel, Outcome(UNKNOWN, detail="interrupted before the result was recorded")
                )
            return ChannelResult(channel, UNKNOWN, detail)
    if not confirm:
        return ChannelResult(channel, WOULD_SEND, redact(target.describe()))
    key = delivery_key(tag=notes.tag or notes.version or "unreleased", channel=channel)
    ledger.record_intent(channel, key)
    try:
        outcome = target.send(draft, Delivery(notes, settings, policy, redact, client, key))
    except SendError as exc:
        status = UNKNOWN if exc.maybe_delivered else FAILED
        outcome = Outcome(status, detail=redact(exc.message))
    except CastoffError as exc:
        outcome = Outcome(FAILED, detail=redact(exc.message))
    except Exception as exc:  # unexpected: it may have gone out, and its text may hold a secret
        outcome = Outcome(UNKNOWN, detail=redact(f"{type(exc).__name__}: {exc}"))
    url = redact(outcome.url) if outcome.url else outcome.url
    outcome = Outcome(outcome.status, outcome.remote_id, url, redact(outcome.detail))
    ledger.record_result(channel, outcome)
    detail = outcome.detail
    if outcome.status == UNKNOWN and channel in FORGES:
        detail = f"unknown: the release may exist ({detail}); rerun to look it up by tag"
    elif outcome.status == UNKNOWN:
        detail = (
            f"unknown: may have been delivered ({detail}); "
            f"rerun with --force-channel {channel} to resend"
        )
    return ChannelResult(channel, outcome.status, detail, outcome.remote_id, outcome.url)
