"""The notes engine over real repositories: ranges, grouping, contributors, templates."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from castoff.config import Config
from castoff.errors import ConfigError, GitError, NotFound, TemplateError, UsageError
from castoff.release import sections
from castoff.release.commits import parse_commit
from castoff.release.model import Change, Person
from castoff.release.notes import (
    NotesConfig,
    build_notes,
    cancel_reverts,
    generate_full,
    generate_notes,
    notes_json,
    notes_to_data,
)
from castoff.release.notes_render import NotesRenderer
from castoff.release.refs import parse_remote

GOLDEN = Path(__file__).parent / "golden" / "notes"
ANN = "Ann Lee <ann@example.com>"
BOB = "Bob Stone <bob@example.com>"


def tag(repo, name: str, stamp: int) -> None:
    """An annotated tag with a fixed date."""
    env = {"GIT_COMMITTER_DATE": f"{stamp} +0000"}
    repo.git("tag", "-a", name, "-m", name, env=env)


def rocket(repo):
    """A small project with two releases and every kind of commit."""
    repo.git("remote", "add", "origin", "git@github.com:acme/rocket.git")
    repo.commit("feat: launch pad", author=ANN)
    tag(repo, "v0.1.0", 1_700_000_100)
    repo.commit("feat(engine): thrust control (#12)", author=ANN)
    repo.commit("fix(engine): stop the fuel leak\n\nFixes #13", author=BOB)
    repo.commit(
        "feat(api)!: rename the launch endpoint\n\nBREAKING CHANGE: /launch is now /v2/launch",
        author=ANN,
    )
    repo.commit("docs: explain staging", author=BOB)
    repo.commit("chore: bump dependencies", author=BOB)
    repo.commit("Update README", author="Dee Ray <dee@example.com>")
    repo.commit("perf: faster countdown\n\nCo-authored-by: Cy Doe <cy@example.com>", author=ANN)
    telemetry = repo.commit("feat: telemetry", author=BOB)
    repo.commit(f'Revert "feat: telemetry"\n\nThis reverts commit {telemetry}.', author=BOB)
    tag(repo, "v0.2.0", 1_700_001_000)
    return repo


def titles(notes) -> dict[str, list[str]]:
    return {g.title: [c.description for c in g.entries] for g in notes.groups}


def test_default_range_is_since_latest_tag(repo) -> None:
    """Without --from, notes cover the commits since the previous release tag."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert notes.version == "0.2.0"
    assert notes.previous_tag == "v0.1.0"
    assert titles(notes) == {
        "Features": ["rename the launch endpoint", "thrust control (#12)"],
        "Bug Fixes": ["stop the fuel leak"],
        "Performance": ["faster countdown"],
        "Documentation": ["explain staging"],
        "Other": ["Update README"],
    }
    assert notes.commit_count == 9


def test_revert_cancels_reverted_entry(repo) -> None:
    """A revert and the commit it reverts both vanish when both are in range."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert not any("telemetry" in c.description for c in notes.changes)


def test_revert_of_older_release_is_listed(repo) -> None:
    """A revert whose target is in an earlier release stays, under Reverts."""
    rocket(repo)
    repo.commit('Revert "feat: launch pad"')
    notes = generate_notes(repo.path, config=NotesConfig())
    assert titles(notes) == {"Reverts": ["feat: launch pad"]}


def test_breaking_changes_listed(repo) -> None:
    """Breaking changes are collected, with their footer text."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert [c.breaking_description for c in notes.breaking] == ["/launch is now /v2/launch"]


def test_compare_and_reference_links(repo) -> None:
    """Links follow the origin remote's forge."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert notes.compare_url == "https://github.com/acme/rocket/compare/v0.1.0...v0.2.0"
    fix = next(c for c in notes.changes if c.type == "fix")
    assert fix.refs[0].url == "https://github.com/acme/rocket/issues/13"


def test_contributors_and_first_timers(repo) -> None:
    """Contributors include co-authors; first-timers had no commit before the range."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert [p.name for p in notes.contributors] == ["Ann Lee", "Bob Stone", "Cy Doe", "Dee Ray"]
    assert [p.name for p in notes.first_timers] == ["Bob Stone", "Cy Doe", "Dee Ray"]


