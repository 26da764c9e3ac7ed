"""release.next_version and release.tagging: next version from real git history;
idempotent files → commit → tag → push."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from castoff.config import Config
from castoff.errors import DirtyWorkingTree, TagConflict, UsageError
from castoff.release import next_version, tagging
from castoff.release.version import version_settings

PYPROJECT = '[project]\nname = "demo"\nversion = "{v}"  # the version\n'


def cfg(repo: Any, **data: Any) -> Config:
    return Config(root=repo.path, data={"version_files": ["pyproject.toml"], **data})


def released(repo: Any, version: str = "1.0.0") -> None:
    """A repository with one release of ``version`` tagged v<version>."""
    repo.commit("feat: start", {"pyproject.toml": PYPROJECT.format(v=version)})
    repo.tag(f"v{version}")


def tags(repo: Any) -> list[str]:
    return repo.git("tag", "--list").split()


def count(repo: Any) -> int:
    return int(repo.git("rev-list", "--count", "HEAD"))


def test_next_from_commits_since_tag(repo: Any) -> None:
    """feat + fix since v1.0.0 → 1.1.0, reasons name the feat."""
    released(repo)
    repo.commit("fix: a bug")
    sha = repo.commit("feat(api): a feature")
    nxt = next_version.compute_next(repo.path, cfg(repo))
    assert (nxt.current, nxt.next, nxt.bump, nxt.tag) == ("1.0.0", "1.1.0", "minor", "v1.1.0")
    assert [c.sha for c in nxt.reasons] == [sha]
    assert nxt.commit_count == 2


def test_next_nothing_releasable(repo: Any) -> None:
    """Only chores since the tag → no_release with a message."""
    released(repo)
    repo.commit("chore: tidy")
    nxt = next_version.compute_next(repo.path, cfg(repo))
    assert nxt.no_release
    assert nxt.next is None
    assert nxt.message == "no releasable change since v1.0.0"


def test_nothing_releasable_says_where_it_looked(repo: Any) -> None:
    """No tag yet: the whole history was read; no commits at all: said so."""
    assert next_version.compute_next(repo.path, cfg(repo)).message == (
        "the repository has no commits yet"
    )
    repo.commit("chore: init", {"pyproject.toml": PYPROJECT.format(v="0.1.0")})
    nxt = next_version.compute_next(repo.path, cfg(repo))
    assert nxt.no_release
    assert nxt.message == "no releasable change since the first commit (no release tag yet)"


def test_next_uses_latest_reachable_tag_only(repo: Any) -> None:
    """A higher tag on another branch is ignored."""
    released(repo)
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("feat: side")
    repo.tag("v5.0.0")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: main")
    assert next_version.compute_next(repo.path, cfg(repo)).next == "1.0.1"


def test_next_warns_when_files_disagree_with_tag(repo: Any) -> None:
    """Version files saying another version than the tag are reported."""
    released(repo)
    repo.commit("fix: x", {"pyproject.toml": PYPROJECT.format(v="0.9.0")})
    nxt = next_version.compute_next(repo.path, cfg(repo))
    assert any("0.9.0" in w and "v1.0.0" in w for w in nxt.warnings)


def test_next_without_tags_starts_from_version_files(repo: Any) -> None:
    """No tag yet: the version files' version is current (commitizen's habit)."""
    repo.commit("feat: start", {"pyproject.toml": PYPROJECT.format(v="0.1.0")})
    nxt = next_version.compute_next(repo.path, cfg(repo))
    assert (nxt.current, nxt.next) == ("0.1.0", "0.2.0")


def test_prerelease_counter_grows_across_real_tags(repo: Any) -> None:
    """v1.1.0-rc.1 tagged → the next --prerelease rc is 1.1.0-rc.2, then final 1.1.0."""
    released(repo)
    repo.commit("feat: x")
    repo.tag("v1.1.0-rc.1")
    repo.commit("fix: y")
    config = cfg(repo)
    assert next_version.compute_next(repo.path, config, prerelease="rc").next == "1.1.0-rc.2"
    assert next_version.compute_next(repo.path, config).next == "1.1.0"


def test_pep440_prerelease_across_real_tags(repo: Any) -> None:
    """PEP 440: v1.1.0rc1 → 1.1.0rc2."""
    released(repo)
    repo.commit("feat: x")
    repo.tag("v1.1.0rc1")
    repo.commit("fix: y")
    config = cfg(repo, version_scheme="pep440")
    assert next_version.compute_next(repo.path, config, prerelease="rc").next == "1.1.0rc2"


# -- applying ------------------------------------------------------------------


def release(repo: Any, config: Config, **kw: Any) -> tagging.TagResult:
    nxt = next_version.compute_next(repo.path, config)
    return tagging.apply_release(repo.path, config, nxt, "Release notes\n\n## Features\n", **kw)


def test_apply_writes_commits_and_tags(repo: Any) -> None:
    """Files updated, one release commit, an annotated tag whose message is the notes."""
    released(repo)
    repo.commit("feat: x")
    before = count(repo)
    result = release(repo, cfg(repo))
    assert result.status == "tagged"
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="1.1.0")
    assert count(repo) == before + 1
    assert repo.git("log", "-1", "--format=%s") == "chore(release): 1.1.0"
    assert repo.git("cat-file", "-t", "v1.1.0") == "tag"
    assert "## Features" in repo.git("tag", "-l", "--format=%(contents)", "v1.1.0")
    assert repo.git("rev-parse", "v1.1.0^{commit}") == repo.head()


def test_dry_run_changes_nothing(repo: Any) -> None:
    """--dry-run returns diffs and writes nothing."""
    released(repo)
    repo.commit("feat: x")
    head = repo.head()
    result = release(repo, cfg(repo), dry_run=True)
    assert result.status == "dry run"
    assert '+version = "1.1.0"' in result.files[0].diff()
    assert (repo.head(), tags(repo)) == (head, ["v1.0.0"])
    assert repo.git("status", "--porcelain") == ""


def test_already_tagged_is_success(repo: Any) -> None:
    """Re-applying the same release reports 'already tagged' and adds nothing."""
    released(repo)
    repo.commit("feat: x")
    config = cfg(repo)
    nxt = next_version.compute_next(repo.path, config)
    tagging.apply_release(repo.path, config, nxt, "notes")
    head = repo.head()
    again = tagging.apply_release(repo.path, config, nxt, "notes")
    assert again.status == "already tagged"
    assert (repo.head(), len(tags(repo))) == (head, 2)


def test_tag_on_another_commit_is_a_conflict(repo: Any) -> None:
    """An existing tag elsewhere → TagConflict (exit 3) and nothing changes."""
    released(repo)
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("fix: elsewhere")
    repo.tag("v1.1.0")
    repo.git("checkout", "-q", "main")
    repo.commit("feat: x")
    config = cfg(repo)
    nxt = next_version.compute_next(repo.path, config)
    head = repo.head()
    with pytest.raises(TagConflict) as info:
        tagging.apply_release(repo.path, config, nxt, "notes")
    assert info.value.exit_code == 3
    assert (repo.head(), repo.git("status", "--porcelain")) == (head, "")


def test_crash_after_files_then_rerun(repo: Any) -> None:
    """Files written, no commit: the re-run commits and tags once."""
    released(repo)
    repo.commit("feat: x")
    config = cfg(repo)
    nxt = next_version.compute_next(repo.path, config)
    s = version_settings(config)
    tagging.write_files(repo.path, tagging.plan_files(repo.path, s, nxt, None))
    before = count(repo)
    result = release(repo, config)
    assert (result.version, count(repo), tags(repo)) == ("1.1.0", before + 1, ["v1.0.0", "v1.1.0"])
    assert repo.git("status", "--porcelain") == ""


def test_crash_after_commit_then_rerun(repo: Any) -> None:
    """Commit made, no tag: the re-run tags that commit without a second commit."""
    released(repo)
    repo.commit("feat: x")
    config = cfg(repo)
    nxt = next_version.compute_next(repo.path, config)
    s = version_settings(config)
    files = tagging.plan_files(repo.path, s, nxt, None)
    tagging.write_files(repo.path, files)
    tagging.make_commit(repo.path, s, nxt, files)
    release_commit = repo.head()
    result = release(repo, config)
    assert result.steps == ("files", "tag")
    assert repo.head() == release_commit
    assert repo.git("rev-parse", "v1.1.0^{commit}") == release_commit
    assert repo.git("log", "--format=%s").count("chore(release)") == 1


def test_crash_after_tag_then_push(repo: Any, tmp_path: Path) -> None:
    """Tagged, not pushed: version tag --push on the tagged HEAD pushes it (no new tag)."""
    bare = bare_origin(repo, tmp_path)
    released(repo)
    repo.commit("feat: x")
    config = cfg(repo)
    release(repo, config)
    nxt = next_version.compute_next(repo.path, config)
    assert nxt.no_release
    assert nxt.head_tagged
    tagging.push_release(repo.path, version_settings(config), str(nxt.previous_tag))
    assert "v1.1.0" in git_in(bare, "tag", "--list")


def bare_origin(repo: Any, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    return bare


def git_in(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_push_sends_branch_and_tag(repo: Any, tmp_path: Path) -> None:
    """--push puts the release commit and the tag on the bare origin."""
    bare = bare_origin(repo, tmp_path)
    released(repo)
    repo.commit("feat: x")
    result = release(repo, cfg(repo), push=True)
    assert result.pushed
    assert git_in(bare, "rev-parse", "refs/heads/main") == repo.head()
    assert git_in(bare, "rev-parse", "v1.1.0^{commit}") == repo.head()


def test_push_is_atomic_when_branch_is_rejected(repo: Any, tmp_path: Path, make_repo: Any) -> None:
    """If origin's branch moved, neither branch nor tag is pushed."""
    bare = bare_origin(repo, tmp_path)
    released(repo)
    repo.git("push", "-q", "origin", "main")
    other = make_repo("other")
    other.git("remote", "add", "origin", str(bare))
    other.git("fetch", "-q", "origin")
    other.git("reset", "-q", "--hard", "origin/main")
    other.commit("fix: elsewhere")
    other.git("push", "-q", "origin", "main")
    repo.commit("feat: x")
    with pytest.raises(Exception, match="push"):
        release(repo, cfg(repo), push=True)
    assert "v1.1.0" not in git_in(bare, "tag", "--list")


