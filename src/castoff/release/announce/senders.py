"""One sender per delivery channel: forge release APIs, chat webhooks, e-mail.

:func:`resolve` reads a channel's table and environment into a target (raising
ConfigError for a missing variable or a bad URL, without echoing any value);
``target.send`` delivers a draft once and returns an :class:`Outcome`.

Forges (GitHub, GitLab, Gitea) look the release up by tag before creating it,
and again before each retry, so they are exactly-once even across crashes.
Webhooks and e-mail carry the delivery's idempotency key (``Idempotency-Key``
header, ``Message-ID``) and are at-most-once: a lost answer is reported as
``unknown``, never silently resent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from castoff.errors import ConfigError
from castoff.release import git
from castoff.release.announce.drafts import Draft
from castoff.release.announce.ledger import FAILED, SENT, Outcome
from castoff.release.announce.redact import Redactor
from castoff.release.announce.settings import FORGES, AnnounceSettings
from castoff.release.announce.transport import (
    RetryPolicy,
    SendError,
    SmtpServer,
    check_url,
    describe,
    is_loopback,
    request,
    send_mail,
)
from castoff.release.model import ReleaseNotes

USER_AGENT = "castoff-announce"
DEFAULT_ENV = {
    "github": "GITHUB_TOKEN",
    "gitlab": "GITLAB_TOKEN",
    "gitea": "GITEA_TOKEN",
    "slack": "SLACK_WEBHOOK_URL",
    "discord": "DISCORD_WEBHOOK_URL",
    "teams": "TEAMS_WEBHOOK_URL",
    "mattermost": "MATTERMOST_WEBHOOK_URL",
    "webhook": "ANNOUNCE_WEBHOOK_URL",
}
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}


@dataclass(frozen=True)
class Delivery:
    """What a sender needs besides the draft."""

    notes: ReleaseNotes
    settings: AnnounceSettings
    policy: RetryPolicy
    redact: Redactor
    client: httpx.Client
    key: str


class Target(Protocol):
    """A resolved channel, ready to send."""

    def describe(self) -> str: ...

    def send(self, draft: Draft, ctx: Delivery) -> Outcome: ...


def _env(table: Mapping[str, Any], key: str, default: str | None, what: str) -> str:
    name = table.get(key, default)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what}: set {key} to the name of an environment variable")
    value = os.environ.get(name, "")
    if not value.strip():
        raise ConfigError(f"{what}: environment variable {name} is not set")
    return value.strip()


def resolve(
    channel: str, settings: AnnounceSettings, notes: ReleaseNotes, redact: Redactor
) -> Target:
    """The target of ``channel``, with its secrets registered in ``redact``."""
    table = settings.channel(channel)
    if channel in FORGES:
        return _forge_target(channel, table, settings, notes, redact)
    if channel == "email":
        return _email_target(table, settings, redact)
    env_name = str(table.get("webhook_env", DEFAULT_ENV[channel]))
    url = _env(table, "webhook_env", DEFAULT_ENV[channel], channel)
    redact.add(url)
    check_url(url, f"{channel}: the URL in {env_name}", allow_insecure=settings.allow_insecure)
    return WebhookTarget(channel, url, env_name)


# -- webhooks -----------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    """A chat or generic JSON webhook."""

    channel: str
    url: str = field(repr=False)
    env_name: str

    def describe(self) -> str:
        return f"POST the {self.channel} payload to ${self.env_name}"

    def send(self, draft: Draft, ctx: Delivery) -> Outcome:
        url = self.url
        if self.channel == "discord":  # wait=true makes Discord answer with the message (its id)
            url += ("&" if urlsplit(url).query else "?") + "wait=true"
        headers = {"Idempotency-Key": ctx.key, "User-Agent": USER_AGENT}
        response = request(
            ctx.client,
            "POST",
            url,
            policy=ctx.policy,
            redact=ctx.redact,
            json=draft.payload,
            headers=headers,
        )
        if response.is_success:
            remote_id = _json(response).get("id")
            return Outcome(
                SENT, remote_id=str(remote_id) if remote_id else None, detail="delivered"
            )
        return Outcome(FAILED, detail=describe(response, ctx.redact))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- forges ---------------------------------------------------------------------


@dataclass(frozen=True)
class ForgeTarget:
    """A GitHub, GitLab or Gitea release API."""

    kind: str
    api_url: str
    repo: str
    token: str = field(repr=False)
    token_env: str
    draft: bool = False
    name_format: str = "{tag}"

    def describe(self) -> str:
        return (
            f"create the {self.kind} release in {self.repo} via {self.api_url}"
            f" (token from ${self.token_env})"
        )

    def _headers(self) -> dict[str, str]:
        if self.kind == "gitlab":
            return {"PRIVATE-TOKEN": self.token, "User-Agent": USER_AGENT}
        if self.kind == "gitea":
            return {"Authorization": f"token {self.token}", "User-Agent": USER_AGENT}
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }

    def _base(self) -> str:
        api = self.api_url.rstrip("/")
        if self.kind == "gitlab":
            return f"{api}/projects/{quote(self.repo, safe='')}"
        return f"{api}/repos/{self.repo}"

    def _get(self, ctx: Delivery, path: str) -> httpx.Response:
        return request(
            ctx.client,
            "GET",
            self._base() + path,
            policy=ctx.policy,
            redact=ctx.redact,
            retry_maybe_sent=True,
            headers=self._headers(),
        )

    def lookup(self, ctx: Delivery, tag: str) -> Outcome | None:
        """The existing release of ``tag``, if there is one."""
        path = (
            f"/releases/{quote(tag, safe='')}"
            if self.kind == "gitlab"
            else f"/releases/tags/{quote(tag, safe='')}"
        )
        response = self._get(ctx, path)
        if response.status_code == 404 and self.kind != "gitlab" and self.draft:
            response = self._get(ctx, "/releases?per_page=100")
            found = [r for r in _json_list(response) if r.get("tag_name") == tag]
            return self._found(found[0]) if found else None
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise SendError(f"looking up the release failed: {describe(response, ctx.redact)}")
        return self._found(_json(response))

    def _found(self, data: Mapping[str, Any]) -> Outcome:
        if self.kind == "gitlab":
            links = data.get("_links") or {}
            url = links.get("self") if isinstance(links, Mapping) else None
            return Outcome(SENT, remote_id=str(data.get("tag_name") or ""), url=url)
        return Outcome(SENT, remote_id=str(data.get("id") or ""), url=data.get("html_url"))

    def _check_tag(self, ctx: Delivery, tag: str) -> None:
        if self.kind == "gitlab":
            return  # GitLab refuses a release for a missing tag by itself
        path = f"/git/ref/tags/{quote(tag)}" if self.kind == "github" else f"/tags/{quote(tag)}"
        response = self._get(ctx, path)
        if response.status_code == 404:
            raise SendError(
                f"tag {tag} is not on {self.repo} yet; push it first (castoff version tag --push)"
            )
        if not response.is_success:
            raise SendError(f"checking tag {tag} failed: {describe(response, ctx.redact)}")

    def _body(self, draft: Draft, ctx: Delivery, tag: str) -> dict[str, Any]:
        version = ctx.notes.version or tag
        name = self.name_format.format(tag=tag, version=version, project=ctx.settings.project_name)
        if self.kind == "gitlab":
            return {"tag_name": tag, "name": name, "description": draft.content}
        prerelease = git.is_prerelease(version)
        return {
            "tag_name": tag,
            "name": name,
            "body": draft.content,
            "draft": self.draft,
            "prerelease": prerelease,
        }

    def send(self, draft: Draft, ctx: Delivery) -> Outcome:
        tag = ctx.notes.tag or ""
        attempts = 1 + ctx.policy.retries
        last = ""
        for attempt in range(attempts):
            existing = self.lookup(ctx, tag)
            if existing is not None:
                detail = (
                    "created (confirmed by lookup)"
                    if attempt
                    else "already existed; left unchanged"
                )
                return Outcome(SENT, existing.remote_id, existing.url, detail)
            if attempt == 0:
                self._check_tag(ctx, tag)
            try:
                response = request(
                    ctx.client,
                    "POST",
                    self._base() + "/releases",
                    policy=ctx.policy,
                    redact=ctx.redact,
                    retries=0,
                    json=self._body(draft, ctx, tag),
                    headers=self._headers(),
                )
            except SendError as exc:  # lost answer or 5xx: the next lookup tells
                last = exc.message
            else:
                if response.is_success:
                    created = self._found(_json(response))
                    return Outcome(SENT, created.remote_id, created.url, "created")
                if response.status_code not in (
                    409,
                    422,
                ):  # 409/422: it exists (a race): look again
                    return Outcome(FAILED, detail=describe(response, ctx.redact))
                last = describe(response, ctx.redact)
            if attempt + 1 < attempts:
                ctx.policy.pause(attempt)
        raise SendError(f"{last} after {attempts} attempt(s)", maybe_delivered=True)


def _json_list(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _repo_from_url(kind: str, repo_url: str | None) -> str | None:
    if not repo_url:
        return None
    path = urlsplit(repo_url).path.strip("/").removesuffix(".git")
    parts = [p for p in path.split("/") if p]
    if kind == "gitlab":
        return "/".join(p for p in parts if p != "-") or None
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _forge_target(
    kind: str,
    table: Mapping[str, Any],
    settings: AnnounceSettings,
    notes: ReleaseNotes,
    redact: Redactor,
) -> ForgeTarget:
    where = f"[announce.{kind}]"
    token_env = str(table.get("token_env", DEFAULT_ENV[kind]))
    token = _env(table, "token_env", DEFAULT_ENV[kind], kind)
    redact.add(token)
    api = table.get("api_url", DEFAULT_API.get(kind))
    if not isinstance(api, str) or not api:
        raise ConfigError(f"{kind}: set api_url in {where} (e.g. https://codeberg.org/api/v1)")
    check_url(api, f"{kind}: api_url", allow_insecure=settings.allow_insecure)
    repo = table.get("repo") or _repo_from_url(kind, notes.repo_url)
    if not isinstance(repo, str) or "/" not in repo:
        raise ConfigError(
            f'{kind}: set repo = "owner/name" in {where} (no origin URL to derive it from)'
        )
    if not notes.tag:
        raise ConfigError(f"{kind}: the release has no tag yet; tag it first (castoff version tag)")
    name_format = str(table.get("name", "{tag}"))
    return ForgeTarget(
        kind, api, repo, token, token_env, bool(table.get("draft", False)), name_format
    )


# -- e-mail -----------------------------------------------------------------------


@dataclass(frozen=True)
class EmailTarget:
    """An SMTP server and the message's envelope."""

    server: SmtpServer
    sender: str
    recipients: tuple[str, ...]

    def describe(self) -> str:
        how = "SSL" if self.server.ssl else ("STARTTLS" if self.server.starttls else "plain SMTP")
        return f"mail {len(self.recipients)} recipient(s) from {self.sender} via {how}"

    def send(self, draft: Draft, ctx: Delivery) -> Outcome:
        message = EmailMessage()
        domain = self.sender.rpartition("@")[2].strip(">") or "castoff.invalid"
        message_id = f"<{ctx.key[:32]}.castoff@{domain}>"
        message["Subject"] = draft.subject or ""
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id
        message["X-Castoff-Delivery"] = ctx.key
        message.set_content(draft.content)
        if draft.html:
            message.add_alternative(draft.html, subtype="html")
        send_mail(self.server, message, policy=ctx.policy, redact=ctx.redact)
        return Outcome(SENT, remote_id=message_id, detail="handed to the SMTP server")