def test_mailmap_deduplicates_contributors(repo) -> None:
    """Authors and co-authors are merged through .mailmap."""
    repo.write(".mailmap", "Ann Lee <ann@example.com> <ann@old.example.com>\n")
    repo.commit("chore: mailmap", author=ANN)
    tag(repo, "v1.0.0", 1_700_000_500)
    repo.commit("feat: a", author="ann <ann@old.example.com>")
    repo.commit("feat: b\n\nCo-authored-by: A. Lee <ann@old.example.com>", author=BOB)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert [p.email for p in notes.contributors] == ["ann@example.com", "bob@example.com"]
    assert [p.name for p in notes.first_timers] == ["Bob Stone"]


def test_explicit_range_and_to_tag(repo) -> None:
    """--from/--to select any range; a tag at --to names the version."""
    rocket(repo)
    repo.commit("feat: after release")
    notes = generate_notes(repo.path, "v0.1.0", "v0.2.0", config=NotesConfig())
    assert notes.version == "0.2.0"
    assert notes.date == date(2023, 11, 14)
    assert "after release" not in [c.description for c in notes.changes]


def test_unreleased_head(repo) -> None:
    """Commits after the last tag are Unreleased unless a version is given."""
    rocket(repo)
    repo.commit("fix: hotfix")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert (notes.version, notes.tag, notes.previous_tag) == (None, None, "v0.2.0")
    named = generate_notes(repo.path, config=NotesConfig(), version="0.2.1")
    assert named.tag == "v0.2.1"
    assert named.compare_url.endswith("/compare/v0.2.0...v0.2.1")


def test_prerelease_tags_skipped_as_start(repo) -> None:
    """The notes of a final release start at the previous final release, not its rc."""
    repo.commit("feat: one")
    tag(repo, "v1.0.0", 1_700_000_100)
    repo.commit("feat: two")
    tag(repo, "v1.1.0-rc.1", 1_700_000_200)
    repo.commit("fix: three")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert notes.previous_tag == "v1.0.0"
    assert [c.description for c in notes.changes] == ["two", "three"]
    with_rc = generate_notes(repo.path, config=NotesConfig(include_prereleases=True))
    assert with_rc.previous_tag == "v1.1.0-rc.1"


def test_first_release_covers_whole_history(repo) -> None:
    """Without any tag the range is the whole history."""
    repo.commit("feat: one")
    repo.commit("fix: two")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert notes.previous_tag is None
    assert notes.commit_count == 2