def test_dirty_tree_is_refused(repo: Any) -> None:
    """Uncommitted changes to other files → DirtyWorkingTree."""
    released(repo)
    repo.commit("feat: x")
    repo.write("notes.txt", "wip")
    with pytest.raises(DirtyWorkingTree):
        release(repo, cfg(repo))


def test_dirty_version_file_is_allowed(repo: Any) -> None:
    """A modified version file (ours) does not block the release."""
    released(repo)
    repo.commit("feat: x")
    repo.write("pyproject.toml", PYPROJECT.format(v="1.1.0"))
    assert release(repo, cfg(repo)).status == "tagged"


def test_detached_head_is_refused(repo: Any) -> None:
    """Detached HEAD → UsageError unless allow_detached."""
    released(repo)
    repo.commit("feat: x")
    repo.git("checkout", "-q", "--detach")
    with pytest.raises(UsageError, match="detached"):
        release(repo, cfg(repo))
    assert release(repo, cfg(repo, version={"allow_detached": True})).status == "tagged"


def test_non_release_branch_is_refused(repo: Any) -> None:
    """A branch outside release_branches → UsageError."""
    released(repo)
    repo.git("checkout", "-q", "-b", "feature/x")
    repo.commit("feat: x")
    with pytest.raises(UsageError, match="not a release branch"):
        release(repo, cfg(repo))


