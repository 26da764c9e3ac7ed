"""Platform limits: the social counter, truncation, chunking, payload fitting."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from castoff.release.announce import limits

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000)


def test_url_counts_23_whatever_its_length() -> None:
    """A long URL counts as 23 characters."""
    url = "https://example.org/" + "x" * 200
    assert limits.twitter_length(f"see {url}") == 4 + 23
    assert limits.mastodon_length(f"see {url}") == 4 + 23


def test_short_url_counts_23_too() -> None:
    """A short URL still counts 23."""
    assert limits.twitter_length("https://t.co") == 23


def test_cjk_weighs_two_on_twitter() -> None:
    """CJK characters weigh 2 on Twitter/X and 1 on Mastodon; the larger wins."""
    assert limits.twitter_length("日本") == 4
    assert limits.mastodon_length("日本") == 2
    assert limits.social_length("日本") == 4


def test_bare_domain_counts_as_url_on_twitter() -> None:
    """A bare domain is counted as a 23-character link (Twitter links it)."""
    assert limits.twitter_length("example.com") == 23


def test_truncate_keeps_fitting_text() -> None:
    """Text within the limit is returned untouched."""
    assert limits.truncate("hello", 10) == ("hello", False)


def test_truncate_cuts_at_line_end_and_appends_suffix() -> None:
    """A cut ends at a line break, then the ellipsis and the suffix."""
    text = "line one\nline two\nline three"
    cut, was_cut = limits.truncate(text, 25, suffix=" <more>")
    assert was_cut
    assert cut == "line one… <more>"


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(min_value=0, max_value=500), st.text(max_size=60))
def test_truncate_always_fits(text: str, limit: int, suffix: str) -> None:
    """Whatever the text, limit and suffix, the result fits the limit."""
    cut, _ = limits.truncate(text, limit, suffix=suffix)
    assert limits.utf16_len(cut) <= limit


@settings(max_examples=100, deadline=None)
@given(TEXT, st.integers(min_value=50, max_value=3000))
def test_split_chunks_respects_size_and_keeps_text(text: str, size: int) -> None:
    """Every chunk fits; together they keep every non-blank line."""
    chunks = limits.split_chunks(text, size)
    assert all(limits.utf16_len(c) <= size for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000), st.one_of(st.none(), st.just("https://example.org/releases/v1")))
def test_clip_social_fits_280(body: str, url: str | None) -> None:
    """A clipped post always fits 280 and keeps the link."""
    post = limits.clip_social(body, url)
    assert limits.social_length(post) <= 280
    if url:
        assert post.endswith(url)


def test_fit_payload_shrinks_text_until_json_fits() -> None:
    """The payload's text is cut until the serialized JSON fits."""
    payload, cut = limits.fit_payload(lambda t: {"text": t}, "é" * 50_000, 28_000, suffix=" more")
    assert cut
    assert limits.json_size(payload) <= 28_000
    assert payload["text"].endswith("… more")
