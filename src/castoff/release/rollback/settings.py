"""``[tool.castoff.rollback]``: the rollback component's configuration."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from castoff.config import Config
from castoff.errors import ConfigError
from castoff.release.rollback.risks import DEFAULT_MIGRATION_PATTERNS

TEMPLATE_FIELDS = frozenset({"previous", "previous_tag", "version", "tag", "name", "remote"})
DEFAULT_VERIFY_TIMEOUT = 600.0
DEFAULT_STEP_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class RollbackSettings:
    """Validated rollback settings (all optional; defaults documented in docs/rollback.md)."""

    build_command: str | None = None
    test_command: str | None = None
    verify_timeout: float = DEFAULT_VERIFY_TIMEOUT
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    deploy_command: str | None = None
    yank_command: str | None = None
    remote: str = "origin"
    migration_paths: tuple[str, ...] = DEFAULT_MIGRATION_PATTERNS


def _optional_str(table: Mapping[str, Any], key: str, source: str) -> str | None:
    value = table.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"[rollback] {key} must be a string in {source}")
    return value


def _seconds(table: Mapping[str, Any], key: str, default: float, source: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"[rollback] {key} must be a positive number of seconds in {source}")
    return float(value)


def _check_template(value: str | None, key: str, source: str) -> None:
    if value is None:
        return
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"[rollback] {key} is not a valid template ({exc}) in {source}") from exc
    unknown = sorted(n for n in names if n not in TEMPLATE_FIELDS)
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
        raise ConfigError(
            f"[rollback] {key} uses unknown placeholder {{{unknown[0]}}} in {source} "
            f"(allowed: {allowed})"
        )


def load_settings(config: Config, package: str | None = None) -> RollbackSettings:
    """Read and validate ``[rollback]`` from ``config``.

    With monorepo ``package``, ``[rollback.packages.<package>]`` overrides the shared
    keys one by one (a package's own build, deploy or yank command).
    """
    table = config.package_section("rollback", package)
    src = config.source
    timeout = table.get("verify_timeout", DEFAULT_VERIFY_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(
            f"[rollback] verify_timeout must be a positive number of seconds in {src}"
        )
    remote = _optional_str(table, "remote", src) or "origin"
    patterns = table.get("migration_paths", list(DEFAULT_MIGRATION_PATTERNS))
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"[rollback] migration_paths must be a list of glob patterns in {src}")
    settings = RollbackSettings(
        build_command=_optional_str(table, "build_command", src),
        test_command=_optional_str(table, "test_command", src),
        verify_timeout=_seconds(table, "verify_timeout", DEFAULT_VERIFY_TIMEOUT, src),
        step_timeout=_seconds(table, "step_timeout", DEFAULT_STEP_TIMEOUT, src),
        deploy_command=_optional_str(table, "deploy_command", src),
        yank_command=_optional_str(table, "yank_command", src),
        remote=remote,
        migration_paths=tuple(patterns),
    )
    _check_template(settings.deploy_command, "deploy_command", src)
    _check_template(settings.yank_command, "yank_command", src)
    return settings