def test_release_branch_globs(repo: Any) -> None:
    """release_branches accepts globs such as release/*."""
    released(repo)
    repo.git("checkout", "-q", "-b", "release/1.x")
    repo.commit("fix: x")
    assert release(repo, cfg(repo, release_branches=["release/*"])).status == "tagged"


def test_no_commit_when_disabled(repo: Any) -> None:
    """commit = false: no release commit and no version files; the tag lands on HEAD."""
    released(repo)
    sha = repo.commit("feat: x")
    config = Config(root=repo.path, data={"version": {"commit": False}})
    assert release(repo, config).commit == sha
    assert repo.git("rev-parse", "v1.1.0^{commit}") == sha


def test_changelog_is_committed_with_the_release(repo: Any) -> None:
    """The changelog transform's output is written and in the release commit."""
    released(repo)
    repo.commit("feat: x")
    config = cfg(repo)
    nxt = next_version.compute_next(repo.path, config)

    def add_section(text: str) -> str:
        return text if "## 1.1.0" in text else "## 1.1.0\n\n" + text

    tagging.apply_release(repo.path, config, nxt, "n", changelog=add_section)
    assert (repo.path / "CHANGELOG.md").read_text() == "## 1.1.0\n\n"
    assert "CHANGELOG.md" in repo.git("show", "--name-only", "--format=", "HEAD")


