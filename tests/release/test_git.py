"""The git seam: commands, streaming log reader, tags, identities."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from castoff.errors import GitError, NotAGitRepository, NotFound
from castoff.release import git
from castoff.release.model import Person


def test_run_git_returns_stdout(repo) -> None:
    """run_git returns stdout without the final newline."""
    assert git.run_git(repo.path, "rev-parse", "--is-inside-work-tree") == "true"


def test_not_a_repository(tmp_path: Path) -> None:
    """A plain directory raises NotAGitRepository."""
    with pytest.raises(NotAGitRepository):
        git.repo_root(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    """A path that does not exist raises NotAGitRepository."""
    with pytest.raises(NotAGitRepository):
        git.repo_root(tmp_path / "nope")


def test_repo_root_from_subdirectory(repo) -> None:
    """repo_root finds the top of the work tree from a subdirectory."""
    sub = repo.path / "a" / "b"
    sub.mkdir(parents=True)
    assert git.repo_root(sub) == repo.path.resolve()


def test_unknown_ref(repo) -> None:
    """An unknown ref raises NotFound."""
    repo.commit("feat: one")
    with pytest.raises(NotFound, match="nope"):
        git.resolve_ref(repo.path, "nope")


def test_option_like_ref_is_refused(repo) -> None:
    """A ref that looks like an option is never passed to git as one."""
    repo.commit("feat: one")
    with pytest.raises(NotFound):
        list(git.iter_commits(repo.path, "-p"))


def test_git_error_is_one_line(repo) -> None:
    """A failing command raises GitError with one line."""
    with pytest.raises(GitError) as info:
        git.run_git(repo.path, "no-such-command")
    assert "\n" not in str(info.value)


def test_iter_commits_streams_newest_first(repo) -> None:
    """iter_commits yields parsed commits newest first with parents and authors."""
    first = repo.commit("feat: one", author="Ann <ann@example.com>")
    second = repo.commit("fix(core): two\n\nbody line\n\nCloses #3")
    commits = list(git.iter_commits(repo.path, "HEAD"))
    assert [c.sha for c in commits] == [second, first]
    assert commits[0].subject == "fix(core): two"
    assert commits[0].body == "body line\n\nCloses #3"
    assert commits[0].parents == (first,)
    assert commits[1].parents == ()
    assert commits[1].author == Person("Ann", "ann@example.com")


def test_iter_commits_range(repo) -> None:
    """A range A..B excludes A and its ancestors."""
    first = repo.commit("feat: one")
    repo.commit("feat: two")
    assert [c.subject for c in git.iter_commits(repo.path, f"{first}..HEAD")] == ["feat: two"]


def test_iter_commits_empty_message(repo) -> None:
    """A commit with an empty message parses with an empty subject."""
    repo.write("f.txt", "x")
    repo.git("add", "f.txt")
    repo.git("commit", "-q", "--allow-empty-message", "-m", "")
    (commit,) = git.iter_commits(repo.path, "HEAD")
    assert commit.subject == ""
    assert commit.body == ""


def test_iter_commits_non_utf8(repo) -> None:
    """Bytes that are not UTF-8 are replaced, not crashed on."""
    repo.write("f.txt", "x")
    repo.git("add", "f.txt")
    msg = repo.path / "msg"
    msg.write_bytes(b"fix: caf\xe9 \xff\xfe\n")
    repo.git("-c", "i18n.commitEncoding=UTF-8", "commit", "-q", "-F", str(msg))
    (commit,) = git.iter_commits(repo.path, "HEAD")
    assert commit.subject.startswith("fix: caf")


def test_iter_commits_merge(repo) -> None:
    """A merge commit has two parents."""
    repo.commit("feat: base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("feat: topic", {"t.txt": "t"})
    repo.git("checkout", "-q", "main")
    repo.commit("fix: main", {"m.txt": "m"})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
    merge = next(git.iter_commits(repo.path, "HEAD"))
    assert merge.is_merge


def test_iter_commits_huge_message(repo) -> None:
    """A multi-megabyte message streams through intact."""
    msg = repo.path.parent / "msg"
    msg.write_text("feat: big\n\n" + "x" * 3_000_000 + "\n")
    repo.git("commit", "-q", "--allow-empty", "-F", str(msg))
    (commit,) = git.iter_commits(repo.path, "HEAD")
    assert len(commit.body) == 3_000_000


@pytest.mark.parametrize("pipe", ["", "1"])
def test_huge_message_read_in_linear_time(repo, monkeypatch: pytest.MonkeyPatch, pipe: str) -> None:
    """A message spanning thousands of reads is joined once, not re-scanned on every read."""
    msg = repo.path.parent / "msg"
    msg.write_text("feat: big\n\n" + ("y" * 99 + "\n") * 160_000 + "\nCloses #5\n")
    repo.git("commit", "-q", "--allow-empty", "-F", str(msg))
    repo.commit("fix: after")
    monkeypatch.setenv("CASTOFF_GIT_PIPE", pipe)
    monkeypatch.setattr(git, "_CHUNK", 1024)  # 8,000 reads: quadratic re-scanning takes minutes
    started = time.perf_counter()
    after, big = git.iter_commit_fields(repo.path, "HEAD")
    assert time.perf_counter() - started < 3
    assert after[5:] == ("fix: after", "")
    assert big[5] == "feat: big"
    assert len(big[6]) == 16_000_000 + len("\nCloses #5")
    assert [c.body for c in git.iter_commits(repo.path, "HEAD")] == [after[6], big[6]]


@pytest.mark.parametrize(
    "record",
    [
        "s\np\nn\ne\n1\nfeat: x",
        "\n\ns\np q\nn\ne\n1\n\n\n  feat: x  \n\n\nbody\n\nmore  \n \n\n",
        "s\n\nn\ne\n1\n",
        "s\np\nn\ne\n1\n  \nfoo\n",
        "s\np\nn\ne\n1\nsubject\n   \n\t\n",
    ],
)
def test_split_huge_matches_split_record(record: str) -> None:
    """The copy-sparing split of huge records gives the usual fields."""
    assert git._split_huge(record) == git.split_record(record.lstrip("\n"))


def test_iter_commits_stopped_early(repo) -> None:
    """Abandoning the stream kills git without error."""
    for i in range(3):
        repo.commit(f"feat: {i}")
    stream = git.iter_commits(repo.path, "HEAD")
    assert next(stream).subject == "feat: 2"
    stream.close()


def test_list_tags_sorted_by_version(repo) -> None:
    """Tags are sorted by version, not name; other tags are skipped."""
    repo.commit("feat: one")
    for name in ("v1.10.0", "v1.2.0", "v1.2.0-rc.1", "other", "vbad"):
        repo.tag(name)
    assert [t.name for t in git.list_tags(repo.path, "v{version}")] == [
        "v1.2.0-rc.1",
        "v1.2.0",
        "v1.10.0",
    ]


def test_list_tags_custom_format(repo) -> None:
    """A tag format with a prefix and suffix captures the version."""
    sha = repo.commit("feat: one")
    repo.git("tag", "pkg-2.0.0-final")
    (tag,) = git.list_tags(repo.path, "pkg-{version}-final")
    assert (tag.version, tag.sha) == ("2.0.0", sha)


def test_latest_release_tag_skips_prereleases(repo) -> None:
    """The latest tag ignores prereleases unless asked for."""
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("feat: two")
    repo.tag("v1.1.0-rc.1")
    assert git.latest_release_tag(repo.path, "v{version}").name == "v1.0.0"
    latest = git.latest_release_tag(repo.path, "v{version}", include_prereleases=True)
    assert latest.name == "v1.1.0-rc.1"


def test_latest_release_tag_reachable_only(repo) -> None:
    """Tags on other branches are not the latest release of HEAD."""
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("feat: side")
    repo.tag("v2.0.0")
    repo.git("checkout", "-q", "main")
    assert git.latest_release_tag(repo.path, "v{version}").name == "v1.0.0"


def test_latest_release_tag_none(repo) -> None:
    """Without tags there is no latest release."""
    repo.commit("feat: one")
    assert git.latest_release_tag(repo.path, "v{version}") is None


def test_tag_sha_peels_annotated_tags(repo) -> None:
    """tag_sha returns the commit of an annotated tag, None for a missing tag."""
    sha = repo.commit("feat: one")
    repo.tag("v1.0.0")
    assert git.tag_sha(repo.path, "v1.0.0") == sha
    assert git.tag_sha(repo.path, "v9.9.9") is None


def test_status_and_branch(repo) -> None:
    """is_clean, current_branch and head_sha describe the work tree."""
    sha = repo.commit("feat: one")
    assert git.is_clean(repo.path)
    assert git.current_branch(repo.path) == "main"
    assert git.head_sha(repo.path) == sha
    repo.write("new.txt", "x")
    assert git.status_porcelain(repo.path) == ["?? new.txt"]
    repo.git("checkout", "-q", "--detach")
    assert git.current_branch(repo.path) is None


def test_remote_url_and_shallow(repo) -> None:
    """remote_url reads origin; a normal clone is not shallow."""
    repo.commit("feat: one")
    assert git.remote_url(repo.path) is None
    repo.git("remote", "add", "origin", "git@github.com:acme/app.git")
    assert git.remote_url(repo.path) == "git@github.com:acme/app.git"
    assert not git.is_shallow(repo.path)


def test_check_mailmap(repo) -> None:
    """check_mailmap maps identities through .mailmap."""
    repo.write(".mailmap", "Ann Lee <ann@example.com> <ann@old.example.com>\n")
    repo.commit("chore: mailmap")
    old = Person("ann", "ann@old.example.com")
    other = Person("Bob", "bob@example.com")
    mapped = git.check_mailmap(repo.path, [old, other])
    assert mapped[old] == Person("Ann Lee", "ann@example.com")
    assert mapped[other] == other


def test_count_and_has_commits(repo) -> None:
    """count_commits counts a range; has_commits is False in an empty repository."""
    assert not git.has_commits(repo.path)
    repo.commit("feat: one")
    repo.commit("feat: two")
    assert git.has_commits(repo.path)
    assert git.count_commits(repo.path, "HEAD") == 2


def test_pipe_and_spool_read_the_same(repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading git log through a pipe gives what the tmpfs spool gives."""
    for i in range(30):
        repo.commit(f"feat: change {i}\n\nbody {i}")
    spooled = list(git.iter_commits(repo.path, "HEAD"))
    monkeypatch.setenv("CASTOFF_GIT_PIPE", "1")
    assert list(git.iter_commits(repo.path, "HEAD")) == spooled
    assert len(spooled) == 30


def test_log_error_is_reported(repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing git log raises with git's reason, through either reader."""
    repo.commit("feat: one")
    for pipe in ("", "1"):
        monkeypatch.setenv("CASTOFF_GIT_PIPE", pipe)
        with pytest.raises(NotFound):
            list(git.iter_commits(repo.path, "no-such-ref"))
