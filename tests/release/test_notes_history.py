"""Regressions of the notes engine over real histories: squashes, reverts, grouping, ranges."""

from __future__ import annotations

import json
from pathlib import Path

from castoff.release.notes import NotesConfig, generate_notes, notes_json, notes_to_data


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


def test_shallow_clone_leaves_first_timers_unknown(make_repo, tmp_path: Path, run_castoff) -> None:
    """When a shallow clone cuts the history before the range, nobody is called a first-timer."""
    origin = make_repo("origin")
    origin.commit("feat: early", author="Ann Lee <ann@example.com>")
    origin.commit("feat: middle", author="Bob Stone <bob@example.com>")
    origin.commit("feat: release", author="Bob Stone <bob@example.com>")
    origin.tag("v0.1.0")
    origin.commit("fix: back again", author="Ann Lee <ann@example.com>")
    origin.commit("fix: new here", author="Cy Doe <cy@example.com>")
    full = generate_notes(origin.path, config=NotesConfig())
    assert [p.name for p in full.first_timers] == ["Cy Doe"]
    assert notes_to_data(full)["first_timers_unknown"] is False

    clone = tmp_path / "clone"
    origin.git("clone", "-q", "--depth", "3", f"file://{origin.path}", str(clone))
    notes = generate_notes(clone, config=NotesConfig())
    assert [p.name for p in notes.contributors] == ["Ann Lee", "Cy Doe"]
    assert notes.first_timers == ()
    data = notes_to_data(notes)
    assert data["first_timers_unknown"] is True
    assert json.loads(notes_json(notes)) == data

    out = run_castoff("notes", "--format", "github", cwd=clone)
    assert out.returncode == 0, out.stderr
    assert "New contributors unknown: shallow clone" in out.stdout
    assert "warning: shallow clone: the history before v0.1.0 is cut" in out.stderr
