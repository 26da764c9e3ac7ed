"""Pre-flight gates that need no build: git state, version files, changelog, commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.release.validate.model import CheckStatus
from castoff.release.validate.preflight import (
    check_branch,
    check_changelog,
    check_clean_tree,
    check_custom,
    check_tag_free,
    check_tests,
    check_upstream,
    check_version_files,
    run_preflight,
)
from castoff.release.validate.settings import CustomCheck, ValidateSettings


def test_clean_tree_passes_on_a_clean_repo(repo: Any) -> None:
    """A fresh commit leaves a clean tree."""
    repo.commit("feat: one")
    assert check_clean_tree(repo.path).status is CheckStatus.PASS


def test_clean_tree_fails_and_names_the_changes(repo: Any) -> None:
    """Modified and untracked files fail the check, listed by name."""
    repo.commit("feat: one", {"a.txt": "1\n"})
    repo.write("a.txt", "2\n")
    repo.write("new.txt", "x\n")
    outcome = check_clean_tree(repo.path)
    assert outcome.status is CheckStatus.FAIL
    assert "2 uncommitted change(s)" in outcome.message
    assert "new.txt" in outcome.message


def test_clean_tree_ignores_castoffs_own_state_dir(repo: Any) -> None:
    """.castoff/ (the session store) does not make the tree dirty."""
    repo.commit("feat: one")
    repo.write(".castoff/castoff.db", "x")
    assert check_clean_tree(repo.path).status is CheckStatus.PASS


def test_branch_outside_release_branches_fails(repo: Any) -> None:
    """A feature branch is not a release branch."""
    repo.commit("feat: one")
    repo.git("switch", "-q", "-c", "feature/x")
    outcome = check_branch(repo.path, ["main", "release/*"])
    assert outcome.status is CheckStatus.FAIL
    assert "feature/x" in outcome.message


def test_branch_patterns_are_allowed(repo: Any) -> None:
    """release/* matches release/1.x."""
    repo.commit("feat: one")
    repo.git("switch", "-q", "-c", "release/1.x")
    assert check_branch(repo.path, ["main", "release/*"]).status is CheckStatus.PASS


def test_detached_head_at_a_release_branch_tip_passes(repo: Any) -> None:
    """A CI-style detached checkout of main's tip is on the release branch."""
    repo.commit("feat: one")
    repo.git("checkout", "-q", "--detach", "HEAD")
    outcome = check_branch(repo.path, ["main"])
    assert outcome.status is CheckStatus.PASS
    assert "detached" in outcome.message


def test_upstream_is_skipped_without_one(repo: Any) -> None:
    """No upstream configured: nothing to compare, skipped."""
    repo.commit("feat: one")
    assert check_upstream(repo.path).status is CheckStatus.SKIPPED


def test_behind_upstream_fails(make_repo: Any) -> None:
    """A clone whose origin moved on (after a fetch) is behind."""
    origin = make_repo("origin")
    origin.commit("feat: one")
    clone_path = origin.path.parent / "clone"
    origin.git("clone", "-q", str(origin.path), str(clone_path))
    origin.commit("feat: two")
    origin.git("-C", str(clone_path), "fetch", "-q")
    outcome = check_upstream(clone_path)
    assert outcome.status is CheckStatus.FAIL
    assert "1 commit(s) behind origin/main" in outcome.message


def test_ahead_of_upstream_passes(make_repo: Any) -> None:
    """Local commits not yet pushed are fine (they ship with the release)."""
    origin = make_repo("origin")
    origin.commit("feat: one")
    clone_path = origin.path.parent / "clone"
    origin.git("clone", "-q", str(origin.path), str(clone_path))
    origin.git("-C", str(clone_path), "commit", "-q", "--allow-empty", "-m", "feat: local")
    outcome = check_upstream(clone_path)
    assert outcome.status is CheckStatus.PASS
    assert "1 commit(s) ahead" in outcome.message


def test_existing_tag_on_another_commit_fails(repo: Any) -> None:
    """The tag exists elsewhere: a conflict, not shippable."""
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("feat: two")
    outcome = check_tag_free(repo.path, "v1.0.0")
    assert outcome.status is CheckStatus.FAIL
    assert "already exists on commit" in outcome.message


def test_existing_tag_on_head_only_warns(repo: Any) -> None:
    """Re-validating an already-tagged HEAD is a warning."""
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    assert check_tag_free(repo.path, "v1.0.0").status is CheckStatus.WARN


def test_free_tag_passes(repo: Any) -> None:
    """A new tag name passes."""
    repo.commit("feat: one")
    assert check_tag_free(repo.path, "v2.0.0").status is CheckStatus.PASS


def test_version_files_agreeing_with_the_release_pass(tmp_path: Path) -> None:
    """pyproject.toml and __version__ both at 1.2.0 pass."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.0"\n')
    (tmp_path / "x.py").write_text('__version__ = "1.2.0"\n')
    outcome = check_version_files(tmp_path, ["pyproject.toml", "x.py"], "1.2.0")
    assert outcome.status is CheckStatus.PASS
    assert "2 version file(s)" in outcome.message


def test_a_lagging_version_file_fails_naming_it(tmp_path: Path) -> None:
    """One file still at the old version fails the check."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.0"\n')
    (tmp_path / "x.py").write_text('__version__ = "1.1.0"\n')
    outcome = check_version_files(tmp_path, ["pyproject.toml", "x.py"], "1.2.0")
    assert outcome.status is CheckStatus.FAIL
    assert "x.py says 1.1.0" in outcome.message


def test_version_files_compare_semver_and_pep440_spellings(tmp_path: Path) -> None:
    """1.2.0rc1 in pyproject matches the semver release 1.2.0-rc.1."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.0rc1"\n')
    assert check_version_files(tmp_path, [], "1.2.0-rc.1").status is CheckStatus.PASS


def test_no_version_file_is_skipped_with_a_hint(tmp_path: Path) -> None:
    """Nothing configured and nothing found: skipped, telling how to configure."""
    outcome = check_version_files(tmp_path, [], "1.0.0")
    assert outcome.status is CheckStatus.SKIPPED
    assert "version_files" in outcome.remediation


def test_changelog_entry_is_found(tmp_path: Path) -> None:
    """A '## [1.2.0] - date' heading counts; '1.2.01' does not."""
    log = tmp_path / "CHANGELOG.md"
    log.write_text("# Changelog\n\n## [1.2.0] - 2024-01-01\n\n- x\n")
    assert check_changelog(log, tmp_path, "1.2.0").status is CheckStatus.PASS
    log.write_text("# Changelog\n\n## 1.2.01\n")
    assert check_changelog(log, tmp_path, "1.2.0").status is CheckStatus.FAIL


def test_missing_changelog_fails_with_the_fix(tmp_path: Path) -> None:
    """No CHANGELOG.md: fail, pointing at castoff notes."""
    outcome = check_changelog(tmp_path / "CHANGELOG.md", tmp_path, "1.0.0")
    assert outcome.status is CheckStatus.FAIL
    assert "castoff notes" in outcome.remediation


def test_no_test_command_is_skipped_with_a_hint(tmp_path: Path) -> None:
    """Tests are skipped by default, saying how to configure them."""
    outcome = check_tests(tmp_path, ValidateSettings(), "1.0.0", "v1.0.0")
    assert outcome.status is CheckStatus.SKIPPED
    assert "test_command" in outcome.remediation


def test_failing_test_command_keeps_its_output(tmp_path: Path) -> None:
    """A failing test command fails the check; its output is kept."""
    settings = ValidateSettings(test_command=(sys.executable, "-c", "print('2 failed'); exit(1)"))
    outcome = check_tests(tmp_path, settings, "1.0.0", "v1.0.0")
    assert outcome.status is CheckStatus.FAIL
    assert "exited with 1" in outcome.message
    assert "2 failed" in outcome.output


def test_custom_check_matches_exit_code_and_output(tmp_path: Path) -> None:
    """A custom check passes on the expected exit code and output pattern."""
    spec = CustomCheck(
        "docs", "echo built 12 pages; exit 2", expect_exit=2, expect_output=r"\d+ pages"
    )
    outcome = check_custom(tmp_path, spec, ValidateSettings(), "1.0.0", "v1.0.0")
    assert outcome.status is CheckStatus.PASS


def test_custom_check_output_mismatch_fails(tmp_path: Path) -> None:
    """Exit 0 but the wrong output fails."""
    spec = CustomCheck("docs", "echo nothing", expect_output="pages")
    outcome = check_custom(tmp_path, spec, ValidateSettings(), "1.0.0", "v1.0.0")
    assert outcome.status is CheckStatus.FAIL
    assert "does not match" in outcome.message


def test_hanging_custom_check_times_out_as_a_failure(tmp_path: Path) -> None:
    """A custom check past its timeout is a failed check with a clear message."""
    spec = CustomCheck("hang", "sleep 30", timeout=0.5)
    outcome = check_custom(tmp_path, spec, ValidateSettings(), "1.0.0", "v1.0.0")
    assert outcome.status is CheckStatus.FAIL
    assert "timed out after 0.5s" in outcome.message


def test_preflight_without_git_fails_the_git_checks_without_crashing(tmp_path: Path) -> None:
    """A directory that is not a repository: git checks fail with a message, nothing raises."""
    config = Config(root=tmp_path, data={"validate": {"build": False}})
    report = run_preflight(tmp_path, config, version="1.0.0", tag="v1.0.0")
    clean = report.result("clean-tree")
    assert clean.status is CheckStatus.FAIL
    assert "not a git repository" in clean.message
    assert report.result("build").status is CheckStatus.SKIPPED