# -- monorepo ---------------------------------------------------------------------


def monorepo_config(repo: Any) -> Config:
    return Config(
        root=repo.path,
        data={
            "version": {
                "packages": {
                    "pkg-a": {"path": "packages/a", "version_files": ["pyproject.toml"]},
                    "pkg-b": {"path": "packages/b", "version_files": ["pyproject.toml"]},
                }
            }
        },
    )


def test_monorepo_commits_drive_their_package(repo: Any) -> None:
    """A feat in packages/a bumps pkg-a only; tags carry the package prefix."""
    repo.commit(
        "chore: init",
        {
            "packages/a/pyproject.toml": PYPROJECT.format(v="1.0.0"),
            "packages/b/pyproject.toml": PYPROJECT.format(v="2.0.0"),
        },
    )
    repo.tag("pkg-a-v1.0.0")
    repo.tag("pkg-b-v2.0.0")
    repo.commit("feat: a thing", {"packages/a/x.py": "x = 1\n"})
    repo.commit("fix: b thing", {"packages/b/y.py": "y = 1\n"})
    config = monorepo_config(repo)
    a = next_version.compute_next(repo.path, config, package="pkg-a")
    b = next_version.compute_next(repo.path, config, package="pkg-b")
    assert (a.next, a.tag, b.next, b.tag) == ("1.1.0", "pkg-a-v1.1.0", "2.0.1", "pkg-b-v2.0.1")
    tagging.apply_release(repo.path, config, a, "notes")
    assert (repo.path / "packages/a/pyproject.toml").read_text() == PYPROJECT.format(v="1.1.0")
    assert (repo.path / "packages/b/pyproject.toml").read_text() == PYPROJECT.format(v="2.0.0")


def test_monorepo_needs_a_package(repo: Any) -> None:
    """Without --package in a monorepo, a UsageError lists the packages."""
    repo.commit("chore: init")
    with pytest.raises(UsageError, match="pkg-a, pkg-b"):
        next_version.compute_next(repo.path, monorepo_config(repo))


# -- version files not configured -----------------------------------------------------


