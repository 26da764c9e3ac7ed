"""CHANGELOG.md updates: in place, in order, idempotent, atomic."""

from __future__ import annotations

from pathlib import Path

from castoff.release.changelog import (
    UNRELEASED_LINE,
    has_section,
    insert_section,
    replace_releases,
    update_changelog,
)

SECTION = (
    "## [1.3.0](https://x/compare/v1.2.0...v1.3.0) - 2024-05-01\n\n"
    "### Features\n\n- new thing (abc1234)\n"
)

EXISTING = """# Changelog

All notable changes to this project will be documented in this file.
Hand-written intro that must survive.

## [Unreleased]

- something in progress, written by hand

## [1.2.0] - 2024-04-01

### Fixed

- a hand-edited entry

## [1.1.0] - 2024-03-01

- older
"""


def test_insert_below_unreleased() -> None:
    """A new release goes below Unreleased and above the previous release."""
    out = insert_section(EXISTING, SECTION, "1.3.0")
    assert out.index("## [Unreleased]") < out.index("## [1.3.0]") < out.index("## [1.2.0]")


def test_insert_never_rewrites_existing_text() -> None:
    """Every existing line is kept, byte for byte, in order."""
    out = insert_section(EXISTING, SECTION, "1.3.0")
    assert out.replace(SECTION + "\n", "", 1) == EXISTING


def test_insert_is_idempotent() -> None:
    """Inserting the same version twice adds nothing the second time."""
    once = insert_section(EXISTING, SECTION, "1.3.0")
    assert insert_section(once, SECTION, "1.3.0") == once


def test_insert_recognises_v_prefixed_and_plain_headings() -> None:
    """Existing headings like '## v1.2.0 (date)' or '## 1.2.0' count as present."""
    assert has_section("# C\n\n## v1.2.0 (2024-01-01)\n", "1.2.0")
    assert has_section("# C\n\n## 1.2.0\n", "1.2.0")
    assert not has_section("# C\n\n## 1.2.0\n", "1.2.1")


def test_insert_in_version_order() -> None:
    """A section for an older version lands below newer ones."""
    section = "## [1.1.5] - 2024-03-15\n\n- backport\n"
    out = insert_section(EXISTING, section, "1.1.5")
    assert out.index("## [1.2.0]") < out.index("## [1.1.5]") < out.index("## [1.1.0]")


def test_insert_into_file_without_releases() -> None:
    """A file with only a title gets the section appended after it."""
    out = insert_section("# Changelog\n", SECTION, "1.3.0")
    assert out == "# Changelog\n\n" + SECTION


def test_insert_into_empty_creates_header() -> None:
    """An empty file becomes a Keep a Changelog file with the section."""
    out = insert_section("", SECTION, "1.3.0")
    assert out.startswith("# Changelog\n")
    assert out.endswith(SECTION)


def test_headings_in_code_fences_are_ignored() -> None:
    """A '## 1.3.0' inside a fenced block is not an existing section."""
    text = "# Changelog\n\n```\n## 1.3.0\n```\n\n## 1.2.0\n\n- x\n"
    assert not has_section(text, "1.3.0")
    assert "## [1.3.0]" in insert_section(text, SECTION, "1.3.0")


def test_unreleased_section_inserted_on_top_once() -> None:
    """An Unreleased section goes above releases, marked, and only once."""
    text = "# Changelog\n\n## 1.2.0\n\n- x\n"
    out = insert_section(text, "## [Unreleased]\n\n- y\n", None)
    assert out == f"# Changelog\n\n## [Unreleased]\n{UNRELEASED_LINE}\n\n- y\n\n## 1.2.0\n\n- x\n"
    assert insert_section(out, "## [Unreleased]\n\n- y\n", None) == out


def test_generated_unreleased_is_refreshed_then_removed_by_its_release() -> None:
    """castoff's own Unreleased section is replaced by a newer one and by the release."""
    text = "# Changelog\n\n## 1.2.0\n\n- x\n"
    first = insert_section(text, "## [Unreleased]\n\n- y\n", None)
    refreshed = insert_section(first, "## [Unreleased]\n\n- y\n- z\n", None)
    assert refreshed == first.replace("- y\n", "- y\n- z\n")
    released = insert_section(refreshed, SECTION, "1.3.0")
    assert released == f"# Changelog\n\n{SECTION}\n## 1.2.0\n\n- x\n"
    assert insert_section(released, SECTION, "1.3.0") == released


def test_generated_unreleased_kept_below_an_older_late_release() -> None:
    """A late section for an old version leaves the (newer) generated Unreleased in place."""
    text = insert_section("# Changelog\n\n## 1.2.0\n\n- x\n", "## [Unreleased]\n\n- y\n", None)
    out = insert_section(text, "## [1.1.0]\n\n- old\n", "1.1.0")
    assert UNRELEASED_LINE in out
    assert out.index("## [Unreleased]") < out.index("## 1.2.0") < out.index("## [1.1.0]")


def test_hand_written_unreleased_is_never_touched() -> None:
    """Without the marker, Unreleased is the author's: kept as is, releases go below it."""
    assert insert_section(EXISTING, "## [Unreleased]\n\n- generated\n", None) == EXISTING
    out = insert_section(EXISTING, SECTION, "1.3.0")
    assert "- something in progress, written by hand" in out
    assert out.index("## [Unreleased]") < out.index("## [1.3.0]")


def test_full_regeneration_marks_unreleased() -> None:
    """--full writes a marked Unreleased section, which a later release replaces."""
    out = replace_releases(EXISTING, "## [Unreleased]\n\n- new\n\n## [1.2.0]\n\n- x\n")
    assert f"## [Unreleased]\n{UNRELEASED_LINE}\n" in out
    released = insert_section(out, SECTION, "1.3.0")
    assert "## [Unreleased]" not in released
    assert released.index("## [1.3.0]") < released.index("## [1.2.0]")


def test_replace_releases_keeps_preamble() -> None:
    """--full regeneration keeps the hand-written preamble and replaces the sections."""
    out = replace_releases(EXISTING, "## [2.0.0] - 2024-06-01\n\n- all new\n")
    assert out.startswith(EXISTING[: EXISTING.index("## [Unreleased]")].rstrip("\n"))
    assert "## [1.2.0]" not in out
    assert replace_releases(out, "## [2.0.0] - 2024-06-01\n\n- all new\n") == out


def test_update_changelog_creates_then_noop(tmp_path: Path) -> None:
    """The writer creates the file, and a second run changes nothing."""
    path = tmp_path / "CHANGELOG.md"
    assert update_changelog(path, SECTION, "1.3.0")
    first = path.read_text()
    assert not update_changelog(path, SECTION, "1.3.0")
    assert path.read_text() == first


def test_real_changelog_with_history(tmp_path: Path) -> None:
    """A commitizen-style changelog with many releases gets the new one on top."""
    lines = ["## v1.2.0 (2024-04-01)", "", "### Fix", "", "- **core**: thing", ""]
    history = (
        "\n".join(lines)
        + "\n"
        + "".join(
            f"## v1.{m}.0 (2024-0{m + 1}-01)\n\n### Feat\n\n- feature {m}\n\n" for m in (1, 0)
        )
    )
    path = tmp_path / "CHANGELOG.md"
    path.write_text(history)
    assert update_changelog(path, SECTION, "1.3.0")
    text = path.read_text()
    assert text.startswith(SECTION)
    assert text.endswith(history)
