"""``[tool.castoff.validate]``: the validation settings, read and checked once.

Every key is optional; see docs/validate.md for the table. Malformed values
raise :class:`~castoff.errors.ConfigError` naming the key, before any check runs.
In a monorepo ``[tool.castoff.validate.packages.<name>]`` overrides any key for
that package's validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from castoff.config import Config
from castoff.errors import ConfigError

#: A command: one shell string (run by ``/bin/sh -c``) or an argv list.
Command = str | tuple[str, ...]

DEFAULT_TIMEOUT = 600.0
DEFAULT_CONCURRENCY = 4
DEFAULT_DEADLINE = 60.0
INDEX_KINDS = ("pypi", "npm")
DEFAULT_INDEX_URLS = {"pypi": "https://pypi.org/simple", "npm": "https://registry.npmjs.org"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class CustomCheck:
    """A project-defined pre-flight check: a command and what it must produce."""

    id: str
    command: Command
    expect_exit: int = 0
    expect_output: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """An HTTP endpoint the deployed release must answer on."""

    id: str
    url: str
    expect_status: int = 200
    version_field: str | None = "version"  # None: the status code alone decides
    deadline_seconds: float = DEFAULT_DEADLINE
    verify_tls: bool = True
    request_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class IndexCheck:
    """A package index where the released version must become visible."""

    url: str
    kind: str
    package: str | None = None
    deadline_seconds: float = DEFAULT_DEADLINE
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class ValidateSettings:
    """The typed ``[tool.castoff.validate]`` table (all defaults when absent)."""

    test_command: Command | None = None
    build: bool | Command = True
    build_isolation: bool = True
    build_timeout: float = DEFAULT_TIMEOUT
    twine_check: bool = True
    smoke_command: Command | None = None
    smoke_install_args: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    checks: tuple[CustomCheck, ...] = ()
    health: tuple[HealthCheck, ...] = ()
    index: IndexCheck | None = None
    skip: frozenset[str] = frozenset()


def _where(key: str) -> str:
    return f"[tool.castoff.validate] {key}" if key else "[tool.castoff.validate]"


def _optional_command(t: Mapping[str, Any], key: str) -> Command | None:
    """``key``'s command; absent or ``""`` means not configured (the default applies)."""
    value = t.get(key)
    if value is None or value == "":
        return None
    return _command(value, key)


def _command(value: Any, key: str) -> Command:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{_where(key)} must be a command string or a non-empty list of strings")


def _number(value: Any, key: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{_where(key)} must be a number (got {value!r})")
    if positive and value <= 0:
        raise ConfigError(f"{_where(key)} must be greater than 0 (got {value!r})")
    return float(value)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{_where(key)} must be true or false (got {value!r})")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{_where(key)} must be a list of strings")
    return tuple(value)


def _table(value: Any, key: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_where(key)} must be a table")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ConfigError(f"{_where(key)}: unknown key(s) {', '.join(unknown)}")
    return value


def _custom(value: Any, n: int) -> CustomCheck:
    key = f"checks[{n}]"
    t = _table(value, key, ("id", "command", "expect_exit", "expect_output", "timeout"))
    check_id = t.get("id")
    if not isinstance(check_id, str) or not _ID.match(check_id):
        raise ConfigError(f"{_where(key)}.id must be a name of letters, digits, '.', '_' or '-'")
    if "command" not in t:
        raise ConfigError(f"{_where(key)} needs a command")
    expect_exit = t.get("expect_exit", 0)
    if isinstance(expect_exit, bool) or not isinstance(expect_exit, int):
        raise ConfigError(f"{_where(key)}.expect_exit must be an integer")
    pattern = t.get("expect_output")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise ConfigError(f"{_where(key)}.expect_output must be a regular expression string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{_where(key)}.expect_output is not a valid regex: {exc}") from exc
    timeout = _number(t["timeout"], f"{key}.timeout") if "timeout" in t else None
    return CustomCheck(
        check_id, _command(t["command"], f"{key}.command"), expect_exit, pattern, timeout
    )


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{_where(key)} must be an http:// or https:// URL (got {value!r})")
    return value


