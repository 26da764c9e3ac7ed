"""`castoff notes` end to end through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def release_repo(repo):
    repo.git("remote", "add", "origin", "https://gitlab.com/acme/rocket.git")
    repo.commit("feat: launch pad")
    repo.git("tag", "-a", "v0.1.0", "-m", "v0.1.0", env={"GIT_COMMITTER_DATE": "1700000100 +0000"})
    repo.commit("fix(engine): stop the leak (#4)")
    repo.commit("feat: countdown")
    return repo


def test_notes_markdown_default(repo, run_castoff) -> None:
    """`castoff notes` prints the Unreleased section since the last tag."""
    release_repo(repo)
    out = run_castoff("notes", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        "## [Unreleased](https://gitlab.com/acme/rocket/-/compare/v0.1.0...HEAD)"
    )
    assert "- **engine:** stop the leak (#4)" in out.stdout


def test_notes_json(repo, run_castoff) -> None:
    """--format json prints the documented object."""
    release_repo(repo)
    out = run_castoff("notes", "--format", "json", "-C", str(repo.path))
    data = json.loads(out.stdout)
    assert [g["type"] for g in data["groups"]] == ["feat", "fix"]
    assert data["groups"][1]["entries"][0]["refs"][0]["url"].endswith("/-/issues/4")


def test_notes_full_json(repo, run_castoff) -> None:
    """--full --format json lists every release, newest first."""
    release_repo(repo)
    out = run_castoff("notes", "--full", "--json", cwd=repo.path)
    assert [r["version"] for r in json.loads(out.stdout)["releases"]] == [None, "0.1.0"]


def test_notes_output_file(repo, run_castoff, tmp_path: Path) -> None:
    """--output writes the file and prints nothing."""
    release_repo(repo)
    target = tmp_path / "notes.txt"
    out = run_castoff("notes", "--format", "text", "--output", str(target), cwd=repo.path)
    assert out.returncode == 0
    assert out.stdout == ""
    assert target.read_text().startswith("Unreleased (")


def test_update_changelog_twice(repo, run_castoff) -> None:
    """--update-changelog creates CHANGELOG.md, and a second run adds nothing."""
    release_repo(repo)
    repo.git("tag", "-a", "v0.2.0", "-m", "v0.2.0")
    first = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "added the 0.2.0 section" in first.stderr
    text = (repo.path / "CHANGELOG.md").read_text()
    assert "## [0.2.0]" in text
    assert first.stdout.startswith("## [0.2.0]")
    second = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "nothing to add" in second.stderr
    assert (repo.path / "CHANGELOG.md").read_text() == text


@pytest.mark.parametrize("broken", ["bytes", "directory"])
def test_unreadable_changelog_writes_nothing(
    repo, run_castoff, tmp_path: Path, broken: str
) -> None:
    """A CHANGELOG that cannot be read stops the run before --output is written."""
    release_repo(repo)
    changelog = repo.path / "CHANGELOG.md"
    if broken == "bytes":
        changelog.write_bytes(b"# Changelog\n\n## [0.1.0] \xff\xfe latin-1 caf\xe9\n")
    else:
        changelog.mkdir()
    target = tmp_path / "notes.md"
    out = run_castoff("notes", "--update-changelog", "--output", str(target), cwd=repo.path)
    assert out.returncode == 2
    assert "cannot read" in out.stderr
    assert "CHANGELOG.md" in out.stderr
    assert not target.exists()


def test_update_changelog_json_prints_the_notes(repo, run_castoff) -> None:
    """--update-changelog --format json still prints the JSON notes; the status goes to stderr."""
    release_repo(repo)
    out = run_castoff("notes", "--update-changelog", "--format", "json", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["version"] is None
    assert "added the Unreleased section" in out.stderr
    assert "## [Unreleased]" in (repo.path / "CHANGELOG.md").read_text()


def test_update_changelog_full(repo, run_castoff) -> None:
    """--full --update-changelog writes every release section."""
    release_repo(repo)
    out = run_castoff("notes", "--full", "--update-changelog", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    text = (repo.path / "CHANGELOG.md").read_text()
    assert text.index("## [Unreleased]") < text.index("## [0.1.0]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "nope"), "unknown git ref"),
        (("--from", "HEAD"), "no commits"),
        (("--format", "xml"), "--format"),
        (("--full", "--from", "v0.1.0"), "--full"),
    ],
)
def test_bad_input_exits_2(repo, run_castoff, args: tuple[str, ...], message: str) -> None:
    """Bad refs, empty ranges and bad options: one line on stderr, exit 2, nothing written."""
    release_repo(repo)
    out = run_castoff("notes", *args, "--update-changelog", cwd=repo.path)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (repo.path / "CHANGELOG.md").exists()


def test_not_a_repository(run_castoff, tmp_path: Path) -> None:
    """Outside a git repository: exit 2."""
    out = run_castoff("notes", cwd=tmp_path)
    assert out.returncode == 2
    assert "not a git repository" in out.stderr


def test_broken_template_writes_nothing(repo, run_castoff, tmp_path: Path) -> None:
    """A template syntax error stops before anything is written."""
    release_repo(repo)
    (repo.path / "castoff.toml").write_text('[notes]\ntemplates = {markdown = "bad.j2"}\n')
    (repo.path / "bad.j2").write_text("{% if %}\n")
    target = tmp_path / "out.md"
    out = run_castoff("notes", "--output", str(target), "--update-changelog", cwd=repo.path)
    assert out.returncode == 2
    assert "bad.j2, line 1" in out.stderr
    assert not target.exists()
    assert not (repo.path / "CHANGELOG.md").exists()


def test_unreadable_template(repo, run_castoff) -> None:
    """A template path that does not exist: exit 2."""
    release_repo(repo)
    (repo.path / "castoff.toml").write_text('[notes]\ntemplates = {json = "nope.j2"}\n')
    out = run_castoff("notes", "--format", "json", cwd=repo.path)
    assert out.returncode == 2
    assert "cannot read notes template" in out.stderr


def test_fast_path_and_typer_agree(repo, run_castoff) -> None:
    """The typer-free fast path and the typer command print the same notes."""
    release_repo(repo)
    fast = run_castoff("notes", "--format=json", "-C", str(repo.path))
    via_typer = run_castoff("notes", "-fjson", "-C", str(repo.path))  # spelling only typer knows
    assert fast.returncode == via_typer.returncode == 0
    assert fast.stdout == via_typer.stdout


def test_parse_fast_options() -> None:
    """The fast path reads every option and leaves anything else to typer."""
    from castoff.cli.notes import parse_fast

    assert parse_fast(["--from", "v1", "--to=v2", "--full", "-o", "x.md", "--json"]) == {
        "from_ref": "v1",
        "to_ref": "v2",
        "full": True,
        "output": Path("x.md"),
        "json_out": True,
    }
    assert parse_fast(["--help"]) is None
    assert parse_fast(["--from"]) is None
    assert parse_fast(["--fulll"]) is None


def test_update_changelog_keeps_crlf(repo, run_castoff) -> None:
    """A CRLF changelog stays CRLF: its bytes are kept and the new section uses CRLF."""
    release_repo(repo)
    changelog = repo.path / "CHANGELOG.md"
    original = b"# Changelog\r\n\r\nKept intro.\r\n\r\n## [0.1.0] - 2023-11-14\r\n\r\n- pad\r\n"
    changelog.write_bytes(original)
    out = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    data = changelog.read_bytes()
    assert b"## [Unreleased]" in data
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.replace(data[data.index(b"## [Unreleased]") : data.index(b"## [0.1.0]")], b"") == (
        original
    )


def test_update_changelog_full_keeps_crlf_preamble(repo, run_castoff) -> None:
    """--full --update-changelog keeps a CRLF preamble byte for byte and writes CRLF sections."""
    release_repo(repo)
    changelog = repo.path / "CHANGELOG.md"
    changelog.write_bytes(b"# Changes\r\n\r\nOur own intro.\r\n\r\n## old stuff\r\n")
    out = run_castoff("notes", "--full", "--update-changelog", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    data = changelog.read_bytes()
    assert data.startswith(b"# Changes\r\n\r\nOur own intro.\r\n\r\n## [Unreleased]")
    assert b"## [0.1.0]" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_generated_unreleased_follows_the_history(repo, run_castoff) -> None:
    """Unreleased written by castoff is refreshed by later runs and replaced by its release."""
    release_repo(repo)
    changelog = repo.path / "CHANGELOG.md"
    first = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "added the Unreleased section" in first.stderr
    assert "countdown" in changelog.read_text()
    repo.commit("feat: ignition")
    second = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "refreshed the generated Unreleased section" in second.stderr
    text = changelog.read_text()
    assert text.count("## [Unreleased]") == 1
    assert "ignition" in text
    again = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "nothing to add" in again.stderr
    assert changelog.read_text() == text
    repo.git("tag", "-a", "v0.2.0", "-m", "v0.2.0")
    released = run_castoff("notes", "--update-changelog", cwd=repo.path)
    assert "replacing the generated Unreleased one" in released.stderr
    text = changelog.read_text()
    assert "Unreleased" not in text
    assert text.count("ignition") == text.count("countdown") == 1
    assert "## [0.2.0]" in text
    assert run_castoff("notes", "--update-changelog", cwd=repo.path).returncode == 0
    assert changelog.read_text() == text


MONOREPO = """\
[version.packages.pkg-a]
path = "packages/a"
[version.packages.pkg-b]
path = "packages/b"
"""


def monorepo(repo):
    """Two packages released together once, then one change in each."""
    files = {"castoff.toml": MONOREPO, "packages/a/a.py": "", "packages/b/b.py": ""}
    repo.commit("chore: init", files)
    repo.tag("pkg-a-v1.0.0")
    repo.tag("pkg-b-v2.0.0")
    repo.commit("feat: alpha feature", {"packages/a/a.py": "x = 1\n"})
    repo.commit("fix: beta bug", {"packages/b/b.py": "y = 1\n"})
    repo.commit("feat: alpha again", {"packages/a/a.py": "x = 2\n"})
    repo.tag("pkg-a-v1.1.0")
    repo.commit("chore: root only", {"README.md": "hi\n"})
    return repo


@pytest.mark.parametrize("fast", [True, False])
def test_notes_package_keeps_its_commits_and_tags(repo, run_castoff, fast) -> None:
    """--package: the package's tags bound the range, other packages' commits stay out."""
    monorepo(repo)
    extra = () if fast else ("--output", str(repo.path.parent / "out.json"))
    out = run_castoff("notes", "--package", "pkg-b", "-f", "json", *extra, cwd=repo.path)
    assert out.returncode == 0, out.stderr
    text = out.stdout if fast else (repo.path.parent / "out.json").read_text()
    data = json.loads(text)
    entries = [e["description"] for g in data["groups"] for e in g["entries"]]
    assert entries == ["beta bug"]
    assert data["version"] is None


def test_notes_package_full_places_each_commit_in_its_release(repo, run_castoff) -> None:
    """--full --package: one section per package tag, each with that package's commits."""
    monorepo(repo)
    out = run_castoff("notes", "--package", "pkg-a", "--full", "-f", "json", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    releases = json.loads(out.stdout)["releases"]
    by_version = {
        r["version"]: [e["description"] for g in r["groups"] for e in g["entries"]]
        for r in releases
    }
    # the README-only commit since pkg-a-v1.1.0 is no change of pkg-a: no Unreleased section
    assert by_version == {"1.1.0": ["alpha again", "alpha feature"], "1.0.0": []}


def test_notes_unknown_package_exits_2(repo, run_castoff) -> None:
    """An unknown --package is bad input: one line naming the packages."""
    monorepo(repo)
    out = run_castoff("notes", "--package", "nope", cwd=repo.path)
    assert out.returncode == 2
    assert "pkg-a, pkg-b" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
