"""Conventional-commit parsing and reference extraction over real-world messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from castoff.release.commits import new_change, parse_commit
from castoff.release.model import Change, Commit, Person, Reference
from castoff.release.refs import Forge, find_refs, parse_remote

ANN = Person("Ann Lee", "ann@example.com")


def commit(message: str, sha: str = "a" * 40) -> Commit:
    subject, _, body = message.partition("\n")
    return Commit(sha, (), ANN, datetime(2024, 1, 1, tzinfo=UTC), subject, body.strip("\n"))


def brief(change: Change) -> tuple[object, ...]:
    return (change.type, change.scope, change.description, change.breaking, change.conventional)


# (message, expected entries as (type, scope, description, breaking, conventional))
TABLE = [
    ("feat: add login", [("feat", None, "add login", False, True)]),
    ("fix(api): handle null body", [("fix", "api", "handle null body", False, True)]),
    ("feat(api)!: drop the v1 endpoints", [("feat", "api", "drop the v1 endpoints", True, True)]),
    ("chore!: drop Python 3.8", [("chore", None, "drop Python 3.8", True, True)]),
    ("FEAT(Parser): upper-case type", [("feat", "Parser", "upper-case type", False, True)]),
    ("feat(): empty scope", [("feat", None, "empty scope", False, True)]),
    ("feat(cli, api): two scopes", [("feat", "cli, api", "two scopes", False, True)]),
    ("docs:  extra spaces  ", [("docs", None, "extra spaces", False, True)]),
    ("feat:no space after colon", [("other", None, "feat:no space after colon", False, False)]),
    ("Update README.md", [("other", None, "Update README.md", False, False)]),
    (
        "Merge branch 'main' into topic",
        [("other", None, "Merge branch 'main' into topic", False, False)],
    ),
    ("WIP", [("other", None, "WIP", False, False)]),
    ("fix: ünïcödé ✨ emoji 🚀", [("fix", None, "ünïcödé ✨ emoji 🚀", False, True)]),
    ("", []),
    (
        "feat: config v2\n\nLong explanation.\n\nBREAKING CHANGE: the config file moved",
        [("feat", None, "config v2", True, True)],
    ),
    (
        "fix: parser\n\nBREAKING-CHANGE: tokens are now bytes",
        [("fix", None, "parser", True, True)],
    ),
    (
        'Revert "feat: add login"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.',
        [("revert", None, "feat: add login", False, True)],
    ),
    ("revert: feat: add login", [("revert", None, "feat: add login", False, True)]),
    (
        "Release train (#42)\n\n* feat(api): add search\n\n* fix: crash on empty input"
        "\n\n* docs: usage",
        [
            ("feat", "api", "add search", False, True),
            ("fix", None, "crash on empty input", False, True),
            ("docs", None, "usage", False, True),
        ],
    ),
    (
        "feat: bulk import (#7)\n\n- feat: csv reader\n- fix!: reject bad rows"
        "\n- feat: bulk import (#7)",
        [
            ("feat", None, "bulk import (#7)", False, True),
            ("feat", None, "csv reader", False, True),
            ("fix", None, "reject bad rows", True, True),
        ],
    ),
    (
        "fix: flaky test\n\nNote: this only happens on CI.\nSigned-off-by: Ann <ann@example.com>",
        [("fix", None, "flaky test", False, True)],
    ),
]


@pytest.mark.parametrize(("message", "expected"), TABLE, ids=[m[:30] or "empty" for m, _ in TABLE])
def test_parse_table(message: str, expected: list[tuple[object, ...]]) -> None:
    """Each real-world message parses to the expected entries."""
    assert [brief(c) for c in parse_commit(commit(message))] == expected


def test_breaking_footer_multiline_among_footers() -> None:
    """A BREAKING CHANGE footer keeps its continuation lines and stops at the next footer."""
    message = (
        "feat: new auth\n\nBody.\n\nReviewed-by: Z\nBREAKING CHANGE: tokens expire\n"
        "  after one hour now\nCloses #31"
    )
    (change,) = parse_commit(commit(message))
    assert change.breaking_description == "tokens expire\n  after one hour now"
    assert change.refs == (Reference(31, "issue", None, None, "closes"),)


def test_bang_describes_breaking_change() -> None:
    """``!`` without a footer uses the description as the breaking note."""
    (change,) = parse_commit(commit("refactor!: new storage layout"))
    assert change.breaking_description == "new storage layout"


def test_revert_records_reverted_sha() -> None:
    """git's revert body gives the reverted sha."""
    (change,) = parse_commit(commit('Revert "fix: x"\n\nThis reverts commit ABCDEF1234567.'))
    assert change.reverts == "abcdef1234567"


