"""Drafts: golden output of every channel, limits under long notes, template overrides."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from castoff.errors import ConfigError, TemplateError
from castoff.release.announce import limits
from castoff.release.announce.drafts import draft_all
from castoff.release.announce.settings import CHANNELS
from castoff.release.model import Change, Group, ReleaseNotes
from conftest import make_settings, sample_notes

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CASTOFF_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("channel", CHANNELS)
def test_golden_draft(channel: str, tmp_path: Path, notes: ReleaseNotes) -> None:
    """Each channel's draft matches its golden file(s)."""
    draft = draft_all(notes, make_settings(tmp_path), [channel])[channel]
    for name, content in draft.files().items():
        golden = GOLDEN / name
        if UPDATE:
            golden.write_text(content, encoding="utf-8")
        assert content == golden.read_text(encoding="utf-8"), name


def test_json_drafts_are_valid_json(tmp_path: Path, notes: ReleaseNotes) -> None:
    """Every JSON draft's content parses back to its payload."""
    drafts = draft_all(notes, make_settings(tmp_path))
    for draft in drafts.values():
        if draft.format == "json":
            assert json.loads(draft.content) == draft.payload


def test_release_body_thanks_contributors_and_first_timers(
    tmp_path: Path, notes: ReleaseNotes
) -> None:
    """The forge body thanks contributors (GitHub handles when known) and welcomes first-timers."""
    body = draft_all(notes, make_settings(tmp_path), ["github"])["github"].content
    assert "Thanks to @alice and Bob Builder" in body
    assert "first-time contributors: Bob Builder" in body
    assert notes.compare_url in body


def test_html_email_escapes_text(tmp_path: Path, notes: ReleaseNotes) -> None:
    """The HTML e-mail escapes markup in commit text."""
    html = draft_all(notes, make_settings(tmp_path), ["email"])["email"].html or ""
    assert "&lt;tags&gt;" in html
    assert "<tags>" not in html


def test_slack_escapes_reserved_characters(tmp_path: Path, notes: ReleaseNotes) -> None:
    """Slack text escapes &, < and >."""
    content = draft_all(notes, make_settings(tmp_path), ["slack"])["slack"].content
    assert "&amp; &lt;tags&gt;" in content


def test_social_puts_breaking_first(tmp_path: Path, notes: ReleaseNotes) -> None:
    """The social post lists breaking changes before features."""
    post = draft_all(notes, make_settings(tmp_path), ["social"])["social"].content
    assert post.index("Breaking:") < post.index("add --json")


def test_notes_url_from_config(tmp_path: Path, notes: ReleaseNotes) -> None:
    """notes_url from config, formatted with the tag, is the link everywhere."""
    s = make_settings(tmp_path, notes_url="https://docs.example.org/changes/{tag}")
    post = draft_all(notes, s, ["social"])["social"].content
    assert "https://docs.example.org/changes/v1.2.0" in post


def test_unknown_channel_is_a_config_error(tmp_path: Path, notes: ReleaseNotes) -> None:
    """Asking for an unknown channel names the known ones."""
    with pytest.raises(ConfigError, match="unknown channel 'irc'"):
        draft_all(notes, make_settings(tmp_path), ["irc"])


def test_user_template_overrides_text(tmp_path: Path, notes: ReleaseNotes) -> None:
    """A template named in config replaces the package's."""
    tpl = tmp_path / "slack.j2"
    tpl.write_text("Hi from {{ project }} {{ version }}: {{ highlights | length }} highlights\n")
    draft = draft_all(notes, make_settings(tmp_path, templates={"slack": tpl}), ["slack"])["slack"]
    assert draft.payload is not None
    assert draft.payload["blocks"][1]["text"]["text"] == "Hi from widget 1.2.0: 3 highlights"


def test_release_override_applies_to_every_forge(tmp_path: Path, notes: ReleaseNotes) -> None:
    """Overriding `release` changes GitHub, GitLab and Gitea bodies, which may import our macros."""
    tpl = tmp_path / "release.j2"
    tpl.write_text(
        '{% import "_macros.md.j2" as m %}{% for c in breaking %}{{ m.breaking(c) }}{% endfor %}\n'
    )
    drafts = draft_all(
        notes, make_settings(tmp_path, templates={"release": tpl}), ["github", "gitea"]
    )
    assert (
        drafts["github"].content
        == drafts["gitea"].content
        == "Python 3.10 is no longer supported.\n"
    )


def test_broken_user_template_is_a_template_error(tmp_path: Path, notes: ReleaseNotes) -> None:
    """An undefined variable in a user template fails clearly, naming the file."""
    tpl = tmp_path / "social.j2"
    tpl.write_text("{{ no_such_thing }}\n")
    with pytest.raises(TemplateError, match=r"social\.j2"):
        draft_all(notes, make_settings(tmp_path, templates={"social": tpl}), ["social"])


def test_unreleased_notes_draft_without_links(tmp_path: Path) -> None:
    """Notes without version, tag or forge still draft, without a link."""
    bare = sample_notes(version=None, tag=None, compare_url=None, repo_url=None)
    drafts = draft_all(bare, make_settings(tmp_path))
    assert "widget Unreleased is out!" in drafts["social"].content
    assert "http" not in drafts["social"].content