def test_unconfigured_version_files_are_the_manifests_that_declare_a_version(
    repo: Any,
) -> None:
    """No version_files: pyproject.toml and package.json (which name a version) are
    released; a pyproject.toml with a dynamic version and a package.json without
    one are left alone, and nothing is refused."""
    repo.commit(
        "feat: start",
        {
            "pyproject.toml": PYPROJECT.format(v="1.0.0"),
            "package.json": '{\n  "name": "demo",\n  "version": "1.0.0"\n}\n',
        },
    )
    repo.tag("v1.0.0")
    repo.commit("feat: more")
    config = Config(root=repo.path, data={})
    assert version_settings(config).version_files == ("pyproject.toml", "package.json")
    result = release(repo, config)
    assert result.status == "tagged"
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="1.1.0")
    assert '"version": "1.1.0"' in (repo.path / "package.json").read_text()
    changed = repo.git("show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == ["package.json", "pyproject.toml"]


def test_unconfigured_version_files_skip_dynamic_and_versionless_manifests(repo: Any) -> None:
    """A dynamic version (e.g. setuptools-scm) and a package.json without a version are
    no version files: nothing to update, nothing refused."""
    dynamic = '[project]\nname = "demo"\ndynamic = ["version"]\n'
    repo.commit("feat: start", {"pyproject.toml": dynamic, "package.json": '{"private": true}\n'})
    repo.tag("v1.0.0")
    repo.commit("fix: a bug")
    config = Config(root=repo.path, data={})
    assert version_settings(config).version_files == ()
    assert release(repo, config).status == "tagged"
    assert (repo.path / "pyproject.toml").read_text() == dynamic


def test_configured_empty_version_files_and_tag_only_detect_nothing(repo: Any) -> None:
    """``version_files = []`` means none; ``commit = false`` (tag only) detects none."""
    released(repo)
    repo.commit("fix: a bug")
    assert version_settings(Config(repo.path, {"version_files": []})).version_files == ()
    tag_only = Config(repo.path, {"version": {"commit": False}})
    assert version_settings(tag_only).version_files == ()
    assert release(repo, tag_only).status == "tagged"
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="1.0.0")


def test_a_package_without_version_files_keeps_its_own_manifest_in_step(repo: Any) -> None:
    """In a monorepo, an unconfigured package's manifests are found in its directory."""
    repo.commit(
        "chore: init",
        {
            "pyproject.toml": PYPROJECT.format(v="9.9.9"),
            "packages/a/pyproject.toml": PYPROJECT.format(v="1.0.0"),
        },
    )
    repo.tag("pkg-a-v1.0.0")
    repo.commit("feat: a thing", {"packages/a/x.py": "x = 1\n"})
    config = Config(
        root=repo.path, data={"version": {"packages": {"pkg-a": {"path": "packages/a"}}}}
    )
    assert version_settings(config, "pkg-a").version_files == ("packages/a/pyproject.toml",)
    nxt = next_version.compute_next(repo.path, config, package="pkg-a")
    tagging.apply_release(repo.path, config, nxt, "notes")
    assert (repo.path / "packages/a/pyproject.toml").read_text() == PYPROJECT.format(v="1.1.0")
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="9.9.9")


# -- version files sharing a file ---------------------------------------------------

CZ_BOTH = '[project]\nname = "demo"\nversion = "{v}"\n\n[tool.commitizen]\nversion = "{v}"\n'


def test_two_entries_of_one_file_are_both_released(repo: Any) -> None:
    """pyproject.toml and pyproject.toml:tool.commitizen.version: both keys move, one commit."""
    repo.commit("feat: start", {"pyproject.toml": CZ_BOTH.format(v="1.0.0")})
    repo.tag("v1.0.0")
    repo.commit("feat: x")
    config = cfg(repo, version_files=["pyproject.toml", "pyproject.toml:tool.commitizen.version"])
    result = release(repo, config)
    assert [f.path for f in result.files] == ["pyproject.toml"]
    assert (repo.path / "pyproject.toml").read_text() == CZ_BOTH.format(v="1.1.0")
    assert repo.git("show", "HEAD:pyproject.toml") == CZ_BOTH.format(v="1.1.0").strip()
    assert repo.git("status", "--porcelain") == ""


def test_disagreeing_entries_of_one_file_are_named_by_key(repo: Any) -> None:
    """The consistency warning names the keys, not the same file twice."""
    text = '[project]\nname = "demo"\nversion = "1.0.0"\n\n[tool.commitizen]\nversion = "0.9.0"\n'
    repo.commit("feat: start", {"pyproject.toml": text})
    config = cfg(repo, version_files=["pyproject.toml", "pyproject.toml:tool.commitizen.version"])
    nxt = next_version.compute_next(repo.path, config)
    assert (
        "pyproject.toml (tool.commitizen.version) says 0.9.0 but "
        "pyproject.toml (project.version) says 1.0.0" in nxt.warnings
    )


