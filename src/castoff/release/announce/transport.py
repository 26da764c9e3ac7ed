"""HTTP and SMTP at the edge: URL checks, retries with backoff, honest failure kinds.

A failed attempt is either *not delivered* (connection refused, connect
timeout, a 5xx / 429 answer, an SMTP 4xx) — safe to retry — or *maybe
delivered* (the request went out and the answer was lost). Callers decide
what a maybe means for their channel; :class:`SendError` carries the flag.
Every message here has passed through the run's :class:`Redactor`.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from castoff.errors import ConfigError
from castoff.release.announce.redact import Redactor

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError)


class SendError(Exception):
    """One channel's delivery failed; ``maybe_delivered`` when it may have gone out anyway."""

    def __init__(self, message: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.maybe_delivered = maybe_delivered


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    retries: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def pause(self, attempt: int, retry_after: float | None = None) -> None:
        """Wait before retry number ``attempt`` (0-based): backoff doubled, or Retry-After."""
        delay = self.backoff * (2**attempt)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        if delay > 0:
            self.sleep(delay)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str, *, allow_insecure: bool) -> str:
    """``url`` if it is an absolute http(s) URL that may be used; never echoes it."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{what} is not a valid http(s) URL")
    if parts.scheme == "http" and not is_loopback(host) and not allow_insecure:
        raise ConfigError(
            f"{what} uses plain http to a non-loopback host; use https or set allow_insecure = true"
        )
    return url.strip()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    redact: Redactor,
    retries: int | None = None,
    retry_maybe_sent: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request, retrying 5xx / 429 / connection failures with backoff.

    Returns the first response that is not retryable (2xx, 3xx, 4xx) — callers
    judge it. Lost answers (read timeouts) are retried only with
    ``retry_maybe_sent``; otherwise they raise ``SendError(maybe_delivered=True)``.
    """
    attempts = 1 + (policy.retries if retries is None else retries)
    maybe = False
    last = ""
    for attempt in range(attempts):
        retry_after: float | None = None
        try:
            response = client.request(method, url, **kwargs)
        except _NOT_SENT as exc:
            last = f"could not connect ({type(exc).__name__})"
        except _MAYBE_SENT as exc:
            maybe = True
            last = f"no answer ({type(exc).__name__})"
            if not retry_maybe_sent:
                raise SendError(redact(last), maybe_delivered=True) from None
        except httpx.HTTPError as exc:
            raise SendError(redact(f"{type(exc).__name__}: {exc}"), maybe_delivered=maybe) from None
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            last = f"HTTP {response.status_code}"
            retry_after = _retry_after(response)
        if attempt + 1 < attempts:
            policy.pause(attempt, retry_after)
    raise SendError(redact(f"{last} after {attempts} attempt(s)"), maybe_delivered=maybe)


def describe(response: httpx.Response, redact: Redactor) -> str:
    """``HTTP 404: <short body>`` for a refusal, redacted."""
    body = " ".join(response.text.split())[:200]
    return redact(f"HTTP {response.status_code}" + (f": {body}" if body else ""))


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail over."""

    host: str
    port: int
    starttls: bool = True
    ssl: bool = False
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


def send_mail(
    server: SmtpServer, message: EmailMessage, *, policy: RetryPolicy, redact: Redactor
) -> None:
    """Deliver ``message``; retry only while it surely has not gone out."""
    attempts = 1 + policy.retries
    last = ""
    for attempt in range(attempts):
        try:
            _send_once(server, message, policy.timeout)
            return
        except _TransientError as exc:
            last = str(exc)
        if attempt + 1 < attempts:
            policy.pause(attempt)
    raise SendError(redact(f"{last} after {attempts} attempt(s)"))


class _TransientError(Exception):
    """Not delivered, worth retrying."""


def _send_once(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    factory: Callable[..., smtplib.SMTP] = smtplib.SMTP_SSL if server.ssl else smtplib.SMTP
    extra: Mapping[str, Any] = {"context": context} if server.ssl else {}
    try:
        smtp = factory(server.host, server.port, timeout=timeout, **extra)
    except (OSError, smtplib.SMTPConnectError) as exc:
        raise _TransientError(
            f"could not connect to the SMTP server ({type(exc).__name__})"
        ) from exc
    try:
        try:
            smtp.ehlo()
            if server.starttls and not server.ssl:
                if not smtp.has_extn("starttls"):
                    raise SendError(
                        "the SMTP server does not offer STARTTLS (set starttls = false)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.user:
                smtp.login(server.user, server.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise _TransientError(f"SMTP {exc.smtp_code} before sending") from None
            raise SendError(f"SMTP {exc.smtp_code} before sending") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _TransientError(
                f"SMTP session failed before sending ({type(exc).__name__})"
            ) from None
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"SMTP refused the recipients ({len(exc.recipients)})") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise _TransientError(f"SMTP {exc.smtp_code} while sending") from None
            raise SendError(f"SMTP {exc.smtp_code} while sending") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"SMTP connection lost while sending ({type(exc).__name__})", maybe_delivered=True
            ) from None
    finally:
        try:
            smtp.quit()
        except (TimeoutError, OSError, smtplib.SMTPException):
            smtp.close()
