"""Regressions of the notes engine over real histories: squashes, reverts, grouping, ranges."""

from __future__ import annotations

from castoff.release.notes import NotesConfig, generate_notes, notes_to_data


def test_squash_under_plain_title_keeps_breaking_footer(repo) -> None:
    """A squash merge titled in prose keeps its BREAKING CHANGE footer."""
    repo.commit("chore: start")
    repo.commit("Big PR (#77)\n\n* feat: a\n\n* fix(api): b\n\nBREAKING CHANGE: the api changed")
    data = notes_to_data(generate_notes(repo.path, config=NotesConfig()))
    assert [(e["description"], e["breaking_description"]) for e in data["breaking"]] == [
        ("a", "the api changed")
    ]
    entries = [e for g in data["groups"] for e in g["entries"]]
    assert [(e["description"], e["breaking"]) for e in entries] == [("a", True), ("b", False)]
