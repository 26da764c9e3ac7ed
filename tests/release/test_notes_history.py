"""Regressions of the notes engine over real histories: squashes, reverts, grouping, ranges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from castoff.errors import TemplateError
from castoff.release.notes import (
    NotesConfig,
    generate_full,
    generate_notes,
    notes_json,
    notes_to_data,
)
from castoff.release.notes_render import NotesRenderer
from castoff.release.refs import parse_remote


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


def groups(notes) -> dict[str, list[str]]:
    return {g.type: [c.description for c in g.entries] for g in notes.groups}


def test_reapply_is_a_revert_of_the_revert(repo) -> None:
    """git >= 2.43's `Reapply "X"` cancels the revert it reverts; the original stays."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    original = repo.commit("feat: telemetry")
    revert = repo.commit(f'Revert "feat: telemetry"\n\nThis reverts commit {original}.')
    repo.commit(f'Reapply "feat: telemetry"\n\nThis reverts commit {revert}.')
    assert groups(generate_notes(repo.path, config=NotesConfig())) == {"feat": ["telemetry"]}


def test_reapply_of_an_older_revert_brings_the_change_back(repo) -> None:
    """A reapply whose revert shipped earlier lists the change it brings back."""
    original = repo.commit("feat(api)!: telemetry")
    revert = repo.commit(f'Revert "feat(api)!: telemetry"\n\nThis reverts commit {original}.')
    repo.tag("v0.1.0")
    repo.commit(f'Reapply "feat(api)!: telemetry"\n\nThis reverts commit {revert}.')
    repo.commit('Revert "Revert "fix: parser""')
    notes = generate_notes(repo.path, config=NotesConfig())
    assert groups(notes) == {"feat": ["telemetry"], "fix": ["parser"]}
    assert [(c.scope, c.breaking_description) for c in notes.breaking] == [("api", "telemetry")]


def test_conventional_revert_with_refs_footer_cancels(repo) -> None:
    """`revert: …` with a `Refs:` footer of (abbreviated) shas cancels those commits."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    noodle = repo.commit("feat: the noodle incident")
    soup = repo.commit("fix: soup")
    repo.commit("feat: kept")
    repo.commit(
        f"revert: let us never again speak of the noodle incident\n\nRefs: {noodle[:7]}, {soup}"
    )
    repo.commit("revert: unrelated\n\nRefs: #12")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert groups(notes) == {"feat": ["kept"], "revert": ["unrelated"]}


def test_compare_link_ends_at_the_to_ref(repo) -> None:
    """An untagged --to names its own end in the compare link (a sha for expressions)."""
    repo.git("remote", "add", "origin", "git@github.com:acme/rocket.git")
    repo.commit("feat: one")
    repo.tag("v0.1.0")
    start = repo.commit("feat: two")
    repo.git("checkout", "-q", "-b", "topic")
    middle = repo.commit("feat: three")
    repo.commit("feat: four")
    repo.git("checkout", "-q", "main")
    compare = "https://github.com/acme/rocket/compare/"

    def url(**kwargs: str) -> str | None:
        return generate_notes(repo.path, config=NotesConfig(), **kwargs).compare_url

    assert url() == f"{compare}v0.1.0...HEAD"
    assert url(to_ref="topic") == f"{compare}v0.1.0...topic"
    assert url(to_ref="topic~1") == f"{compare}v0.1.0...{middle}"
    assert url(from_ref="topic~2", to_ref="topic~1") == f"{compare}{start}...{middle}"
    assert url(from_ref="v0.1.0", to_ref="topic") == f"{compare}v0.1.0...topic"
    (unreleased, _) = generate_full(repo.path, "topic~1", config=NotesConfig())
    assert unreleased.compare_url == f"{compare}v0.1.0...{middle}"


def test_prose_body_lines_are_not_entries(repo) -> None:
    """Outside list items, `fix: …` in a body is prose; a PR's own line is not a duplicate."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    repo.commit("chore: x\n\nfix: this is prose\nfeat: so is this")
    repo.commit("feat: subject PR (#78)\n\n* feat: subject PR\n* fix: listed")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert groups(notes) == {"feat": ["subject PR (#78)"], "fix": ["listed"]}


