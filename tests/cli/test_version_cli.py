"""castoff version next|tag and castoff init through the real entry point."""

from __future__ import annotations

import json
import tomllib
from typing import Any

PYPROJECT = (
    '[project]\nname = "demo"\nversion = "{v}"\n\n'
    '[tool.castoff]\nversion_files = ["pyproject.toml"]\n'
)


def project(repo: Any, version: str = "1.0.0") -> None:
    repo.commit("feat: start", {"pyproject.toml": PYPROJECT.format(v=version)})
    repo.tag(f"v{version}")


def test_next_json_fields(repo: Any, run_castoff: Any) -> None:
    """`version next --json` prints current, next, bump, reasons, scheme, tag."""
    project(repo)
    repo.commit("feat: new thing")
    out = run_castoff("version", "next", "--json", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["current"], data["next"], data["bump"], data["scheme"], data["tag"]) == (
        "1.0.0",
        "1.1.0",
        "minor",
        "semver",
        "v1.1.0",
    )
    assert data["reasons"][0]["description"] == "new thing"


def test_next_through_typer_matches_fast_path(repo: Any, run_castoff: Any) -> None:
    """The console-script path (typer) prints the same JSON as python -m castoff."""
    import subprocess
    import sys
    from pathlib import Path

    project(repo)
    repo.commit("fix: bug")
    script = Path(sys.executable).parent / "castoff"
    typer_out = subprocess.run(
        [str(script), "version", "next", "--json"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    fast_out = run_castoff("version", "next", "--json", cwd=repo.path)
    assert typer_out.returncode == fast_out.returncode == 0
    assert json.loads(typer_out.stdout) == json.loads(fast_out.stdout)


def test_next_nothing_to_release_exits_zero(repo: Any, run_castoff: Any) -> None:
    """Only chores: exit 0 and a plain message."""
    project(repo)
    repo.commit("chore: tidy")
    out = run_castoff("version", "next", cwd=repo.path)
    assert out.returncode == 0
    assert "nothing to release" in out.stdout


def test_next_refuses_smaller_version(repo: Any, run_castoff: Any) -> None:
    """--version not greater than current → exit 2, one line, no traceback."""
    project(repo)
    out = run_castoff("version", "next", "--version", "0.9.0", cwd=repo.path)
    assert out.returncode == 2
    assert "not greater" in out.stderr
    assert "Traceback" not in out.stderr


def test_next_refuses_malformed_version(repo: Any, run_castoff: Any) -> None:
    """A malformed --version → exit 2."""
    project(repo)
    assert run_castoff("version", "next", "--version", "banana", cwd=repo.path).returncode == 2


def test_tag_yes_tags(repo: Any, run_castoff: Any) -> None:
    """`version tag --yes` commits and tags; a second run says already tagged / nothing new."""
    project(repo)
    repo.commit("fix: bug")
    out = run_castoff("version", "tag", "--yes", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert "v1.0.1" in repo.git("tag", "--list")
    again = run_castoff("version", "tag", "--yes", cwd=repo.path)
    assert again.returncode == 0
    assert "already tagged" in again.stdout


def test_tag_without_tty_or_yes_refuses(repo: Any, run_castoff: Any) -> None:
    """No terminal and no --yes: nothing written, exit 2."""
    project(repo)
    repo.commit("fix: bug")
    out = run_castoff("version", "tag", cwd=repo.path)
    assert out.returncode == 2
    assert repo.git("tag", "--list") == "v1.0.0"


def test_tag_dry_run_shows_diff(repo: Any, run_castoff: Any) -> None:
    """--dry-run prints the version-file diff and writes nothing."""
    project(repo)
    repo.commit("feat: x")
    out = run_castoff("version", "tag", "--dry-run", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert '+version = "1.1.0"' in out.stdout
    assert repo.git("status", "--porcelain") == ""


def test_tag_conflict_exits_3(repo: Any, run_castoff: Any) -> None:
    """The tag existing on another commit → exit 3."""
    project(repo)
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("fix: side")
    repo.tag("v1.1.0")
    repo.git("checkout", "-q", "main")
    repo.commit("feat: x")
    out = run_castoff("version", "tag", "--yes", cwd=repo.path)
    assert out.returncode == 3
    assert "already exists" in out.stderr


def test_init_writes_pyproject_table(repo: Any, run_castoff: Any) -> None:
    """castoff init adds [tool.castoff] to pyproject.toml, keeping the rest."""
    repo.write("pyproject.toml", '[project]\nname = "demo"  # keep\nversion = "0.1.0"\n')
    out = run_castoff("init", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    text = (repo.path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "demo"  # keep\n')
    assert tomllib.loads(text)["tool"]["castoff"]["version_files"] == ["pyproject.toml"]


def test_init_refuses_to_overwrite(repo: Any, run_castoff: Any) -> None:
    """An existing [tool.castoff] → exit 3, file untouched."""
    repo.write("pyproject.toml", PYPROJECT.format(v="1.0.0"))
    out = run_castoff("init", cwd=repo.path)
    assert out.returncode == 3
    assert (repo.path / "pyproject.toml").read_text() == PYPROJECT.format(v="1.0.0")


def test_init_writes_castoff_toml_without_pyproject(repo: Any, run_castoff: Any) -> None:
    """Without pyproject.toml, castoff init writes castoff.toml."""
    assert run_castoff("init", cwd=repo.path).returncode == 0
    assert tomllib.loads((repo.path / "castoff.toml").read_text())["tag_format"] == "v{version}"


def test_init_adopts_commitizen(repo: Any, run_castoff: Any) -> None:
    """With [tool.commitizen], init writes the equivalent settings and names the source."""
    repo.write("pyproject.toml", '[tool.commitizen]\nversion = "1.0.0"\ntag_format = "$version"\n')
    out = run_castoff("init", cwd=repo.path)
    assert "commitizen" in out.stdout
    table = tomllib.loads((repo.path / "pyproject.toml").read_text())["tool"]["castoff"]
    assert table["tag_format"] == "{version}"


def test_tag_message_is_the_notes_and_changelog_is_committed(repo: Any, run_castoff: Any) -> None:
    """The tag message lists the release's changes; CHANGELOG.md is in the release commit."""
    project(repo)
    repo.commit("feat: shiny thing")
    assert run_castoff("version", "tag", "--yes", cwd=repo.path).returncode == 0
    assert "shiny thing" in repo.git("tag", "-l", "--format=%(contents)", "v1.1.0")
    assert "CHANGELOG.md" in repo.git("show", "--name-only", "--format=", "HEAD")
    assert "shiny thing" in (repo.path / "CHANGELOG.md").read_text()


def test_init_keeps_a_byte_order_mark(repo: Any, run_castoff: Any) -> None:
    """castoff init reads a pyproject.toml that starts with a BOM and keeps the BOM."""
    repo.write("pyproject.toml", '\ufeff[project]\nname = "demo"\nversion = "0.1.0"\n')
    out = run_castoff("init", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    raw = (repo.path / "pyproject.toml").read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf[project]\nname = "demo"')
    assert "castoff" in tomllib.loads(raw.decode("utf-8-sig"))["tool"]


def test_same_version_twice_is_already_tagged(repo: Any, run_castoff: Any) -> None:
    """`version tag --yes --version 1.2.0` twice: the second says already tagged, exit 0."""
    project(repo)
    repo.commit("fix: bug")
    first = run_castoff("version", "tag", "--yes", "--version", "1.2.0", cwd=repo.path)
    assert first.returncode == 0, first.stderr
    again = run_castoff("version", "tag", "--yes", "--version", "1.2.0", cwd=repo.path)
    assert again.returncode == 0, again.stderr
    assert "already tagged: v1.2.0 is on HEAD" in again.stdout
    assert repo.git("tag", "--list").split() == ["v1.0.0", "v1.2.0"]


def test_bump_twice_has_nothing_to_release(repo: Any, run_castoff: Any) -> None:
    """`version tag --yes --bump minor` twice: the second has nothing to release, exit 0."""
    project(repo)
    repo.commit("fix: bug")
    assert run_castoff("version", "tag", "--yes", "--bump", "minor", cwd=repo.path).returncode == 0
    head = repo.head()
    again = run_castoff("version", "tag", "--yes", "--bump", "minor", cwd=repo.path)
    assert again.returncode == 0, again.stderr
    assert "nothing to release" in again.stdout
    assert (repo.head(), repo.git("tag", "--list").split()) == (head, ["v1.0.0", "v1.1.0"])


def test_version_excludes_bump_and_prerelease(repo: Any, run_castoff: Any) -> None:
    """--version with --bump or --prerelease: exit 2, one line, in next and tag alike."""
    project(repo)
    repo.commit("feat: x")
    for command in ("next", "tag"):
        for extra in (["--bump", "major"], ["--prerelease", "rc"]):
            out = run_castoff(
                "version", command, "--yes" if command == "tag" else "--json",
                "--version", "2.0.0", *extra, cwd=repo.path,
            )  # fmt: skip
            assert out.returncode == 2, (command, extra, out.stdout)
            assert "exclude each other" in out.stderr
            assert "Traceback" not in out.stderr
    assert repo.git("tag", "--list") == "v1.0.0"


def test_push_without_origin_writes_nothing(repo: Any, run_castoff: Any) -> None:
    """`version tag --yes --push` without an origin: exit 2 before any commit or tag."""
    project(repo)
    repo.commit("feat: x")
    head = repo.head()
    out = run_castoff("version", "tag", "--yes", "--push", cwd=repo.path)
    assert out.returncode == 2
    assert "no git remote named 'origin'" in out.stderr
    assert (repo.head(), repo.git("tag", "--list"), repo.git("status", "--porcelain")) == (
        head,
        "v1.0.0",
        "",
    )


def test_commit_false_with_version_files_is_refused(repo: Any, run_castoff: Any) -> None:
    """commit = false and version_files: exit 2, nothing written (the tag would lie)."""
    repo.commit(
        "feat: start",
        {
            "pyproject.toml": PYPROJECT.format(v="1.0.0")
            + "\n[tool.castoff.version]\ncommit = false\n"
        },
    )
    repo.tag("v1.0.0")
    repo.commit("feat: x")
    out = run_castoff("version", "tag", "--yes", cwd=repo.path)
    assert out.returncode == 2
    assert "commit = false" in out.stderr
    assert (repo.git("tag", "--list"), repo.git("status", "--porcelain")) == ("v1.0.0", "")


def test_declining_the_tag_question_exits_zero(repo: Any, on_a_terminal: Any) -> None:
    """Answering n on a terminal writes nothing and exits 0: an answer, not a failure."""
    project(repo)
    repo.commit("feat: x")
    code, out = on_a_terminal(repo.path, ["version", "tag"], b"[y/N]: ", b"n")
    assert code == 0, out[-2000:]
    assert b"nothing tagged" in out
    assert (repo.git("tag", "--list"), repo.git("status", "--porcelain")) == ("v1.0.0", "")


def test_a_project_with_no_castoff_config_keeps_pyproject_in_step(
    repo: Any, run_castoff: Any
) -> None:
    """No [tool.castoff] at all: `version tag --yes` bumps pyproject.toml's version with
    the changelog in the release commit (the version files pre-flight compares), and
    `init` writes that file as version_files."""
    plain = '[project]\nname = "demo"\nversion = "{v}"\n'
    repo.commit("feat: start", {"pyproject.toml": plain.format(v="1.0.0")})
    repo.tag("v1.0.0")
    repo.commit("feat: new thing")
    init = run_castoff("init", "--dry-run", "--json", cwd=repo.path)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["config"]["version_files"] == ["pyproject.toml"]
    out = run_castoff("version", "tag", "--yes", "--json", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert (repo.path / "pyproject.toml").read_text() == plain.format(v="1.1.0")
    changed = repo.git("show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == ["CHANGELOG.md", "pyproject.toml"]
    assert repo.git("tag", "--points-at", "HEAD").strip() == "v1.1.0"
