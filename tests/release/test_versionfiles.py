"""release.versionfiles: updates change only the version bytes; missing versions are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from castoff.errors import VersionError
from castoff.release.versionfiles import (
    VersionFile,
    plan_updates,
    read_version,
    replace_version,
    write_changes,
)

PYPROJECT = """\
# top comment
[project]
name = "demo"   # name
version = '1.2.3'  # keep this comment
dependencies = ["x>=1.2.3"]

[tool.other]
version = "1.2.3"
"""

POETRY = """[tool.poetry]\nname = "demo"\nversion = "1.2.3"\n\n[tool.x]\na = 1\n"""

PACKAGE_JSON = """{
    "name": "demo",
    "engines": {"version": "1.2.3"},
    "version": "1.2.3",
    "dependencies": {
        "left-pad": "^1.2.3"
    }
}
"""

CARGO = (
    '[package]\nname = "demo"\nversion = "1.2.3"\nedition = "2021"\n\n'
    '[dependencies]\nserde = "1.2.3"\n'
)

SETUP_CFG = """[metadata]\nname = demo\nversion = 1.2.3\n\n[options]\npython_requires = >=3.11\n"""

INIT_PY = '''"""Demo."""\n\n__version__ = "1.2.3"\nOTHER = "1.2.3"\n'''


@pytest.mark.parametrize(
    ("name", "text", "expected_rule"),
    [
        ("pyproject.toml", PYPROJECT, "project.version"),
        ("pyproject.toml", POETRY, "tool.poetry.version"),
        ("package.json", PACKAGE_JSON, "version"),
        ("Cargo.toml", CARGO, "package.version"),
        ("setup.cfg", SETUP_CFG, "[metadata] version"),
        ("src/demo/__init__.py", INIT_PY, "__version__"),
        ("src/demo/_version.py", INIT_PY, "__version__"),
    ],
)
def test_update_changes_only_version_bytes(name: str, text: str, expected_rule: str) -> None:
    """Round-trip: the update replaces exactly one occurrence of the version."""
    after, rule = replace_version(text, VersionFile(name), "1.2.3", "1.3.0")
    assert rule == expected_rule
    assert after.count("1.3.0") == 1
    assert after.replace("1.3.0", "1.2.3") == text


def test_toml_keeps_quote_style_and_comment() -> None:
    """A literal-string version stays literal and its comment stays."""
    after, _ = replace_version(PYPROJECT, VersionFile("pyproject.toml"), "1.2.3", "2.0.0")
    assert "version = '2.0.0'  # keep this comment" in after


def test_json_nested_key_is_not_touched() -> None:
    """Only the top-level "version" of package.json changes."""
    after, _ = replace_version(PACKAGE_JSON, VersionFile("package.json"), "1.2.3", "2.0.0")
    assert '"engines": {"version": "1.2.3"}' in after
    assert '"version": "2.0.0"' in after


def test_json_key_path_selector() -> None:
    """A dotted key path selects a nested JSON value."""
    vf = VersionFile.parse("package.json:engines.version")
    after, _ = replace_version(PACKAGE_JSON, vf, "1.2.3", "2.0.0")
    assert '"engines": {"version": "2.0.0"}' in after
    assert '"version": "1.2.3",' in after


def test_toml_key_path_selector() -> None:
    """path:key.path updates that TOML key only."""
    vf = VersionFile.parse("pyproject.toml:tool.other.version")
    after, rule = replace_version(PYPROJECT, vf, "1.2.3", "2.0.0")
    assert rule == "tool.other.version"
    assert "version = '1.2.3'" in after
    assert 'version = "2.0.0"' in after


def test_regex_selector_replaces_only_matching_lines() -> None:
    """path:regex replaces the version on lines the regex matches (commitizen semantics)."""
    text = "VERSION = '1.2.3'\nDEP = '1.2.3'\n"
    after, _ = replace_version(text, VersionFile.parse("consts.py:^VERSION"), "1.2.3", "1.3.0")
    assert after == "VERSION = '1.3.0'\nDEP = '1.2.3'\n"


def test_non_key_selector_in_toml_is_a_regex() -> None:
    """commitizen's 'pyproject.toml:version' (no such top-level key) works as a line regex."""
    vf = VersionFile.parse("pyproject.toml:^version")
    after, _ = replace_version(PYPROJECT, vf, "1.2.3", "1.3.0")
    assert after.count("1.3.0") == 2
    assert "x>=1.2.3" in after


def test_plain_file_replaces_every_whole_version() -> None:
    """A bare unknown file replaces each occurrence, not longer versions containing it."""
    text = "1.2.3 and v1.2.3 but not 11.2.3 or 1.2.34 or 1.2.3-rc.1\n"
    after, _ = replace_version(text, VersionFile("VERSION.txt"), "1.2.3", "1.3.0")
    assert after == "1.3.0 and v1.3.0 but not 11.2.3 or 1.2.34 or 1.2.3-rc.1\n"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", PYPROJECT),
        ("package.json", PACKAGE_JSON),
        ("setup.cfg", SETUP_CFG),
        ("x/__init__.py", INIT_PY),
        ("README", "no version here\n"),
    ],
)
def test_missing_old_version_is_an_error(name: str, text: str) -> None:
    """A file not holding the current version raises VersionError naming it."""
    with pytest.raises(
        VersionError, match=name.rsplit("/", maxsplit=1)[-1].split(".", maxsplit=1)[0]
    ):
        replace_version(text, VersionFile(name), "9.9.9", "10.0.0")