def test_merge_commits_skipped_by_default(repo) -> None:
    """Merge commits add no entry unless include_merges."""
    repo.commit("feat: base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("feat: topic work", {"t.txt": "t"})
    repo.git("checkout", "-q", "main")
    repo.commit("fix: main work", {"m.txt": "m"})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
    notes = generate_notes(repo.path, config=NotesConfig())
    assert "Merge branch 'topic'" not in [c.description for c in notes.changes]
    assert notes.commit_count == 4
    merged = generate_notes(repo.path, config=NotesConfig(include_merges=True))
    assert "Merge branch 'topic'" in [c.description for c in merged.changes]


def test_other_group_disabled(repo) -> None:
    """other_group = false drops non-conventional commits."""
    repo.commit("Update README")
    repo.commit("feat: x")
    notes = generate_notes(repo.path, config=NotesConfig(other_group=None))
    assert titles(notes) == {"Features": ["x"]}


def test_custom_types_and_titles(repo) -> None:
    """Custom types get their own group, in configured order."""
    repo.commit("sec: patch CVE")
    repo.commit("feat: x")
    cfg = NotesConfig(types={"sec": "Security", "feat": "New"})
    assert list(titles(generate_notes(repo.path, config=cfg))) == ["Security", "New"]


def test_empty_range_is_an_error(repo) -> None:
    """A range without commits is bad input."""
    repo.commit("feat: one")
    tag(repo, "v1.0.0", 1_700_000_100)
    with pytest.raises(UsageError, match="no commits"):
        generate_notes(repo.path, "v1.0.0", config=NotesConfig())


def test_tagged_head_describes_its_release(repo) -> None:
    """At a release tag, the default range is that release's own commits."""
    repo.commit("feat: one")
    tag(repo, "v1.0.0", 1_700_000_100)
    repo.commit("feat: two")
    tag(repo, "v1.1.0", 1_700_000_200)
    notes = generate_notes(repo.path, config=NotesConfig())
    assert (notes.version, notes.previous_tag) == ("1.1.0", "v1.0.0")


def test_unknown_ref_is_an_error(repo) -> None:
    """An unknown --from names the ref."""
    repo.commit("feat: one")
    with pytest.raises(NotFound, match="nope"):
        generate_notes(repo.path, "nope", config=NotesConfig())


def test_fresh_repository_is_an_error(repo) -> None:
    """A repository without commits has nothing to describe."""
    with pytest.raises(UsageError, match="no commits"):
        generate_notes(repo.path, config=NotesConfig())


def test_shallow_clone_missing_history(make_repo, tmp_path: Path) -> None:
    """A shallow clone whose range reaches the cut-off is one clear error."""
    origin = make_repo("origin")
    for i in range(4):
        origin.commit(f"feat: {i}")
    clone = tmp_path / "clone"
    origin.git("clone", "-q", "--depth", "2", f"file://{origin.path}", str(clone))
    with pytest.raises(GitError, match="shallow"):
        generate_notes(clone, config=NotesConfig())


def test_full_history_sections(repo) -> None:
    """--full gives one section per release tag plus Unreleased, newest first."""
    rocket(repo)
    repo.commit("fix: later")
    releases = generate_full(repo.path, config=NotesConfig())
    assert [n.version for n in releases] == [None, "0.2.0", "0.1.0"]
    assert [n.commit_count for n in releases] == [1, 9, 1]
    assert [p.name for p in releases[2].first_timers] == ["Ann Lee"]
    assert [p.name for p in releases[1].first_timers] == ["Bob Stone", "Cy Doe", "Dee Ray"]


def many_releases(repo, count: int = 6):
    for i in range(count):
        repo.commit(f"feat: feature {i}", author=f"Dev {i} <dev{i}@example.com>")
        repo.commit(f"fix: fix {i}", author=ANN)
        tag(repo, f"v1.{i}.0", 1_700_000_000 + 1000 * i)
    repo.commit("feat: unreleased", author=BOB)
    return repo


def test_full_history_parallel_matches_inline(repo) -> None:
    """Parallel workers give exactly the sections of one in-process walk."""
    many_releases(repo)
    cfg = NotesConfig()
    inline = sections.full_history(repo.path, "HEAD", cfg, workers=1)
    parallel = sections.full_history(repo.path, "HEAD", cfg, workers=2)
    assert parallel == inline
    assert len(inline) == 7


def test_full_history_parallel_rendered(repo) -> None:
    """Rendering in the workers gives the same text as rendering in-process."""
    many_releases(repo)
    cfg = NotesConfig()
    render = NotesRenderer(cfg, "md", full=True)
    texts = sections.render_full(repo.path, "HEAD", cfg, render)
    assert texts == [render(n) for n in generate_full(repo.path, config=cfg)]


def test_full_history_ignores_tags_off_history(repo) -> None:
    """A release tag on another branch is not a section of HEAD's history."""
    many_releases(repo, 4)
    repo.git("checkout", "-q", "-b", "maint", "v1.1.0")
    repo.commit("fix: backport", {"b.txt": "b"})
    tag(repo, "v1.1.1", 1_700_009_000)
    repo.git("checkout", "-q", "main")
    for workers in (1, 2):
        releases = sections.full_history(repo.path, "HEAD", NotesConfig(), workers=workers)
        assert [n.version for n in releases] == [None, "1.3.0", "1.2.0", "1.1.0", "1.0.0"]
        assert all("backport" not in c.description for n in releases for c in n.changes)


def test_cancel_reverts_revert_of_revert() -> None:
    """Reverting a revert brings the original change back."""
    original = Change("1" * 40, "feat", "x")
    first = Change("2" * 40, "revert", "feat: x", reverts="1" * 40)
    second = Change("3" * 40, "revert", 'Revert "feat: x"', reverts="2" * 40)
    assert cancel_reverts([second, first, original]) == [original]


def test_build_notes_hidden_breaking_type() -> None:
    """A breaking change of a hidden type still appears among breaking changes."""
    change = Change("1" * 40, "chore", "drop py38", breaking=True, breaking_description="drop py38")
    notes = build_notes([change], on=date(2024, 1, 1))
    assert notes.groups == ()
    assert notes.breaking == (change,)


def test_build_notes_unknown_type_goes_to_other() -> None:
    """A parsed change of a type nobody knows is listed under Other, with its header."""
    change = Change("1" * 40, "wip", "half a parser", scope="x")
    notes = build_notes([change, Change("2" * 40, "chore", "hidden")], on=date(2024, 1, 1))
    assert [(g.type, [c.description for c in g.entries]) for g in notes.groups] == [
        ("other", ["wip(x): half a parser"])
    ]


def test_notes_config_from_config(tmp_path: Path) -> None:
    """[notes] settings are read and validated."""
    data = {"notes": {"types": {"feat": "New"}, "other_group": False, "link_style": "gitlab"}}
    cfg = NotesConfig.from_config(Config(tmp_path, data))
    assert (dict(cfg.types), cfg.other_group, cfg.link_style) == ({"feat": "New"}, None, "gitlab")


@pytest.mark.parametrize(
    "section",
    [{"types": ["feat"]}, {"other_group": 3}, {"link_style": "svn"}, {"bogus": 1}, {"workers": 0}],
)
def test_notes_config_rejects_bad_values(tmp_path: Path, section: dict[str, object]) -> None:
    """Malformed [notes] settings are configuration errors."""
    with pytest.raises(ConfigError):
        NotesConfig.from_config(Config(tmp_path, {"notes": section}))


def test_notes_json_equals_json_dumps(repo) -> None:
    """The one-pass JSON encoder matches json.dumps of the documented data."""
    rocket(repo)
    notes = generate_notes(repo.path, config=NotesConfig())
    expected = json.dumps(notes_to_data(notes), ensure_ascii=False, separators=(",", ":"))
    assert notes_json(notes) == expected


@pytest.mark.parametrize("fmt", ["md", "github", "text", "json"])
def test_golden_templates(repo, fmt: str) -> None:
    """Each shipped template renders the reference project exactly as recorded."""
    rocket(repo)
    cfg = NotesConfig()
    notes = generate_notes(repo.path, config=cfg)
    text = NotesRenderer(cfg, fmt, forge=parse_remote("git@github.com:acme/rocket.git"))(notes)
    text = text.replace(repo.head(), "HEAD_SHA")
    for change in notes.changes:
        text = text.replace(change.sha, "<sha>").replace(change.sha[:7], "<short>")
    golden = GOLDEN / f"v0.2.0.{fmt}"
    if os.environ.get("CASTOFF_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_template_override(repo, tmp_path: Path) -> None:
    """A configured template replaces the shipped one."""
    repo.commit("feat: x")
    (tmp_path / "mine.j2").write_text("{{ notes.changes | length }} change(s)\n")
    cfg = NotesConfig(root=tmp_path, templates={"markdown": "mine.j2"})
    assert NotesRenderer(cfg, "md")(generate_notes(repo.path, config=cfg)) == "1 change(s)\n"


def test_template_syntax_error(tmp_path: Path) -> None:
    """A template syntax error names the file and line."""
    (tmp_path / "bad.j2").write_text("ok\n{% for x in %}\n")
    cfg = NotesConfig(root=tmp_path, templates={"json": "bad.j2"})
    with pytest.raises(TemplateError, match=r"bad\.j2, line 2"):
        NotesRenderer(cfg, "json")


def test_template_unreadable(tmp_path: Path) -> None:
    """A missing template file is a template error."""
    cfg = NotesConfig(root=tmp_path, templates={"text": "missing.j2"})
    with pytest.raises(TemplateError, match="cannot read"):
        NotesRenderer(cfg, "text")


def test_parse_is_pure_over_commit_objects(repo) -> None:
    """parse_commit gives the same entries the streaming path gives."""
    rocket(repo)
    from castoff.release import git

    streamed = generate_full(repo.path, config=NotesConfig())[0].changes
    direct = [
        c
        for commit in git.iter_commits(repo.path, ["v0.2.0", "^v0.1.0"])
        for c in parse_commit(commit, forge=parse_remote("git@github.com:acme/rocket.git"))
    ]
    assert set(streamed) <= set(direct)
    assert {p for c in direct for p in c.authors} >= {Person("Ann Lee", "ann@example.com")}


def test_shipped_json_template_matches_direct_json(repo) -> None:
    """json.j2, rendered by Jinja2, equals the direct JSON writer (single and full)."""
    rocket(repo)
    template = Path(__file__).parents[2] / "src/castoff/release/templates/notes/json.j2"
    notes = generate_notes(repo.path, config=NotesConfig())
    for full in (False, True):
        cfg = NotesConfig(templates={"json": str(template)})
        via_jinja = NotesRenderer(cfg, "json", full=full)(notes)
        assert via_jinja == NotesRenderer(NotesConfig(), "json", full=full)(notes)
