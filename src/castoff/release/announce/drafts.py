"""Announcement drafts for every channel, built from :class:`ReleaseNotes` data.

Pure: notes and settings in, :class:`Draft` values out. Text comes from Jinja2
templates (see ``templating``); JSON payloads (Slack Block Kit, Discord embed,
Teams Adaptive Card, Mattermost, generic webhook) are built here as dicts with
only their text fields templated. Every draft fits its platform's documented
limits (``limits``) and says ``truncated=True`` when it had to be cut. Markdown
bodies (the forges, Discord, Mattermost) drop change entries from the end and
say how many, with a link to the full notes, so the sections after the
changes — contributors, first-timers, the compare link — are always kept;
other drafts are cut at a line end and end with the link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from castoff.release.announce import limits
from castoff.release.announce.ledger import delivery_key
from castoff.release.announce.settings import CHANNELS, AnnounceSettings, check_channel
from castoff.release.announce.templating import Templates, handle
from castoff.release.model import Change, ReleaseNotes

HIGHLIGHT_CHARS = 100
DISCORD_COLOR = 0x5865F2


@dataclass(frozen=True, slots=True)
class Draft:
    """One channel's announcement: text (``content``) and, for JSON channels, the payload."""

    channel: str
    format: str  # markdown | json | email | text
    content: str
    payload: dict[str, Any] | None = None
    subject: str | None = None
    html: str | None = None
    truncated: bool = False
    length: int = 0
    limit: int | None = None

    def files(self) -> dict[str, str]:
        """File name -> content, as written by ``--output DIR`` and stored as artifacts."""
        if self.format == "email":
            return {
                "email.txt": f"Subject: {self.subject}\n\n{self.content}",
                "email.html": self.html or "",
            }
        extension = {"markdown": "md", "json": "json", "text": "txt"}[self.format]
        return {f"{self.channel}.{extension}": self.content}


def draft_all(
    notes: ReleaseNotes, settings: AnnounceSettings, channels: Iterable[str] | None = None
) -> dict[str, Draft]:
    """Drafts for ``channels`` (default: every channel), keyed by channel name."""
    wanted = [check_channel(c) for c in channels] if channels is not None else list(CHANNELS)
    templates = Templates(settings, repo_url=notes.repo_url)
    context = release_context(notes, settings)
    return {name: _BUILDERS[name](name, templates, context) for name in wanted}


def full_notes_url(notes: ReleaseNotes, settings: AnnounceSettings) -> str | None:
    """The link to the full notes: ``notes_url`` from config, else the forge release page."""
    version = notes.version or "Unreleased"
    if settings.notes_url:
        return settings.notes_url.format(
            tag=notes.tag or version, version=version, project=settings.project_name
        )
    if notes.repo_url and notes.tag:
        base = notes.repo_url.rstrip("/")
        if "gitlab" in (urlsplit(base).hostname or ""):
            return f"{base}/-/releases/{notes.tag}"
        return f"{base}/releases/tag/{notes.tag}"
    return notes.compare_url


@dataclass(frozen=True, slots=True)
class Highlight:
    """One line of a short announcement: a breaking change or a top feature / fix."""

    text: str
    breaking: bool = False


def highlights(notes: ReleaseNotes) -> list[Highlight]:
    """Breaking changes first, then features, then fixes."""
    lines = [
        Highlight(_clip(c.breaking_description or c.description), True) for c in notes.breaking
    ]
    seen = {(c.sha, c.description) for c in notes.breaking}
    for kind in ("feat", "fix"):
        for group in notes.groups:
            if group.type == kind:
                lines.extend(
                    Highlight(_clip(c.description))
                    for c in group.entries
                    if (c.sha, c.description) not in seen
                )
    return lines


def release_context(notes: ReleaseNotes, settings: AnnounceSettings) -> dict[str, Any]:
    """The variables every template sees (documented in docs/announce.md)."""
    version = notes.version or "Unreleased"
    return {
        "notes": notes,
        "project": settings.project_name,
        "version": version,
        "tag": notes.tag,
        "previous_tag": notes.previous_tag,
        "title": f"{settings.project_name} {version}",
        "date": notes.date.isoformat(),
        "notes_url": full_notes_url(notes, settings),
        "compare_url": notes.compare_url,
        "repo_url": notes.repo_url,
        "breaking": list(notes.breaking),
        "groups": [g for g in notes.groups if g.entries],
        "contributors": list(notes.contributors),
        "first_timers": list(notes.first_timers),
        "highlights": highlights(notes),
        "commit_count": notes.commit_count,
        "omitted": 0,  # change entries left out to fit the platform (see fit_entries)
    }


