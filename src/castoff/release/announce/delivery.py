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
                           ``unknown`` — resend only with ``force``, or
                           record as sent with :func:`mark_sent`
=========================  ===============================================

Without ``confirm`` nothing is sent or recorded: each channel reports what
would happen (``would_send``), after the same configuration checks.

:func:`mark_sent` is the other way out of ``unknown``: someone checked that the
delivery did arrive, and says so; the channel is recorded as ``sent`` in their
name, and nothing is sent (``marked_sent``; ``would_mark_sent`` without
``confirm``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
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
    marked_sent,
)
from castoff.release.announce.redact import Redactor
from castoff.release.announce.senders import DEFAULT_ENV, Delivery, resolve
from castoff.release.announce.settings import FORGES, AnnounceSettings
from castoff.release.announce.transport import RetryPolicy, SendError
from castoff.release.model import ReleaseNotes

WOULD_SEND, ALREADY_SENT, SKIPPED = "would_send", "already_sent", "skipped"
MARKED_SENT, WOULD_MARK_SENT = "marked_sent", "would_mark_sent"
OK_STATUSES = frozenset({SENT, ALREADY_SENT, WOULD_SEND, SKIPPED, MARKED_SENT, WOULD_MARK_SENT})


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What happened to one channel in this run."""

    channel: str
    # sent | already_sent | would_send | skipped | failed | unknown | marked_sent | would_mark_sent
    status: str
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
            how = f"marked sent by {previous.marked_by}" if previous.marked_by else "sent"
            return ChannelResult(
                channel,
                ALREADY_SENT,
                f"{how} {previous.finished_at or ''}".strip(),
                previous.remote_id,
                previous.url,
            )
        if previous.status in (SENDING, UNKNOWN) and channel not in FORGES:
            detail = (
                f"unknown: may have been delivered (attempt started {previous.started_at}); "
                + _way_out(channel)
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
        detail = f"unknown: may have been delivered ({detail}); " + _way_out(channel)
    return ChannelResult(channel, outcome.status, detail, outcome.remote_id, outcome.url)


def _way_out(channel: str) -> str:
    return (
        f"check: if it arrived, record it with --mark-sent {channel}; "
        f"if not, resend with --force-channel {channel}"
    )


def mark_sent(
    tag: str, channels: Sequence[str], ledger: Ledger, *, by: str, confirm: bool
) -> SendReport:
    """Record ``channels`` of release ``tag`` as sent on ``by``'s word; send nothing.

    Every channel is checked before anything is recorded (only ``unknown`` and
    ``sending`` deliveries can be marked: see ``ledger.marked_sent``), so a
    refusal records none of them. Without ``confirm``: the same checks, nothing
    recorded (``would_mark_sent``).
    """
    for channel in channels:
        marked_sent(ledger.get(channel), channel, tag, by)
    results = []
    for channel in channels:
        if confirm:
            entry = ledger.record_marked_sent(channel, by)
            results.append(ChannelResult(channel, MARKED_SENT, entry.detail))
        else:
            previous = ledger.get(channel)
            was = previous.status if previous else "absent"
            results.append(
                ChannelResult(
                    channel,
                    WOULD_MARK_SENT,
                    f"{was}: would be recorded as sent by {by}; nothing is sent",
                )
            )
    return SendReport(tag=tag, dry_run=not confirm, results=tuple(results))