def _health(value: Any, n: int) -> HealthCheck:
    key = f"health[{n}]"
    allowed = ("id", "url", "expect_status", "version_field", "deadline_seconds", "verify_tls")
    t = _table(value, key, (*allowed, "request_timeout"))
    check_id = t.get("id", str(n + 1))
    if not isinstance(check_id, str | int) or not _ID.match(str(check_id)):
        raise ConfigError(f"{_where(key)}.id must be a name of letters, digits, '.', '_' or '-'")
    status = t.get("expect_status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ConfigError(f"{_where(key)}.expect_status must be an HTTP status code")
    field_name = t.get("version_field", "version")
    if not isinstance(field_name, str) or (field_name and not all(field_name.split("."))):
        raise ConfigError(
            f"{_where(key)}.version_field must be a (dotted) JSON field name, "
            'or "" to check the status code only'
        )
    return HealthCheck(
        id=str(check_id),
        url=_url(t.get("url"), f"{key}.url"),
        expect_status=status,
        version_field=field_name or None,
        deadline_seconds=_number(
            t.get("deadline_seconds", DEFAULT_DEADLINE), f"{key}.deadline_seconds"
        ),
        verify_tls=_bool(t.get("verify_tls", True), f"{key}.verify_tls"),
        request_timeout=_number(t.get("request_timeout", 10.0), f"{key}.request_timeout"),
    )


def _index(value: Any) -> IndexCheck:
    t = _table(value, "index", ("url", "kind", "package", "deadline_seconds", "verify_tls"))
    kind = t.get("kind", "pypi")
    if kind not in INDEX_KINDS:
        raise ConfigError(f"{_where('index.kind')} must be one of {', '.join(INDEX_KINDS)}")
    package = t.get("package")
    if package is not None and (not isinstance(package, str) or not package):
        raise ConfigError(f"{_where('index.package')} must be a package name")
    return IndexCheck(
        url=_url(t.get("url", DEFAULT_INDEX_URLS[kind]), "index.url").rstrip("/"),
        kind=kind,
        package=package,
        deadline_seconds=_number(
            t.get("deadline_seconds", DEFAULT_DEADLINE), "index.deadline_seconds"
        ),
        verify_tls=_bool(t.get("verify_tls", True), "index.verify_tls"),
    )


KEYS = (
    "test_command",
    "build",
    "build_isolation",
    "build_timeout",
    "twine_check",
    "smoke_command",
    "smoke_install_args",
    "timeout",
    "concurrency",
    "checks",
    "health",
    "index",
    "skip",
)


def load_settings(config: Config, package: str | None = None) -> ValidateSettings:
    """Read and check ``[tool.castoff.validate]``.

    With ``package`` (a monorepo package), ``[tool.castoff.validate.packages.<package>]``
    overrides the shared keys one by one; every package's table is checked too.
    """
    raw = config.package_section("validate", None)
    overrides = config.section("validate").get("packages", {})
    for name, table in overrides.items():
        _table(table, f"packages.{name}", KEYS)
    _table(raw, "", KEYS)
    t = config.package_section("validate", package)
    build: bool | Command = True
    if "build" in t:
        raw = t["build"]
        build = raw if isinstance(raw, bool) else _command(raw, "build")
    timeout = _number(t.get("timeout", DEFAULT_TIMEOUT), "timeout")
    concurrency = t.get("concurrency", DEFAULT_CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"{_where('concurrency')} must be an integer of at least 1")
    checks_raw = t.get("checks", [])
    health_raw = t.get("health", [])
    if not isinstance(checks_raw, list):
        raise ConfigError(f"{_where('checks')} must be a list of tables")
    if not isinstance(health_raw, list):
        raise ConfigError(f"{_where('health')} must be a list of tables")
    checks = tuple(_custom(v, n) for n, v in enumerate(checks_raw))
    health = tuple(_health(v, n) for n, v in enumerate(health_raw))
    for label, ids in (("checks", [c.id for c in checks]), ("health", [h.id for h in health])):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"{_where(label)}: duplicate id(s) {', '.join(dupes)}")
    return ValidateSettings(
        test_command=_optional_command(t, "test_command"),
        build=build,
        build_isolation=_bool(t.get("build_isolation", True), "build_isolation"),
        build_timeout=_number(t.get("build_timeout", timeout), "build_timeout"),
        twine_check=_bool(t.get("twine_check", True), "twine_check"),
        smoke_command=_optional_command(t, "smoke_command"),
        smoke_install_args=_strings(t.get("smoke_install_args", []), "smoke_install_args"),
        timeout=timeout,
        concurrency=concurrency,
        checks=checks,
        health=health,
        index=_index(t["index"]) if "index" in t else None,
        skip=frozenset(_strings(t.get("skip", []), "skip")),
    )
