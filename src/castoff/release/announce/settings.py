"""The ``[tool.castoff.announce]`` table, read once into typed settings.

::

    [tool.castoff.announce]
    project_name = "castoff"            # default: [project].name, else the folder name
    notes_url = "https://example.org/releases/{tag}"   # link to the full notes
    channels = ["github", "slack", "email"]            # what `announce send` delivers
    templates = { slack = "announce/slack.j2" }        # override any draft's template
    retries = 3                          # delivery attempts after the first, on 5xx/timeouts
    backoff = 0.5                        # seconds, doubled per retry
    timeout = 10.0                       # seconds per HTTP/SMTP operation
    allow_insecure = false               # allow http:// and plain SMTP to non-loopback hosts

    [tool.castoff.announce.slack]
    webhook_env = "SLACK_WEBHOOK_URL"

    [tool.castoff.announce.packages.pkg-a]   # a monorepo package: any key above
    project_name = "Widget A"                # default: the package's name

Channel tables are validated when a channel is delivered (see ``delivery``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.errors import ConfigError

FORGES = ("github", "gitlab", "gitea")
WEBHOOKS = ("slack", "discord", "teams", "mattermost", "webhook")
DELIVERABLE = (*FORGES, "email", *WEBHOOKS)
DRAFT_ONLY = ("social", "blog")
CHANNELS = (*DELIVERABLE, *DRAFT_ONLY)
# Template names a user may override: one per text a draft renders.
TEMPLATE_NAMES = (
    "release",
    *FORGES,
    "email_subject",
    "email_text",
    "email_html",
    "slack",
    "discord",
    "teams",
    "mattermost",
    "social",
    "blog",
)


@dataclass(frozen=True)
class AnnounceSettings:
    """Typed ``[tool.castoff.announce]`` settings."""

    root: Path
    project_name: str
    notes_url: str | None = None
    channels: tuple[str, ...] = ()
    templates: Mapping[str, Path] = field(default_factory=dict)
    retries: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    allow_insecure: bool = False
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "defaults"

    def channel(self, name: str) -> Mapping[str, Any]:
        """The ``[tool.castoff.announce.<name>]`` table (may be empty)."""
        return self.tables.get(name, {})


def load_settings(config: Config, package: str | None = None) -> AnnounceSettings:
    """Read and check the announce section of ``config``.

    With monorepo ``package``, ``[announce.packages.<package>]`` overrides the shared
    keys one by one, and the project's name is that table's ``project_name``, else the
    package's name (the shared ``project_name`` names the whole repository).
    """
    table = config.package_section("announce", package)
    where = f"[announce] in {config.source}"
    channels = _str_list(table.get("channels", []), f"channels in {where}")
    for name in channels:
        check_channel(name, where=where)
    templates_raw = table.get("templates", {})
    if not isinstance(templates_raw, Mapping):
        raise ConfigError(f"templates in {where} must be a table of name = path")
    templates: dict[str, Path] = {}
    for name, rel in templates_raw.items():
        if name not in TEMPLATE_NAMES:
            raise ConfigError(
                f"templates.{name} in {where}: unknown template"
                f" (known: {', '.join(TEMPLATE_NAMES)})"
            )
        if not isinstance(rel, str):
            raise ConfigError(f"templates.{name} in {where} must be a path string")
        templates[name] = (config.root / rel).resolve()
    tables = {name: table[name] for name in CHANNELS if isinstance(table.get(name), Mapping)}
    notes_url = table.get("notes_url")
    if notes_url is not None and not isinstance(notes_url, str):
        raise ConfigError(f"notes_url in {where} must be a string")
    return AnnounceSettings(
        root=config.root,
        project_name=str(_package_project_name(config, package) or _shared_name(table, config)),
        notes_url=notes_url,
        channels=tuple(channels),
        templates=templates,
        retries=_number(table, "retries", 3, int, where),
        backoff=_number(table, "backoff", 0.5, float, where),
        timeout=_number(table, "timeout", 10.0, float, where),
        allow_insecure=bool(table.get("allow_insecure", False)),
        tables=tables,
        source=config.source,
    )


def check_channel(name: str, *, where: str = "the command line") -> str:
    """``name`` if it is a known channel; else a ConfigError naming the known ones."""
    if name not in CHANNELS:
        raise ConfigError(f"unknown channel {name!r} in {where} (known: {', '.join(CHANNELS)})")
    return name


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what} must be a list of strings")
    return list(value)


def _number(table: Mapping[str, Any], key: str, default: float, kind: type, where: str) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key} in {where} must be a non-negative number")
    return kind(value)


def _package_project_name(config: Config, package: str | None) -> str | None:
    if package is None:
        return None
    own = config.section("announce").get("packages", {}).get(package, {})
    return str(own.get("project_name") or package)


def _shared_name(table: Mapping[str, Any], config: Config) -> str:
    return str(table.get("project_name") or _project_name(config.root))


def _project_name(root: Path) -> str:
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        except (OSError, tomllib.TOMLDecodeError):
            name = None
        if isinstance(name, str) and name:
            return name
    return root.name
