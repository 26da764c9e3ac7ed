"""Platform size limits, the social-post length counter and graceful truncation.

Pure functions. Lengths of chat fields are measured in UTF-16 code units (what
JavaScript-based platforms count; never fewer than Python's code points), so a
draft that fits here fits there.

The social counter follows Twitter/X's weighted rules (twitter-text v3: most
Latin, Cyrillic, Greek... code points weigh 1, CJK and emoji weigh 2, every URL
counts as 23) and Mastodon's (every character counts 1, every URL 23), and
returns the larger of the two. It errs on the long side — every emoji code
point weighs 2, and a bare domain (``example.com``) counts as a URL — so a post
it accepts is accepted by both services.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

# Documented limits, per field (characters unless stated).
SLACK_SECTION_TEXT = 3000
SLACK_HEADER_TEXT = 150
SLACK_MAX_BLOCKS = 50
SLACK_BODY_TEXT = 12_000  # our cap on all sections together: long posts read badly
DISCORD_CONTENT = 2000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FOOTER = 2048
DISCORD_EMBED_TOTAL = 6000
TEAMS_PAYLOAD_BYTES = 28_000  # Teams: "message size limit is 28 KB"
MATTERMOST_TEXT = 16_383
GITHUB_RELEASE_BODY = 125_000
GITLAB_RELEASE_DESCRIPTION = 1_000_000
GITEA_RELEASE_BODY = 65_535
SOCIAL_POST = 280
URL_WEIGHT = 23

ELLIPSIS = "…"

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(r"(?<![\w@/.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/[^\s<>\"]*)?", re.IGNORECASE)
# twitter-text v3: code points in these ranges weigh 1; every other weighs 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (astral characters count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def _split_urls(text: str) -> tuple[str, int]:
    """The text without its URLs, and how many URLs (scheme or bare domain) it held."""
    text, with_scheme = _URL.subn(" ", text)
    text, bare = _BARE_DOMAIN.subn(" ", text)
    # each removed URL left one space standing in for it; take those back out
    return text, with_scheme + bare


def twitter_length(text: str) -> int:
    """Weighted length as Twitter/X counts it (an upper bound; URLs = 23)."""
    normalized = unicodedata.normalize("NFC", text)
    rest, urls = _split_urls(normalized)
    return sum(_weight(ch) for ch in rest) - urls + urls * URL_WEIGHT


def mastodon_length(text: str) -> int:
    """Length as Mastodon counts it (an upper bound; http(s) URLs = 23)."""
    normalized = unicodedata.normalize("NFC", text)
    rest, urls = _URL.subn(" ", normalized)
    return len(rest) - urls + urls * URL_WEIGHT


def social_length(text: str) -> int:
    """The larger of the Twitter/X and Mastodon counts."""
    return max(twitter_length(text), mastodon_length(text))


def truncate(
    text: str, limit: int, *, suffix: str = "", measure: Callable[[str], int] = utf16_len
) -> tuple[str, bool]:
    """``text`` if it fits ``limit``, else cut at a line or word end plus ellipsis and ``suffix``.

    Returns the text and whether it was cut. The result always fits ``limit``.
    """
    if measure(text) <= limit:
        return text, False
    tail = ELLIPSIS + suffix
    if measure(tail) > limit:
        return _hard_cut(suffix.strip() or ELLIPSIS, limit, measure), True
    cut = _longest_prefix(text, limit - measure(tail), measure)
    head = text[:cut]
    if cut < len(text):
        line_end = head.rfind("\n")
        word_end = max(head.rfind(" "), head.rfind("\n"))
        if line_end >= cut // 2:
            head = head[:line_end]
        elif word_end >= cut // 2:
            head = head[:word_end]
    return head.rstrip() + tail, True


def _longest_prefix(text: str, budget: int, measure: Callable[[str], int]) -> int:
    """The largest n with ``measure(text[:n]) <= budget`` (measure grows with n)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _hard_cut(text: str, limit: int, measure: Callable[[str], int]) -> str:
    return text[: _longest_prefix(text, limit, measure)]


def split_chunks(text: str, size: int, *, measure: Callable[[str], int] = utf16_len) -> list[str]:
    """Split ``text`` into pieces of at most ``size``, at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for whole in text.split("\n"):
        line = whole
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) <= size:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while measure(line) > size:
            cut = _longest_prefix(line, size, measure)
            chunks.append(line[:cut])
            line = line[cut:]
        current = line
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def json_size(payload: Any) -> int:
    """Bytes of ``payload`` serialized compactly as UTF-8 JSON."""
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def fit_payload(
    build: Callable[[str], dict[str, Any]], text: str, max_bytes: int, *, suffix: str = ""
) -> tuple[dict[str, Any], bool]:
    """``build(text)``, with ``text`` truncated until the JSON payload fits ``max_bytes``."""
    payload = build(text)
    if json_size(payload) <= max_bytes:
        return payload, False

    def size_of(candidate: str) -> int:
        return json_size(build(candidate))

    lo, hi = 0, len(text)
    best = build(truncate(text, 0, suffix=suffix, measure=len)[0])
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate, _ = truncate(text, mid, suffix=suffix, measure=len)
        if size_of(candidate) <= max_bytes:
            lo, best = mid, build(candidate)
        else:
            hi = mid - 1
    return best, True


def clip_social(body: str, url: str | None, limit: int = SOCIAL_POST) -> str:
    """``body`` cut to fit ``limit`` (social count) with ``url`` kept on the last line."""
    tail = f"\n{url}" if url else ""
    if social_length(body + tail) <= limit:
        return body + tail
    budget = limit - social_length(tail) - 1
    cut = _longest_prefix(body, budget, social_length)
    head = body[:cut]
    space = head.rfind(" ")
    if space >= cut // 2:
        head = head[:space]
    post = head.rstrip() + ELLIPSIS + tail
    while social_length(post) > limit and head:
        head = head[:-1]
        post = head.rstrip() + ELLIPSIS + tail
    return post