def test_revert_reads_refs_footer_and_reapply() -> None:
    """`revert:` takes its targets from `Refs:` footers; `Reapply "X"` reverts `Revert "X"`."""
    (change,) = parse_commit(commit("revert: noodles\n\nRefs: 676104E, a215868, #12, 123456"))
    assert change.reverts == "676104e a215868"
    (change,) = parse_commit(commit('Reapply "feat: x"\n\nThis reverts commit 0123456789.'))
    assert (change.type, change.description, change.reverts) == (
        "revert",
        'Revert "feat: x"',
        "0123456789",
    )


def test_co_authors_become_authors() -> None:
    """Co-authored-by trailers add authors after the commit author."""
    message = (
        "feat: pair work\n\nCo-authored-by: Bob Stone <bob@example.com>\n"
        "co-authored-by: Cy <cy@x.org>"
    )
    (change,) = parse_commit(commit(message))
    assert change.authors == (ANN, Person("Bob Stone", "bob@example.com"), Person("Cy", "cy@x.org"))


def test_squash_entries_share_sha_and_pr_reference() -> None:
    """Entries of a squash merge keep the commit sha and the subject's PR number."""
    changes = parse_commit(commit("Batch (#42)\n\n* feat: a\n* fix: b (#43)"))
    assert {c.sha for c in changes} == {"a" * 40}
    assert [sorted(r.number for r in c.refs) for c in changes] == [[42], [42, 43]]


def test_forge_links_references() -> None:
    """With a forge, references carry their URL."""
    forge = Forge("https://github.com", "acme/app")
    (change,) = parse_commit(commit("fix: x (#5)"), forge=forge)
    assert change.refs[0].url == "https://github.com/acme/app/issues/5"


def test_body_kept_on_entry() -> None:
    """The single entry keeps the commit body."""
    (change,) = parse_commit(commit("feat: x\n\nWhy we did it."))
    assert change.body == "Why we did it."


def test_new_change_equals_constructor() -> None:
    """The fast constructor builds an object equal to Change(...)."""
    args = ("s", "feat", "d", "sc", True, "b", "body", (), (ANN,), True, None)
    assert new_change(*args) == Change(*args)


def test_find_refs_gitlab_merge_requests() -> None:
    """`!N` is a merge request only when asked (GitLab), and only as a reference token."""
    text = "feat!: x (!5), Wow!12, group/sub/proj!6, a&!7, x/!8, !9"
    assert find_refs(text) == ()
    assert [(r.kind, r.repo, r.number) for r in find_refs(text, merge_requests=True)] == [
        ("pull", None, 5),
        ("pull", "group/sub/proj", 6),
        ("pull", None, 9),
    ]
    both = find_refs("fix: y (#5, !5)", merge_requests=True)
    assert [(r.kind, r.number) for r in both] == [("issue", 5), ("pull", 5)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("!#/0123456789ab &()\n.-_")))
def test_find_refs_with_merge_requests_never_raises(text: str) -> None:
    """Arbitrary text never breaks the merge-request scan."""
    assert all(r.number >= 0 for r in find_refs(text, merge_requests=True))


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_parsing_never_raises(subject: str, body: str) -> None:
    """Arbitrary text parses without raising."""
    c = Commit("b" * 40, (), ANN, datetime(2024, 1, 1, tzinfo=UTC), subject, body)
    for change in parse_commit(c, forge=Forge("https://gitlab.com", "g/r", "gitlab")):
        assert change.sha == c.sha


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("#GH-/:0123456789abc &()\nfixes Closes https://x.y/")))
def test_find_refs_never_raises(text: str) -> None:
    """Reference extraction never raises on reference-like noise."""
    for ref in find_refs(text):
        assert ref.number >= 0