def test_byte_order_mark_in_pyproject(repo: Any) -> None:
    """A pyproject.toml starting with a BOM is read (config too) and keeps its BOM."""
    castoff = '\n[tool.castoff]\nversion_files = ["pyproject.toml"]\n'
    text = "\ufeff" + PYPROJECT.format(v="1.0.0") + castoff
    repo.commit("feat: start", {"pyproject.toml": text})
    repo.tag("v1.0.0")
    repo.commit("fix: x")
    from castoff.config import load_config

    config = load_config(repo.path)
    assert config.version_files == ["pyproject.toml"]
    assert release(repo, config).status == "tagged"
    raw = (repo.path / "pyproject.toml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf[project]")
    assert b'version = "1.0.1"' in raw


# -- an interrupted first release -----------------------------------------------------


def crash_before(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Make the next ``git <command>`` castoff runs die like a killed process."""
    from castoff.release import git

    real = git.run_git

    def dying(repo: Path, *args: str, **kw: Any) -> str:
        if args and args[0] == command:
            raise KeyboardInterrupt(f"killed before git {command}")
        return real(repo, *args, **kw)

    monkeypatch.setattr(git, "run_git", dying)


def full_release(repo: Any, config: Config, **kw: Any) -> tagging.TagResult:
    """What `castoff version tag --yes` does: next, notes + CHANGELOG, apply."""
    nxt = next_version.compute_next(repo.path, config, **kw)
    text, changelog = tagging.release_notes_text(repo.path, config, nxt)
    return tagging.apply_release(repo.path, config, nxt, text, changelog=changelog)


def untagged(repo: Any) -> Config:
    """A project never released: pyproject says 1.0.0, a feat since."""
    repo.commit("chore: init", {"pyproject.toml": PYPROJECT.format(v="1.0.0")})
    repo.commit("feat: first feature")
    return cfg(repo)


def assert_released_once(repo: Any, version: str) -> None:
    assert tags(repo) == [f"v{version}"]
    assert repo.git("log", "--format=%s").count("chore(release)") == 1
    assert repo.git("rev-parse", f"v{version}^{{commit}}") == repo.head()
    changelog = (repo.path / "CHANGELOG.md").read_text()
    assert [line for line in changelog.splitlines() if line.startswith("## ")] == [
        line for line in changelog.splitlines() if line.startswith(f"## [{version}]")
    ]
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v=version)
    assert repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize("stage", ["commit", "tag"])
def test_interrupted_first_release_is_finished_not_bumped(
    repo: Any, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """Killed before the commit / the tag of a first release: the re-run tags the planned 1.1.0."""
    config = untagged(repo)
    with monkeypatch.context() as m:
        crash_before(m, stage)
        with pytest.raises(KeyboardInterrupt):
            full_release(repo, config)
    assert tags(repo) == []
    nxt = next_version.compute_next(repo.path, config)
    assert (nxt.current, nxt.next) == ("1.0.0", "1.1.0")
    assert "interrupted" in nxt.message
    result = full_release(repo, config)
    assert (result.status, result.tag) == ("tagged", "v1.1.0")
    assert_released_once(repo, "1.1.0")
    assert not (repo.path / ".castoff/pending-release.json").exists()
    assert next_version.compute_next(repo.path, config).no_release


def test_interrupted_manual_version_is_finished(repo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """--version 3.0.0 killed before the commit: a plain re-run finishes 3.0.0."""
    config = untagged(repo)
    with monkeypatch.context() as m:
        crash_before(m, "commit")
        with pytest.raises(KeyboardInterrupt):
            full_release(repo, config, version="3.0.0")
    assert next_version.compute_next(repo.path, config).next == "3.0.0"
    assert full_release(repo, config).tag == "v3.0.0"
    assert_released_once(repo, "3.0.0")


def test_interrupted_release_refuses_another_version(
    repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking for another version while one is half-written is a conflict (exit 3)."""
    from castoff.errors import ConflictError

    config = untagged(repo)
    with monkeypatch.context() as m:
        crash_before(m, "commit")
        with pytest.raises(KeyboardInterrupt):
            full_release(repo, config)
    with pytest.raises(ConflictError, match="not finished") as info:
        next_version.compute_next(repo.path, config, bump="major")
    assert info.value.exit_code == 3


def test_release_commit_is_recognised_without_the_record(
    repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before the tag and .castoff/ gone: HEAD's message names it the 1.1.0 commit."""
    import shutil

    config = untagged(repo)
    with monkeypatch.context() as m:
        crash_before(m, "tag")
        with pytest.raises(KeyboardInterrupt):
            full_release(repo, config)
    shutil.rmtree(repo.path / ".castoff")
    nxt = next_version.compute_next(repo.path, config)
    assert (nxt.current, nxt.next) == ("1.0.0", "1.1.0")
    full_release(repo, config)
    assert_released_once(repo, "1.1.0")


def test_stale_record_is_ignored_once_head_moved(
    repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record left behind, then new commits on a restored tree: computed afresh."""
    config = untagged(repo)
    with monkeypatch.context() as m:
        crash_before(m, "commit")
        with pytest.raises(KeyboardInterrupt):
            full_release(repo, config)
    repo.git("checkout", "HEAD", "--", "pyproject.toml")
    (repo.path / "CHANGELOG.md").unlink()
    repo.commit("fix: later")
    assert next_version.compute_next(repo.path, config).next == "1.1.0"
    assert next_version.compute_next(repo.path, config, bump="major").next == "2.0.0"


# -- re-runs with --version / --bump ---------------------------------------------------


def test_same_version_again_is_already_tagged(repo: Any) -> None:
    """--version 1.2.0 a second time on its tagged HEAD: already tagged, not 'not greater'."""
    released(repo)
    repo.commit("fix: x")
    config = cfg(repo)
    assert full_release(repo, config, version="1.2.0").tag == "v1.2.0"
    again = next_version.compute_next(repo.path, config, version="1.2.0")
    assert (again.no_release, again.head_tagged, again.previous_tag) == (True, True, "v1.2.0")
    assert "already on HEAD" in again.message


def test_bump_again_has_nothing_to_release(repo: Any) -> None:
    """--bump minor a second time with no commits since its tag: nothing to release."""
    released(repo, "1.1.0")
    repo.commit("fix: x")
    config = cfg(repo)
    assert full_release(repo, config, bump="minor").tag == "v1.2.0"
    again = next_version.compute_next(repo.path, config, bump="minor")
    assert again.no_release
    assert "no commits since v1.2.0" in again.message
    assert tags(repo) == ["v1.1.0", "v1.2.0"]


def test_version_with_bump_or_prerelease_is_refused(repo: Any) -> None:
    """--version excludes --bump and --prerelease (exit 2), on every face."""
    from castoff.errors import VersionError

    released(repo)
    repo.commit("feat: x")
    with pytest.raises(VersionError, match="--prerelease and --version"):
        next_version.compute_next(repo.path, cfg(repo), version="2.0.0", prerelease="rc")
    with pytest.raises(VersionError, match="--bump and --version"):
        next_version.compute_next(repo.path, cfg(repo), version="2.0.0", bump="major")


# -- failures caught before anything is written ----------------------------------------


def test_push_without_remote_writes_nothing(repo: Any) -> None:
    """--push with no origin: refused before the files, the commit and the tag."""
    released(repo)
    repo.commit("feat: x")
    head = repo.head()
    with pytest.raises(UsageError, match="no git remote named 'origin'"):
        release(repo, cfg(repo), push=True)
    assert (repo.head(), tags(repo), repo.git("status", "--porcelain")) == (head, ["v1.0.0"], "")


def test_sign_without_key_writes_nothing(repo: Any) -> None:
    """sign = true and git cannot sign: refused before the commit."""
    released(repo)
    repo.commit("feat: x")
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(repo.path / "no-such-key"))
    head = repo.head()
    with pytest.raises(UsageError, match="cannot sign"):
        release(repo, cfg(repo, version={"sign": True}))
    assert (repo.head(), tags(repo), repo.git("status", "--porcelain")) == (head, ["v1.0.0"], "")


# -- where the first release starts ------------------------------------------------------


def test_initial_version_ignores_the_files_before_the_first_tag(repo: Any) -> None:
    """initial_version = "0.0.0": no tag → current 0.0.0, whatever the files say."""
    repo.commit("chore: init", {"pyproject.toml": PYPROJECT.format(v="0.5.0")})
    repo.commit("fix: x")
    config = cfg(repo, version={"initial_version": "0.0.0"})
    nxt = next_version.compute_next(repo.path, config)
    assert (nxt.current, nxt.next) == ("0.0.0", "0.0.1")


def test_first_release_without_zero_versions_is_one(repo: Any) -> None:
    """initial_version 0.0.0 and allow_zero_version false: 1.0.0, written over the files' 0.5.0."""
    repo.commit("chore: init", {"pyproject.toml": PYPROJECT.format(v="0.5.0")})
    repo.commit("fix: x")
    config = cfg(repo, version={"initial_version": "0.0.0", "allow_zero_version": False})
    assert release(repo, config).tag == "v1.0.0"
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="1.0.0")
    assert next_version.compute_next(repo.path, config).no_release


def test_bad_initial_version_is_a_config_error(repo: Any) -> None:
    """initial_version must be 'files' or a version: exit 2."""
    from castoff.errors import ConfigError

    repo.commit("chore: init")
    with pytest.raises(ConfigError, match="initial_version"):
        next_version.compute_next(repo.path, cfg(repo, version={"initial_version": "zero"}))


def test_monorepo_notes_and_changelog_hold_only_the_package(repo: Any) -> None:
    """pkg-a's tag message and CHANGELOG list pkg-a's commits, never pkg-b's."""
    repo.commit(
        "chore: init",
        {
            "packages/a/pyproject.toml": PYPROJECT.format(v="1.0.0"),
            "packages/b/pyproject.toml": PYPROJECT.format(v="2.0.0"),
        },
    )
    repo.tag("pkg-a-v1.0.0")
    repo.tag("pkg-b-v2.0.0")
    repo.commit("feat: alpha feature", {"packages/a/x.py": "x = 1\n"})
    repo.commit("fix: beta bug", {"packages/b/y.py": "y = 1\n"})
    config = monorepo_config(repo)
    nxt = next_version.compute_next(repo.path, config, package="pkg-a")
    text, changelog = tagging.release_notes_text(repo.path, config, nxt)
    tagging.apply_release(repo.path, config, nxt, text, changelog=changelog)
    message = repo.git("tag", "-l", "--format=%(contents)", "pkg-a-v1.1.0")
    assert "alpha feature" in message
    assert "beta bug" not in message
    section = (repo.path / "packages/a/CHANGELOG.md").read_text()
    assert "alpha feature" in section
    assert "beta bug" not in section


def test_crlf_changelog_keeps_its_line_endings(repo: Any) -> None:
    """A CRLF CHANGELOG gets a CRLF section; its existing bytes stay as they were."""
    old = b"# Changelog\r\n\r\n## [1.0.0] - 2024-01-01\r\n\r\n- first\r\n"
    released(repo)
    (repo.path / "CHANGELOG.md").write_bytes(old)
    repo.commit("feat: crlf friends", {"CHANGELOG.md": old.decode()})
    full_release(repo, cfg(repo))
    data = (repo.path / "CHANGELOG.md").read_bytes()
    assert data.endswith(old.split(b"\r\n\r\n", 1)[1])
    assert b"crlf friends" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
