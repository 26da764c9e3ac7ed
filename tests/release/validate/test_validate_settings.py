"""Reading [tool.castoff.validate]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from castoff.config import Config
from castoff.errors import ConfigError
from castoff.release.validate.settings import load_settings


def _settings(table: dict[str, Any]) -> Any:
    return load_settings(Config(root=Path("/nowhere"), data={"validate": table}))


def test_defaults_when_the_table_is_absent() -> None:
    """No table: build on, no tests, isolation on, four workers."""
    s = load_settings(Config(root=Path("/nowhere")))
    assert s.build is True
    assert s.test_command is None
    assert s.build_isolation
    assert s.concurrency == 4
    assert s.checks == ()


def test_custom_checks_and_health_endpoints_are_read() -> None:
    """checks and health tables become typed specs with defaults."""
    s = _settings(
        {
            "checks": [{"id": "lint", "command": ["ruff", "check"], "expect_output": "ok"}],
            "health": [{"url": "https://example.test/health", "deadline_seconds": 5}],
            "index": {"kind": "npm", "package": "left-pad"},
        }
    )
    assert s.checks[0].command == ("ruff", "check")
    assert s.checks[0].expect_exit == 0
    assert s.health[0].id == "1"
    assert s.health[0].verify_tls
    assert s.health[0].deadline_seconds == 5
    assert s.index is not None
    assert s.index.url == "https://registry.npmjs.org"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"timeout": -1}, "timeout must be greater than 0"),
        ({"build": 3}, "build must be a command"),
        ({"checks": [{"id": "x"}]}, "needs a command"),
        ({"checks": [{"id": "x", "command": "true", "expect_output": "("}]}, "not a valid regex"),
        ({"health": [{"url": "ftp://x"}]}, "http:// or https:// URL"),
        ({"index": {"kind": "cargo"}}, "must be one of pypi, npm"),
        ({"concurrency": 0}, "at least 1"),
        ({"tset_command": "pytest"}, "unknown key\\(s\\) tset_command"),
        ({"checks": [{"id": "a", "command": "x"}, {"id": "a", "command": "y"}]}, "duplicate id"),
        ({"health": [{"url": "http://x", "version_field": 3}]}, "version_field must be"),
        ({"health": [{"url": "http://x", "version_field": "a..b"}]}, "version_field must be"),
        ({"smoke_command": []}, "smoke_command must be a command"),
    ],
)
def test_malformed_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    """Each malformed value is a ConfigError naming what is wrong."""
    with pytest.raises(ConfigError, match=message):
        _settings(table)


def test_empty_version_field_checks_the_status_code_only() -> None:
    """version_field = "" is accepted and means: no JSON version comparison."""
    s = _settings({"health": [{"url": "http://x/health", "version_field": ""}]})
    assert s.health[0].version_field is None


def test_empty_commands_mean_the_default() -> None:
    """smoke_command = "" (as docs/configuration.md shows) and test_command = "" mean unset."""
    s = _settings({"smoke_command": "", "test_command": ""})
    assert s.smoke_command is None
    assert s.test_command is None


def _monorepo(validate: dict[str, Any]) -> Config:
    packages = {"pkg-a": {"path": "packages/a"}, "pkg-b": {"path": "packages/b"}}
    return Config(
        root=Path("/nowhere"), data={"version": {"packages": packages}, "validate": validate}
    )


def test_a_package_table_overrides_the_shared_keys() -> None:
    """[validate.packages.pkg-a] replaces keys for pkg-a only; the others keep the shared ones."""
    config = _monorepo(
        {
            "test_command": "pytest -q",
            "skip": ["smoke"],
            "packages": {"pkg-a": {"test_command": "pytest -q packages/a", "concurrency": 2}},
        }
    )
    a, b, shared = (load_settings(config, p) for p in ("pkg-a", "pkg-b", None))
    assert (a.test_command, a.concurrency, a.skip) == ("pytest -q packages/a", 2, {"smoke"})
    assert (b.test_command, b.concurrency) == ("pytest -q", 4)
    assert shared.test_command == "pytest -q"


def test_a_package_table_is_checked_like_the_shared_one() -> None:
    """An unknown key, or a package not in [version.packages], is a ConfigError."""
    with pytest.raises(ConfigError, match=r"validate\] packages\.pkg-a: unknown key\(s\) tests"):
        load_settings(_monorepo({"packages": {"pkg-a": {"tests": "x"}}}))
    with pytest.raises(ConfigError, match="names pkg-c, not a package of"):
        load_settings(_monorepo({"packages": {"pkg-c": {"timeout": 5}}}), "pkg-a")