def fit_entries(
    render: Callable[[dict[str, Any]], str],
    ctx: dict[str, Any],
    limit: int,
    *,
    suffix: str = "",
) -> tuple[str, bool]:
    """``render(ctx)`` within ``limit`` (UTF-16 units), and whether anything was left out.

    Too long, it is rendered with the first N change entries only (breaking changes
    first, then each group in order), N as large as fits, and ``omitted`` set to the
    number left out; the template says so and keeps whatever follows the entries.
    Only when not even the entry-less text fits is it cut at a line end (+ ``suffix``).
    """
    text = render(ctx)
    if limits.utf16_len(text) <= limit:
        return text, False
    total = len(ctx["breaking"]) + sum(len(g.entries) for g in ctx["groups"])
    lo, hi, best = 0, total - 1, None
    while lo <= hi:  # the length grows with the number of entries kept
        mid = (lo + hi) // 2
        candidate = render(_first_entries(ctx, mid, total))
        if limits.utf16_len(candidate) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best, True
    return limits.truncate(render(_first_entries(ctx, 0, total)), limit, suffix=suffix)[0], True


def _first_entries(ctx: dict[str, Any], keep: int, total: int) -> dict[str, Any]:
    """``ctx`` with only the first ``keep`` change entries (breaking ones first)."""
    breaking = ctx["breaking"][:keep]
    left = keep - len(breaking)
    groups = []
    for g in ctx["groups"]:
        if left <= 0:
            break
        groups.append(replace(g, entries=g.entries[:left]))
        left -= len(groups[-1].entries)
    return {**ctx, "breaking": breaking, "groups": groups, "omitted": total - keep}


