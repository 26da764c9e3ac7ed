"""Project configuration: ``[tool.castoff]`` in pyproject.toml, or castoff.toml.

Configuration is plain data. Each release component reads its own section
(``notes``, ``version``, ``validate``, ``rollback``, ``announce``) with
:meth:`Config.section`; the few settings every component shares (tag format,
version scheme, version files, release branches, changelog path) are typed
properties here. Secrets never live in the file: the config names environment
variables, and :meth:`Config.secret` reads them.

Reading uses the stdlib ``tomllib`` (fast, no dependency); writing config back
(``castoff init``) uses tomlkit so comments and layout survive.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from castoff.errors import ConfigError

CONFIG_FILENAME = "castoff.toml"
DEFAULT_TAG_FORMAT = "v{version}"
DEFAULT_RELEASE_BRANCHES = ("main", "master")
SCHEMES = ("semver", "pep440")


@dataclass(frozen=True)
class Config:
    """The project's castoff configuration (possibly empty: all defaults)."""

    root: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "defaults"

    # -- shared settings -------------------------------------------------
    @property
    def tag_format(self) -> str:
        value = self.data.get("tag_format", DEFAULT_TAG_FORMAT)
        if not isinstance(value, str) or "{version}" not in value:
            raise ConfigError(
                f"tag_format must contain '{{version}}' (got {value!r}) in {self.source}"
            )
        return value

    @property
    def version_scheme(self) -> str:
        value = self.data.get("version_scheme", "semver")
        if value not in SCHEMES:
            allowed = ", ".join(SCHEMES)
            raise ConfigError(
                f"version_scheme must be one of {allowed} (got {value!r}) in {self.source}"
            )
        return str(value)

    @property
    def version_files(self) -> list[str] | None:
        """The configured version files; None when not configured (the release then
        keeps the manifests that declare a version in step: ``versionfiles.detect``)."""
        if "version_files" not in self.data:
            return None
        value = self.data["version_files"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"version_files must be a list of strings in {self.source}")
        return list(value)

    @property
    def release_branches(self) -> list[str]:
        value = self.data.get("release_branches", list(DEFAULT_RELEASE_BRANCHES))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"release_branches must be a list of strings in {self.source}")
        return list(value)

    @property
    def changelog(self) -> Path:
        return self.root / str(self.data.get("changelog", "CHANGELOG.md"))

    # -- sections and secrets -------------------------------------------
    def section(self, name: str) -> Mapping[str, Any]:
        """The ``[tool.castoff.<name>]`` table, or an empty mapping."""
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] must be a table in {self.source}")
        return value

    def package_section(self, name: str, package: str | None) -> dict[str, Any]:
        """``[tool.castoff.<name>]`` as monorepo ``package`` sees it.

        The shared keys, overlaid key by key by ``[tool.castoff.<name>.packages.<package>]``
        (``packages`` itself is left out). Every package named there must be one of
        ``[tool.castoff.version.packages]``: a typo would otherwise be ignored silently.
        """
        table = dict(self.section(name))
        overrides = table.pop("packages", {})
        if not isinstance(overrides, Mapping) or not all(
            isinstance(v, Mapping) for v in overrides.values()
        ):
            raise ConfigError(f"[{name}.packages] must hold one table per package in {self.source}")
        known = self.section("version").get("packages", {})
        unknown = sorted(set(overrides) - set(known if isinstance(known, Mapping) else ()))
        if unknown:
            raise ConfigError(
                f"[{name}.packages] names {', '.join(unknown)}, not a package of "
                f"[version.packages] in {self.source}"
            )
        if package is not None and package in overrides:
            table.update(overrides[package])
        return table

    def secret(self, env_name: str | None, *, what: str) -> str:
        """Read a secret from the environment variable the config names."""
        if not env_name:
            raise ConfigError(f"{what}: no environment variable is configured")
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(f"{what}: environment variable {env_name} is not set")
        return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        # utf-8-sig: a byte order mark (some Windows editors write one) is skipped
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def load_config(root: Path) -> Config:
    """Load the configuration of the project at ``root``.

    Order: ``castoff.toml`` (whole file, or its ``[tool.castoff]`` table), then
    ``[tool.castoff]`` in ``pyproject.toml``, then settings adopted from
    commitizen / python-semantic-release, then defaults.
    """
    root = root.resolve()
    castoff_toml = root / CONFIG_FILENAME
    if castoff_toml.is_file():
        doc = _read_toml(castoff_toml)
        data = doc.get("tool", {}).get("castoff", doc) if "tool" in doc else doc
        return Config(root=root, data=data, source=CONFIG_FILENAME)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        doc = _read_toml(pyproject)
        table = doc.get("tool", {}).get("castoff")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError("[tool.castoff] in pyproject.toml must be a table")
            return Config(root=root, data=table, source="pyproject.toml [tool.castoff]")
    return _adopted_or_default(root)


def _adopted_or_default(root: Path) -> Config:
    """Settings of another release tool the project already uses, or defaults."""
    from castoff.release import adopt

    adopted = adopt.detect(root)
    if adopted is not None:
        data, source = adopted
        return Config(root=root, data=data, source=source)
    return Config(root=root)
