"""Secrets never survive a redacted message."""

from __future__ import annotations

from castoff.release.announce.redact import MASK, Redactor


def test_known_secret_is_masked() -> None:
    """A registered token is replaced wherever it appears."""
    redact = Redactor(["ghp_abcdef123456"])
    assert redact("401 for token ghp_abcdef123456!") == f"401 for token {MASK}!"


def test_webhook_url_and_its_path_are_masked() -> None:
    """A secret webhook URL is masked whole, and its path alone too."""
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    redact = Redactor([url])
    assert "XXXXSECRET" not in redact(f"POST {url} failed")
    assert "XXXXSECRET" not in redact("path /services/T000/B000/XXXXSECRET refused")


def test_percent_encoded_secret_is_masked() -> None:
    """The URL-encoded form of a secret is masked as well."""
    redact = Redactor(["p@ss/word"])
    assert "p%40ss" not in redact("login=p%40ss%2Fword")


def test_url_userinfo_and_query_are_scrubbed_even_when_unknown() -> None:
    """Credentials in any URL's userinfo or query string are removed."""
    redact = Redactor()
    text = redact("fetch https://bob:hunter22@example.org/x?token=abc123&y=1 failed")
    assert "hunter22" not in text
    assert "abc123" not in text
    assert "example.org/x" in text


def test_short_values_are_not_treated_as_secrets() -> None:
    """Values under four characters are ignored (they would mask ordinary words)."""
    redact = Redactor(["a", ""])
    assert redact("a cat") == "a cat"
