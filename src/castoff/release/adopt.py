"""Adopt the settings of a release tool the project already uses.

A project released with commitizen or python-semantic-release (PSR) needs no
castoff configuration to start: :func:`detect` reads that tool's settings and
returns the equivalent castoff configuration (the same shape as
``[tool.castoff]``) plus a sentence saying where it came from. ``castoff init``
writes that dict out as ``[tool.castoff]``.

Only plain reading happens here (``tomllib`` / ``json``); nothing is written.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from castoff.errors import ConfigError, NotSupportedYet

#: commitizen's default conventional bump map, as castoff type lists.
CZ_PATCH_TYPES = ("fix", "refactor", "perf")
#: python-semantic-release's default conventional/angular parser options.
PSR_PATCH_TYPES = ("fix", "perf")
MINOR_TYPES = ("feat",)
#: the regex a bare commitizen ``version_files`` path becomes: every line
CZ_EVERY_LINE = ".*"

_CZ_FILES = (".cz.toml", "cz.toml", ".cz.json", "cz.json", ".cz.yaml", "cz.yaml")
_PSR_FILES = ("releaserc.toml", "releaserc.json")
_BRANCH_ALTERNATIVES = re.compile(r"^\^?\(?([\w./*-]+(?:\|[\w./*-]+)*)\)?\$?$")


def detect(root: Path) -> tuple[dict[str, Any], str] | None:
    """The castoff config equivalent to a commitizen or PSR setup at ``root``.

    Returns ``(config_dict, source)`` where ``source`` names the tool and file,
    e.g. ``"commitizen ([tool.commitizen] in pyproject.toml)"``; ``None`` when
    neither tool is configured.
    """
    pyproject = _read_toml(root / "pyproject.toml")
    tool = pyproject.get("tool", {}) if pyproject else {}
    if isinstance(tool.get("commitizen"), dict):
        return from_commitizen(tool["commitizen"], "pyproject.toml"), (
            "commitizen ([tool.commitizen] in pyproject.toml)"
        )
    for name in _CZ_FILES:
        path = root / name
        if not path.is_file():
            continue
        if name.endswith(".yaml"):
            raise NotSupportedYet(f"reading commitizen settings from {name} is not supported yet")
        table = _cz_table(path)
        if table is not None:
            return from_commitizen(table, name), f"commitizen ({name})"
    if isinstance(tool.get("semantic_release"), dict):
        return from_semantic_release(tool["semantic_release"]), (
            "python-semantic-release ([tool.semantic_release] in pyproject.toml)"
        )
    for name in _PSR_FILES:
        path = root / name
        if not path.is_file():
            continue
        doc = _read_toml(path) if name.endswith(".toml") else _read_json(path)
        table = doc.get("semantic_release", doc.get("tool", {}).get("semantic_release", doc))
        return from_semantic_release(table), f"python-semantic-release ({name})"
    return None


# -- commitizen -----------------------------------------------------------


def from_commitizen(cz: Mapping[str, Any], config_file: str) -> dict[str, Any]:
    """Translate a ``[tool.commitizen]`` table (read from ``config_file``)."""
    name = cz.get("name", "cz_conventional_commits")
    if name != "cz_conventional_commits":
        raise NotSupportedYet(f"adopting commitizen rules {name!r} is not supported yet")
    custom = [key for key in ("bump_map", "bump_pattern", "customize") if key in cz]
    if custom:
        raise NotSupportedYet(f"adopting commitizen {', '.join(custom)} is not supported yet")
    scheme = str(cz.get("version_scheme", cz.get("version_type", "pep440")))
    data: dict[str, Any] = {
        "tag_format": _cz_tag_format(str(cz.get("tag_format", "$version"))),
        "version_scheme": "semver" if scheme in ("semver", "semver2") else "pep440",
        "version_files": _cz_version_files(cz, config_file),
        "changelog": str(cz.get("changelog_file", "CHANGELOG.md")),
        "version": {
            "major_version_zero": bool(cz.get("major_version_zero", False)),
            "patch_types": list(CZ_PATCH_TYPES),
            "minor_types": list(MINOR_TYPES),
            "commit": True,
            "commit_message": _cz_message(
                str(cz.get("bump_message") or "bump: version $current_version → $new_version")
            ),
            "sign": bool(cz.get("gpg_sign", False)),
            "prerelease_start": int(cz.get("prerelease_offset", 0)),
            # commitizen's semver spells 1.2.0-rc0 / -a0 / -b0; semver2: -rc.0 / -alpha.0
            "prerelease_style": "compact" if scheme == "semver" else "dotted",
            "update_changelog": bool(cz.get("update_changelog_on_bump", False)),
        },
    }
    return data


def _cz_tag_format(fmt: str) -> str:
    out = fmt.replace("${version}", "{version}").replace("$version", "{version}")
    out = re.sub(
        r"\$\{?major\}?\.\$\{?minor\}?\.\$\{?patch\}?(\$\{?prerelease\}?)?(\$\{?devrelease\}?)?",
        "{version}",
        out,
    )
    if "$" in out or "{version}" not in out:
        raise NotSupportedYet(f"commitizen tag_format {fmt!r} is not supported yet")
    return out


def _cz_message(msg: str) -> str:
    return (
        msg.replace("${current_version}", "{current_version}")
        .replace("$current_version", "{current_version}")
        .replace("${new_version}", "{version}")
        .replace("$new_version", "{version}")
    )


def _cz_version_files(cz: Mapping[str, Any], config_file: str) -> list[str]:
    provider = cz.get("version_provider", "commitizen")
    files: list[str] = []
    if provider == "commitizen" and "version" in cz:
        key = "tool.commitizen.version" if config_file.endswith(".toml") else "commitizen.version"
        files.append(f"{config_file}:{key}")
    elif provider == "pep621":
        files.append("pyproject.toml:project.version")
    elif provider == "poetry":
        files.append("pyproject.toml:tool.poetry.version")
    elif provider == "cargo":
        files.append("Cargo.toml:package.version")
    elif provider == "npm":
        files.append("package.json:version")
    elif provider not in ("scm", "commitizen"):
        raise NotSupportedYet(f"commitizen version_provider {provider!r} is not supported yet")
    for entry in cz.get("version_files", []):
        path, sep, regex = str(entry).partition(":")
        # a bare path: commitizen replaces the version on every line holding it
        files.append(str(entry) if sep and regex else f"{path}:{CZ_EVERY_LINE}")
    return files


def _cz_table(path: Path) -> Mapping[str, Any] | None:
    if path.suffix == ".toml":
        table = _read_toml(path).get("tool", {}).get("commitizen")
    else:
        table = _read_json(path).get("commitizen")
    return table if isinstance(table, dict) else None


# -- python-semantic-release ---------------------------------------------


def from_semantic_release(psr: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a ``[tool.semantic_release]`` table (PSR 7–10)."""
    options = psr.get("commit_parser_options", {})
    parser = psr.get("commit_parser", "conventional")
    if parser not in ("angular", "conventional"):
        raise NotSupportedYet(
            f"adopting python-semantic-release parser {parser!r} is not supported yet"
        )
    changelog = psr.get("changelog", {})
    changelog_file = "CHANGELOG.md"
    if isinstance(changelog, dict):
        templates = changelog.get("default_templates", {})
        changelog_file = str(
            templates.get("changelog_file") or changelog.get("changelog_file") or changelog_file
        )
    data: dict[str, Any] = {
        "tag_format": str(psr.get("tag_format", "v{version}")),
        "version_scheme": "semver",
        "version_files": _psr_version_files(psr),
        "changelog": changelog_file,
        "version": {
            "major_version_zero": not bool(psr.get("major_on_zero", True)),
            "patch_types": list(options.get("patch_tags", PSR_PATCH_TYPES)),
            "minor_types": list(options.get("minor_tags", MINOR_TYPES)),
            "commit": True,
            "commit_message": str(
                psr.get("commit_message")
                or psr.get("commit_subject")
                or "{version}\n\nAutomatically generated by python-semantic-release"
            ),
            "sign": False,
            "prerelease_start": 1,
            # PSR 10: no tag → 0.0.0 (version files ignored); 0.x only when allowed
            "initial_version": "0.0.0",
            "allow_zero_version": bool(psr.get("allow_zero_version", False)),
        },
    }
    branches = _psr_branches(psr.get("branches"))
    if branches:
        data["release_branches"] = branches
    return data


def _listify(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _psr_version_files(psr: Mapping[str, Any]) -> list[str]:
    files: list[str] = []
    for entry in _listify(psr.get("version_toml")):
        path, _, key = entry.partition(":")
        files.append(f"{path}:{key.split(':')[0]}")
    for entry in _listify(psr.get("version_variables", psr.get("version_variable"))):
        path, _, name = entry.partition(":")
        files.append(f"{path}:{name.split(':')[0]}")
    return files


def _psr_branches(branches: Any) -> list[str]:
    if not isinstance(branches, dict):
        return []
    names: list[str] = []
    for group in branches.values():
        if not isinstance(group, dict) or group.get("prerelease"):
            continue
        match = _BRANCH_ALTERNATIVES.match(str(group.get("match", "(main|master)")))
        if match is None:
            return []  # a real regex: keep castoff's default branches
        names.extend(match.group(1).replace(".*", "*").split("|"))
    return names


# -- reading --------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        # utf-8-sig: a byte order mark (some Windows editors write one) is skipped
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid JSON: {exc}") from exc
    return doc if isinstance(doc, dict) else {}