def test_read_version_of_each_kind() -> None:
    """read_version finds the declared version in structured files."""
    assert read_version(POETRY, VersionFile("pyproject.toml")) == "1.2.3"
    assert read_version(SETUP_CFG, VersionFile("setup.cfg")) == "1.2.3"
    assert read_version(INIT_PY, VersionFile("a/__init__.py")) == "1.2.3"
    assert read_version("x", VersionFile("README")) is None


def test_crlf_line_endings_survive(tmp_path: Path) -> None:
    """Windows line endings are kept byte for byte."""
    (tmp_path / "setup.cfg").write_bytes(SETUP_CFG.replace("\n", "\r\n").encode())
    write_changes(tmp_path, plan_updates(tmp_path, ["setup.cfg"], "1.2.3", "1.3.0"))
    assert (tmp_path / "setup.cfg").read_bytes() == SETUP_CFG.replace("\n", "\r\n").replace(
        "1.2.3", "1.3.0"
    ).encode()


def test_plan_reports_already_updated_files(tmp_path: Path) -> None:
    """A file already at the new version is 'already', so re-runs are safe."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.replace("1.2.3", "1.3.0"))
    [change] = plan_updates(tmp_path, ["pyproject.toml"], "1.2.3", "1.3.0")
    assert change.status == "already"


def test_plan_missing_file_is_an_error(tmp_path: Path) -> None:
    """A configured version file that does not exist raises VersionError."""
    with pytest.raises(VersionError, match="does not exist"):
        plan_updates(tmp_path, ["nope.py"], "1.2.3", "1.3.0")


def test_diff_shows_the_version_line(tmp_path: Path) -> None:
    """FileChange.diff is a unified diff of the version line."""
    (tmp_path / "setup.cfg").write_text(SETUP_CFG)
    [change] = plan_updates(tmp_path, ["setup.cfg"], "1.2.3", "1.3.0")
    assert "-version = 1.2.3\n+version = 1.3.0\n" in change.diff()


def test_write_keeps_file_mode(tmp_path: Path) -> None:
    """The atomic write keeps the file's permissions."""
    path = tmp_path / "VERSION"
    path.write_text("1.2.3\n")
    path.chmod(0o600)
    write_changes(tmp_path, plan_updates(tmp_path, ["VERSION"], "1.2.3", "1.3.0"))
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("1.3.0\n", 0o600)


CZ_PYPROJECT = """\
[project]
name = "demo"
version = "1.2.3"

[tool.commitizen]
version = "1.2.3"
"""


def test_two_entries_for_one_file_both_apply(tmp_path: Path) -> None:
    """Two entries of one file make one change holding both replacements."""
    (tmp_path / "pyproject.toml").write_text(CZ_PYPROJECT)
    specs = ["pyproject.toml", "pyproject.toml:tool.commitizen.version"]
    [change] = plan_updates(tmp_path, specs, "1.2.3", "1.3.0")
    assert change.after == CZ_PYPROJECT.replace("1.2.3", "1.3.0")
    assert change.rule == "project.version; tool.commitizen.version"
    write_changes(tmp_path, [change])
    assert (tmp_path / "pyproject.toml").read_text() == CZ_PYPROJECT.replace("1.2.3", "1.3.0")


def test_two_entries_for_one_file_rerun_is_already(tmp_path: Path) -> None:
    """Both entries already at the new version: one 'already' change."""
    (tmp_path / "pyproject.toml").write_text(CZ_PYPROJECT.replace("1.2.3", "1.3.0"))
    specs = ["pyproject.toml", "pyproject.toml:tool.commitizen.version"]
    [change] = plan_updates(tmp_path, specs, "1.2.3", "1.3.0")
    assert change.status == "already"


def test_bare_and_regex_entry_of_one_file(tmp_path: Path) -> None:
    """A key entry, then an every-line regex entry, in one file: every occurrence moves."""
    (tmp_path / "pyproject.toml").write_text(CZ_PYPROJECT)
    specs = ["pyproject.toml:tool.commitizen.version", "pyproject.toml:.*"]
    [change] = plan_updates(tmp_path, specs, "1.2.3", "1.3.0")
    assert change.after == CZ_PYPROJECT.replace("1.2.3", "1.3.0")


def test_byte_order_mark_is_parsed_and_kept(tmp_path: Path) -> None:
    """A UTF-8 BOM before TOML / JSON is skipped for parsing and kept in the file."""
    (tmp_path / "pyproject.toml").write_bytes(b"\xef\xbb\xbf" + PYPROJECT.encode())
    (tmp_path / "package.json").write_bytes(b"\xef\xbb\xbf" + PACKAGE_JSON.encode())
    specs = ["pyproject.toml", "package.json"]
    assert read_version("\ufeff" + PYPROJECT, VersionFile("pyproject.toml")) == "1.2.3"
    write_changes(tmp_path, plan_updates(tmp_path, specs, "1.2.3", "1.3.0"))
    text = (tmp_path / "pyproject.toml").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf# top comment")
    assert b"version = '1.3.0'" in text
    assert (tmp_path / "package.json").read_bytes().startswith(b'\xef\xbb\xbf{\n    "name"')
    assert b'"version": "1.3.0"' in (tmp_path / "package.json").read_bytes()
