"""Keep secrets out of every message castoff logs, records, stores or raises.

A :class:`Redactor` knows the secret values read for this run (tokens,
passwords, webhook URLs) and replaces each with ``***``; it also strips the
userinfo and query string of any URL it sees, since those carry credentials
whether or not castoff read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

MASK = "***"
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s<>\"']+", re.IGNORECASE)
_MIN_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    """Replaces known secret values, URL credentials and URL queries with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | None) -> None:
        """Treat ``value`` (and, for a URL, its path and query) as secret from now on."""
        if not value or len(value) < _MIN_SECRET:
            return
        variants = {value, quote(value, safe=""), quote(value)}
        if "://" in value:
            parts = urlsplit(value)
            for piece in (parts.path, parts.query, parts.password or "", parts.username or ""):
                if len(piece.strip("/")) >= _MIN_SECRET:
                    variants.add(piece)
        self._secrets.update(v for v in variants if len(v) >= _MIN_SECRET)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _URL.sub(_scrub_url, text)


def _scrub_url(match: re.Match[str]) -> str:
    url = match.group(0)
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = MASK + "@" + authority.rsplit("@", 1)[1]
    path, qmark, _query = path.partition("?")
    if not slash:
        authority, qmark, _query = authority.partition("?")
    query = MASK if qmark else ""
    return f"{scheme}{sep}{authority}{slash}{path}{qmark}{query}"