def test_git_merge_squash_message_lists_its_commits(repo) -> None:
    """git's own `merge --squash` message gives one entry per squashed conventional commit."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("feat(api): search\n\nfix: prose inside a squashed body")
    repo.commit("fix: empty query")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "topic")
    repo.git("commit", "-q", "--no-edit")
    assert repo.git("log", "-1", "--format=%s") == "Squashed commit of the following:"
    notes = generate_notes(repo.path, config=NotesConfig())
    assert groups(notes) == {"feat": ["search"], "fix": ["empty query"]}
    assert notes.groups[0].entries[0].scope == "api"


def test_unknown_types_go_to_other(repo) -> None:
    """`WIP: …` and friends are listed under Other; known hidden types stay hidden."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    repo.commit("WIP: half a parser")
    repo.commit("Update: README")
    repo.commit("cli(args): new flag")
    repo.commit("chore: bump deps")
    repo.commit("test: more cases")
    repo.commit("security: escape input")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert groups(notes) == {
        "other": [
            "security: escape input",
            "cli(args): new flag",
            "Update: README",
            "WIP: half a parser",
        ]
    }
    configured = NotesConfig(types={"security": "Security"})
    assert groups(generate_notes(repo.path, config=configured)) == {
        "security": ["escape input"],
        "other": ["cli(args): new flag", "Update: README", "WIP: half a parser"],
    }
    assert generate_notes(repo.path, config=NotesConfig(other_group=None)).groups == ()


def test_every_breaking_footer_kept_and_indented(repo) -> None:
    """All BREAKING CHANGE footers are kept; continuation lines stay inside their item."""
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    repo.commit(
        "feat(auth): new tokens\n\nWhy.\n\nBREAKING CHANGE: tokens expire\n  after one hour\n"
        "Reviewed-by: Z\nBREAKING-CHANGE: the v1 login is gone"
    )
    cfg = NotesConfig()
    notes = generate_notes(repo.path, config=cfg)
    (change,) = notes.breaking
    assert change.breaking_description == (
        "tokens expire\n  after one hour\n\nthe v1 login is gone"
    )
    text = NotesRenderer(cfg, "text")(notes)
    assert "  * auth: tokens expire\n    after one hour\n\n    the v1 login is gone (" in text
    md = NotesRenderer(cfg, "md")(notes)
    assert "- **auth:** tokens expire\n  after one hour\n\n  the v1 login is gone (" in md


def test_undefined_name_in_template_names_the_file(repo, tmp_path: Path) -> None:
    """A template using an undefined name fails with its file name and line."""
    repo.commit("feat: x")
    (tmp_path / "mine.j2").write_text("{{ notes.version }}\n{{ no_such_thing.title }}\n")
    cfg = NotesConfig(root=tmp_path, templates={"text": "mine.j2"})
    with pytest.raises(TemplateError, match=r"mine\.j2, line 2: 'no_such_thing' is undefined"):
        NotesRenderer(cfg, "text")(generate_notes(repo.path, config=cfg))


def test_gitlab_merge_request_references(repo) -> None:
    """On GitLab, `!N` and `group/project!N` are merge requests, linked and written as such."""
    repo.git("remote", "add", "origin", "git@gitlab.com:acme/rocket.git")
    repo.commit("chore: start")
    repo.tag("v0.1.0")
    repo.commit("feat!: search (!42)")
    repo.commit("fix: crash\n\nSee acme/sub/engine!7, closes #3")
    repo.commit("Big MR (!77)\n\n* feat: a\n* fix: b")
    cfg = NotesConfig()
    notes = generate_notes(repo.path, config=cfg)
    refs = {
        c.description: [(r.kind, r.repo, r.number, r.url) for r in c.refs] for c in notes.changes
    }
    mr = "https://gitlab.com/acme/rocket/-/merge_requests"
    assert refs == {
        "search (!42)": [("pull", None, 42, f"{mr}/42")],
        "a": [("pull", None, 77, f"{mr}/77")],
        "crash": [
            ("pull", "acme/sub/engine", 7, "https://gitlab.com/acme/sub/engine/-/merge_requests/7"),
            ("issue", None, 3, "https://gitlab.com/acme/rocket/-/issues/3"),
        ],
        "b": [("pull", None, 77, f"{mr}/77")],
    }
    md = NotesRenderer(cfg, "md", forge=parse_remote("git@gitlab.com:acme/rocket.git"))(notes)
    assert f"- a ([!77]({mr}/77))" in md
    assert "- search (!42) (" in md  # spelled out already: no second link
    assert "[acme/sub/engine!7](" in md

    repo.git("remote", "set-url", "origin", "git@github.com:acme/rocket.git")
    on_github = generate_notes(repo.path, config=cfg)
    assert [r.number for c in on_github.changes for r in c.refs] == [3]