def _clip(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return limits.truncate(first, HIGHLIGHT_CHARS)[0]


def _link_suffix(url: str | None) -> str:
    return f"\n\nFull release notes: {url}" if url else ""


Builder = Callable[[str, Templates, dict[str, Any]], Draft]


def _forge(limit: int) -> Builder:
    def build(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
        text, cut = fit_entries(
            lambda c: t.render(channel, c), ctx, limit, suffix=_link_suffix(ctx["notes_url"])
        )
        return Draft(
            channel, "markdown", text, truncated=cut, length=limits.utf16_len(text), limit=limit
        )

    return build


def _email(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    subject = " ".join(t.render("email_subject", ctx).split())
    text = t.render("email_text", ctx)
    return Draft(
        channel, "email", text, subject=subject, html=t.render("email_html", ctx), length=len(text)
    )


def _json_draft(
    channel: str, payload: dict[str, Any], cut: bool, length: int, limit: int | None
) -> Draft:
    content = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    return Draft(
        channel, "json", content, payload=payload, truncated=cut, length=length, limit=limit
    )


def _slack(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    url = ctx["notes_url"]
    body, cut = limits.truncate(t.render("slack", ctx).strip(), limits.SLACK_BODY_TEXT)
    chunks = limits.split_chunks(body, limits.SLACK_SECTION_TEXT)
    room = limits.SLACK_MAX_BLOCKS - 2  # header + the closing context block
    if len(chunks) > room:
        chunks, cut = [*chunks[: room - 1], limits.truncate(chunks[room - 1], 2900)[0]], True
    title, _ = limits.truncate(ctx["title"], limits.SLACK_HEADER_TEXT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]
    if url:
        link = f"<{url}|Full release notes>" + (" (this message was shortened)" if cut else "")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    fallback = f"{ctx['title']} released" + (f": {url}" if url else "")
    payload = {"text": fallback, "blocks": blocks}
    return _json_draft(channel, payload, cut, limits.utf16_len(body), limits.SLACK_BODY_TEXT)


def _discord(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    url = ctx["notes_url"]
    title, _ = limits.truncate(ctx["title"], limits.DISCORD_TITLE)
    footer, _ = limits.truncate(f"{ctx['project']} · {ctx['date']}", limits.DISCORD_FOOTER)
    room = min(
        limits.DISCORD_DESCRIPTION,
        limits.DISCORD_EMBED_TOTAL - limits.utf16_len(title) - limits.utf16_len(footer),
    )
    suffix = f"\n\n[Full release notes]({url})" if url else ""
    description, cut = fit_entries(
        lambda c: t.render("discord", c).strip(), ctx, room, suffix=suffix
    )
    embed: dict[str, Any] = {"title": title, "description": description, "color": DISCORD_COLOR}
    if url:
        embed["url"] = url
    embed["footer"] = {"text": footer}
    payload = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    return _json_draft(channel, payload, cut, limits.utf16_len(description), room)


def _teams(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    url = ctx["notes_url"]

    def build(text: str) -> dict[str, Any]:
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": ctx["title"],
                    "size": "Large",
                    "weight": "Bolder",
                    "wrap": True,
                },
                {"type": "TextBlock", "text": text, "wrap": True},
            ],
        }
        if url:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": "Full release notes", "url": url}
            ]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }

    payload, cut = limits.fit_payload(
        build, t.render("teams", ctx).strip(), limits.TEAMS_PAYLOAD_BYTES
    )
    return _json_draft(channel, payload, cut, limits.json_size(payload), limits.TEAMS_PAYLOAD_BYTES)


def _mattermost(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    url = ctx["notes_url"]
    heading = f"#### {ctx['title']}" + (f" — [release notes]({url})" if url else "") + "\n\n"
    body, cut = fit_entries(
        lambda c: heading + t.render("mattermost", c).strip(),
        ctx,
        limits.MATTERMOST_TEXT,
        suffix=_link_suffix(url),
    )
    return _json_draft(channel, {"text": body}, cut, limits.utf16_len(body), limits.MATTERMOST_TEXT)


def _change_data(c: Change) -> dict[str, Any]:
    return {
        "type": c.type,
        "scope": c.scope,
        "description": c.description,
        "breaking": c.breaking,
        "sha": c.sha,
        "refs": [r.number for r in c.refs],
    }


def _webhook(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    notes: ReleaseNotes = ctx["notes"]
    payload = {
        "event": "release",
        "idempotency_key": delivery_key(notes.tag or ctx["version"], channel),
        "project": ctx["project"],
        "version": ctx["version"],
        "tag": notes.tag,
        "previous_tag": notes.previous_tag,
        "date": ctx["date"],
        "url": ctx["notes_url"],
        "compare_url": notes.compare_url,
        "text": f"{ctx['title']} released" + (f": {ctx['notes_url']}" if ctx["notes_url"] else ""),
        "markdown": t.render("release", ctx),
        "breaking": [_change_data(c) for c in notes.breaking],
        "changes": [_change_data(c) for c in notes.changes],
        "contributors": [handle(p) for p in notes.contributors],
        "first_timers": [handle(p) for p in notes.first_timers],
    }
    return _json_draft(channel, payload, False, limits.json_size(payload), None)


def _social(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    items: list[Highlight] = ctx["highlights"]

    def post(keep: int) -> str:
        return t.render("social", {**ctx, "highlights": items[:keep]}).strip()

    # the largest number of highlights that fits (length grows with the count)
    lo, hi = 0, min(len(items), limits.SOCIAL_POST // 2)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if limits.social_length(post(mid)) <= limits.SOCIAL_POST:
            lo = mid
        else:
            hi = mid - 1
    text = post(lo)
    if limits.social_length(text) <= limits.SOCIAL_POST:
        return _social_draft(channel, text, lo < len(items))
    url = ctx["notes_url"]
    body = text.replace(url, "").strip() if url else text
    return _social_draft(channel, limits.clip_social(body, url), True)


def _social_draft(channel: str, text: str, cut: bool) -> Draft:
    length = limits.social_length(text)
    return Draft(
        channel, "text", text + "\n", truncated=cut, length=length, limit=limits.SOCIAL_POST
    )


def _blog(channel: str, t: Templates, ctx: dict[str, Any]) -> Draft:
    text = t.render("blog", ctx)
    return Draft(channel, "markdown", text, length=limits.utf16_len(text))


_BUILDERS: dict[str, Builder] = {
    "github": _forge(limits.GITHUB_RELEASE_BODY),
    "gitlab": _forge(limits.GITLAB_RELEASE_DESCRIPTION),
    "gitea": _forge(limits.GITEA_RELEASE_BODY),
    "email": _email,
    "slack": _slack,
    "discord": _discord,
    "teams": _teams,
    "mattermost": _mattermost,
    "webhook": _webhook,
    "social": _social,
    "blog": _blog,
}