def _email_target(
    table: Mapping[str, Any], settings: AnnounceSettings, redact: Redactor
) -> EmailTarget:
    host = _env(table, "host_env", "SMTP_HOST", "email")
    port_text = _optional_env(table, "port_env", "SMTP_PORT", "email")
    use_ssl = bool(table.get("ssl", False))
    starttls = bool(table.get("starttls", True))
    try:
        port = int(port_text) if port_text else (465 if use_ssl else 587)
    except ValueError as exc:
        raise ConfigError("email: the SMTP port is not a number") from exc
    user = _optional_env(table, "user_env", "SMTP_USER", "email")
    password = _optional_env(table, "password_env", "SMTP_PASSWORD", "email")
    for value in (user, password):
        redact.add(value)
    if user and not password:
        raise ConfigError("email: an SMTP user is set but no password (password_env)")
    if not (use_ssl or starttls) and not is_loopback(host) and not settings.allow_insecure:
        raise ConfigError("email: refusing plain SMTP to a non-loopback host; keep starttls = true")
    sender = table.get("from")
    recipients: Any = table.get("to", [])
    recipients = [recipients] if isinstance(recipients, str) else recipients
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError('email: set from = "Name <address>" in [announce.email]')
    if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise ConfigError('email: set to = ["list@example.org"] in [announce.email]')
    server = SmtpServer(host, port, starttls=starttls, ssl=use_ssl, user=user, password=password)
    return EmailTarget(server, sender, tuple(recipients))


def _optional_env(table: Mapping[str, Any], key: str, default: str, what: str) -> str | None:
    """The variable named by ``key`` (or ``default``); required only when ``key`` is configured."""
    if key in table:
        return _env(table, key, None, what)
    return os.environ.get(default) or None