REF_TABLE = [
    ("fix: x (#123)", [(123, "issue", None, None)]),
    ("see GH-45", [(45, "issue", None, None)]),
    ("needs acme/rocket#9 first", [(9, "issue", "acme/rocket", None)]),
    (
        "Closes #1, fixes #2 and Resolves: #3",
        [(1, "issue", None, "closes"), (2, "issue", None, "fixes"), (3, "issue", None, "resolves")],
    ),
    ("https://github.com/acme/app/issues/7", [(7, "issue", "acme/app", None)]),
    ("https://github.com/acme/app/pull/8", [(8, "pull", "acme/app", None)]),
    ("https://gitlab.com/g/sub/app/-/merge_requests/9", [(9, "pull", "g/sub/app", None)]),
    ("https://bitbucket.org/o/r/pull-requests/10", [(10, "pull", "o/r", None)]),
    ("https://codeberg.org/o/r/pulls/11", [(11, "pull", "o/r", None)]),
    ("fixes https://github.com/acme/app/issues/12", [(12, "issue", "acme/app", "fixes")]),
    ("abc#12 &#13; C# page#section #x", []),
    ("#5 and #5 again", [(5, "issue", None, None)]),
]


@pytest.mark.parametrize(("text", "expected"), REF_TABLE, ids=[t[:25] for t, _ in REF_TABLE])
def test_find_refs_table(text: str, expected: list[tuple[object, ...]]) -> None:
    """References are found with their kind, repository and closing keyword."""
    assert [(r.number, r.kind, r.repo, r.action) for r in find_refs(text)] == expected


REMOTES = [
    ("git@github.com:acme/app.git", "https://github.com", "acme/app", "github"),
    ("https://github.com/acme/app", "https://github.com", "acme/app", "github"),
    (
        "ssh://git@gitlab.example.com:2222/g/sub/app.git",
        "https://gitlab.example.com",
        "g/sub/app",
        "gitlab",
    ),
    ("https://user@bitbucket.org/o/r.git", "https://bitbucket.org", "o/r", "bitbucket"),
    ("https://codeberg.org/o/r.git", "https://codeberg.org", "o/r", "gitea"),
    ("http://gitea.local:3000/o/r.git", "http://gitea.local:3000", "o/r", "gitea"),
]


@pytest.mark.parametrize(("url", "base", "path", "style"), REMOTES)
def test_parse_remote(url: str, base: str, path: str, style: str) -> None:
    """ssh and https remotes of each forge give its base URL, path and link style."""
    assert parse_remote(url) == Forge(base, path, style)


@pytest.mark.parametrize("url", ["/srv/git/app.git", "file:///srv/git/app.git", "", None])
def test_parse_remote_local(url: str | None) -> None:
    """Local remotes have no web links."""
    assert parse_remote(url) is None


def test_parse_remote_forced_style() -> None:
    """link_style overrides the guess for self-hosted forges."""
    assert parse_remote("git@git.corp:team/app.git", "gitlab").style == "gitlab"


@pytest.mark.parametrize(
    ("style", "issue", "pull", "commit", "compare"),
    [
        ("github", "/issues/1", "/pull/2", "/commit/abc", "/compare/v1...v2"),
        ("gitlab", "/-/issues/1", "/-/merge_requests/2", "/-/commit/abc", "/-/compare/v1...v2"),
        ("gitea", "/issues/1", "/pulls/2", "/commit/abc", "/compare/v1...v2"),
        ("bitbucket", "/issues/1", "/pull-requests/2", "/commits/abc", "/branches/compare/v2%0Dv1"),
    ],
)
def test_forge_links(style: str, issue: str, pull: str, commit: str, compare: str) -> None:
    """Each forge style spells issue, pull, commit and compare links its own way."""
    forge = Forge("https://h", "o/r", style)
    assert forge.issue_url(1) == f"https://h/o/r{issue}"
    assert forge.issue_url(2, "pull") == f"https://h/o/r{pull}"
    assert forge.commit_url("abc") == f"https://h/o/r{commit}"
    assert forge.compare_url("v1", "v2") == f"https://h/o/r{compare}"