def _long_notes(n: int, words: int, seed_text: str) -> ReleaseNotes:
    desc = " ".join([seed_text or "x"] * words)
    entries = tuple(Change(f"{i:040x}", "feat", f"{desc} {i}", scope="core") for i in range(n))
    breaking = tuple(
        replace(e, breaking=True, breaking_description=desc) for e in entries[: n // 4]
    )
    return sample_notes(groups=(Group("feat", "Features", entries),), breaking=breaking)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=1, max_value=400),
    words=st.integers(min_value=1, max_value=60),
    seed_text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
def test_long_notes_fit_every_platform(tmp_path: Path, n: int, words: int, seed_text: str) -> None:
    """However long the notes, each draft stays within its platform's limits."""
    drafts = draft_all(_long_notes(n, words, seed_text), make_settings(tmp_path))
    assert limits.social_length(drafts["social"].content.strip()) <= limits.SOCIAL_POST
    slack = drafts["slack"].payload or {}
    assert len(slack["blocks"]) <= limits.SLACK_MAX_BLOCKS
    assert all(
        limits.utf16_len(b["text"]["text"]) <= limits.SLACK_SECTION_TEXT
        for b in slack["blocks"]
        if b["type"] == "section"
    )
    embed = (drafts["discord"].payload or {})["embeds"][0]
    assert limits.utf16_len(embed["description"]) <= limits.DISCORD_DESCRIPTION
    total = sum(limits.utf16_len(embed[k]) for k in ("title", "description")) + limits.utf16_len(
        embed["footer"]["text"]
    )
    assert total <= limits.DISCORD_EMBED_TOTAL
    assert limits.json_size(drafts["teams"].payload) <= limits.TEAMS_PAYLOAD_BYTES
    assert limits.utf16_len((drafts["mattermost"].payload or {})["text"]) <= limits.MATTERMOST_TEXT
    assert limits.utf16_len(drafts["gitea"].content) <= limits.GITEA_RELEASE_BODY


def test_truncated_drafts_link_to_full_notes(tmp_path: Path) -> None:
    """A cut chat draft says so and links to the full notes."""
    drafts = draft_all(_long_notes(400, 40, "word"), make_settings(tmp_path))
    for channel in ("discord", "mattermost", "teams", "slack", "social"):
        assert drafts[channel].truncated, channel
    url = "https://github.com/acme/widget/releases/tag/v1.2.0"
    assert f"[full release notes]({url})" in (drafts["mattermost"].payload or {})["text"]
    description = (drafts["discord"].payload or {})["embeds"][0]["description"]
    assert f"more changes: [full release notes]({url})" in description
    assert drafts["social"].content.strip().endswith(url)


TAIL = (
    "Thanks to @alice and Bob Builder for contributing to this release.",
    "A warm welcome to our first-time contributors: Bob Builder",
    "**Full changelog**: https://github.com/acme/widget/compare/v1.1.0...v1.2.0",
)


def test_cut_forge_body_keeps_contributors_and_compare_link(tmp_path: Path) -> None:
    """A 400-commit release: the entries are cut, the tail sections are all there."""
    notes = _long_notes(400, 40, "word")
    drafts = draft_all(notes, make_settings(tmp_path), ["github", "gitea", "gitlab"])
    gitea = drafts["gitea"]
    assert gitea.truncated
    assert limits.utf16_len(gitea.content) <= limits.GITEA_RELEASE_BODY
    for line in TAIL:
        assert line in gitea.content, line
    assert gitea.content.rstrip().endswith(TAIL[-1])
    kept = gitea.content.count("\n- ")
    assert f"…and {len(notes.breaking) + 400 - kept} more changes" in gitea.content
    assert "[full release notes](https://github.com/acme/widget/releases/tag/v1.2.0)" in (
        gitea.content
    )
    assert not drafts["gitlab"].truncated  # 1 000 000 characters: everything fits
    assert "more changes" not in drafts["gitlab"].content


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=1, max_value=500),
    words=st.integers(min_value=1, max_value=80),
    seed_text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
def test_long_notes_keep_the_tail_sections(
    tmp_path: Path, n: int, words: int, seed_text: str
) -> None:
    """However long the notes, forge bodies, Discord and Mattermost keep the thanks, the
    first-timer welcome and (forges) the compare link, and fit their limits."""
    drafts = draft_all(_long_notes(n, words, seed_text), make_settings(tmp_path))
    for channel, limit in (
        ("github", limits.GITHUB_RELEASE_BODY),
        ("gitea", limits.GITEA_RELEASE_BODY),
    ):
        body = drafts[channel].content
        assert limits.utf16_len(body) <= limit
        for line in TAIL:
            assert line in body, (channel, line)
        assert ("more change" in body) == drafts[channel].truncated
    for text in (
        (drafts["discord"].payload or {})["embeds"][0]["description"],
        (drafts["mattermost"].payload or {})["text"],
    ):
        assert "Thanks to Alice Doe and Bob Builder!" in text
        assert "Welcome to our first-time contributors: Bob Builder" in text
