"""Versions and bumps: SemVer 2.0 and PEP 440, pure functions only.

:func:`parse` reads a version string in the project's scheme; :func:`bump_level`
turns the changes since the last release into ``major`` / ``minor`` /
``patch`` (or ``None``: nothing releasable); :func:`plan_next` decides the next
version, including prereleases (``1.2.0-rc.1`` → ``rc.2`` → ``1.2.0``) and
the manual ``--bump`` / ``--version`` overrides. Nothing here touches git or
files; :mod:`castoff.release.next_version` gathers the inputs.

SemVer is parsed here (a regex); PEP 440 through ``packaging``, imported only
when a PEP 440 version is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, total_ordering
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.errors import ConfigError, UsageError, VersionError
from castoff.release.model import Change

BUMPS = ("major", "minor", "patch")
PRERELEASE_LABELS = ("alpha", "beta", "rc")
_PEP440_LABEL = {"alpha": "a", "beta": "b", "rc": "rc", "a": "a", "b": "b", "c": "rc"}
_LABEL_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "rc": 2, "c": 2}
#: ``prerelease_style``: ``dotted`` ``1.2.0-rc.1`` / ``-alpha.1`` (SemVer 2.0's habit,
#: commitizen's ``semver2``, python-semantic-release); ``compact`` ``1.2.0-rc1`` /
#: ``-a1`` / ``-b1`` (commitizen's ``semver`` scheme). PEP 440 has one spelling.
PRERELEASE_STYLES = ("dotted", "compact")
_COMPACT_LABEL = {"alpha": "a", "beta": "b", "rc": "rc", "a": "a", "b": "b", "c": "rc"}
_KNOWN_PRE = re.compile(r"^(alpha|a|beta|b|rc)\.?(0|[1-9]\d*)$")
_CANONICAL_LABEL = {"a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta", "rc": "rc"}

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_SEMVER_PRE = re.compile(r"^([a-zA-Z]+)[.-]?(\d+)?$")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed version: ``major.minor.patch`` plus an optional prerelease.

    ``pre`` is ``(label, number)`` (``("rc", 1)``) when the prerelease has that
    shape; ``text`` is the canonical spelling in ``scheme``.
    """

    scheme: str
    major: int
    minor: int
    patch: int
    pre: tuple[str, int] | None = None
    text: str = ""
    _key: Any = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    @property
    def is_prerelease(self) -> bool:
        return self._key[1] if self.scheme == "semver" else bool(self._key.is_prerelease)

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def final(self) -> Version:
        """The release this prerelease leads to (``1.2.0-rc.2`` → ``1.2.0``)."""
        return make(self.scheme, self.release)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.scheme == other.scheme and self._sort_key() == other._sort_key()

    def __hash__(self) -> int:
        return hash((self.scheme, self._sort_key()))

    def __lt__(self, other: Version) -> bool:
        if self.scheme != other.scheme:
            raise VersionError(
                f"cannot compare {self} ({self.scheme}) with {other} ({other.scheme})"
            )
        return bool(self._sort_key() < other._sort_key())

    def _sort_key(self) -> Any:
        if self.scheme == "pep440":
            return self._key
        release, is_pre, idents = self._key
        # A release sorts after all its prereleases; identifiers compare numerically first.
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in idents)
        return (release, not is_pre, parts)


def parse(text: str, scheme: str) -> Version:
    """Parse ``text`` (a leading ``v`` is allowed) in ``scheme``; VersionError if malformed."""
    raw = text.strip()
    if raw[:1] in ("v", "V"):
        raw = raw[1:]
    if scheme == "semver":
        return _parse_semver(raw, text)
    if scheme == "pep440":
        return _parse_pep440(raw, text)
    raise VersionError(f"unknown version scheme {scheme!r} (use semver or pep440)")


def _parse_semver(raw: str, original: str) -> Version:
    m = _SEMVER.match(raw)
    if m is None:
        raise VersionError(f"{original!r} is not a SemVer 2.0 version (MAJOR.MINOR.PATCH[-PRE])")
    major, minor, patch = int(m[1]), int(m[2]), int(m[3])
    pre_text = m[4]
    pre: tuple[str, int] | None = None
    if pre_text:
        pm = _SEMVER_PRE.match(pre_text)
        if pm is not None:
            pre = (pm[1], int(pm[2]) if pm[2] is not None else 0)
    text = f"{major}.{minor}.{patch}" + (f"-{pre_text}" if pre_text else "")
    if m[5]:
        text += f"+{m[5]}"
    key = ((major, minor, patch), bool(pre_text), _pre_idents(pre_text))
    return Version("semver", major, minor, patch, pre, text, key)


def _pre_idents(pre_text: str | None) -> tuple[str, ...]:
    """The prerelease identifiers to sort by.

    The usual labels followed by a number sort as ``(label, number)`` in either
    spelling, so commitizen's ``rc0`` / ``a1`` and castoff's ``rc.1`` /
    ``alpha.1`` interleave as the releases they are (``1.1.0-rc0`` <
    ``1.1.0-rc.1``); SemVer 2.0's strict rule would sort ``rc0`` after
    every ``rc.N``.
    """
    if not pre_text:
        return ()
    m = _KNOWN_PRE.match(pre_text)
    if m is not None:
        return (_CANONICAL_LABEL[m[1]], m[2])
    return tuple(pre_text.split("."))


def _parse_pep440(raw: str, original: str) -> Version:
    from packaging.version import InvalidVersion
    from packaging.version import Version as Pep440

    try:
        v = Pep440(raw)
    except InvalidVersion as exc:
        raise VersionError(f"{original!r} is not a PEP 440 version") from exc
    if v.epoch:
        raise VersionError(f"{original!r}: PEP 440 epochs are not supported")
    release = (*v.release, 0, 0)[:3]
    if len(v.release) > 3:
        raise VersionError(f"{original!r}: more than three release numbers are not supported")
    pre = (v.pre[0], v.pre[1]) if v.pre else None
    return Version("pep440", release[0], release[1], release[2], pre, str(v), v)


def make(
    scheme: str,
    release: tuple[int, int, int],
    pre: tuple[str, int] | None = None,
    style: str = "dotted",
) -> Version:
    """Build a version from its parts, spelled canonically for ``scheme``.

    SemVer prereleases follow ``style`` (:data:`PRERELEASE_STYLES`):
    ``1.2.0-rc.1`` (dotted) or ``1.2.0-rc1`` / ``1.2.0-a1`` (compact).
    """
    base = ".".join(str(n) for n in release)
    if pre is None:
        return parse(base, scheme)
    label, number = pre
    if scheme == "pep440":
        return parse(f"{base}{_PEP440_LABEL[label]}{number}", scheme)
    if style == "compact":
        return parse(f"{base}-{_COMPACT_LABEL.get(label, label)}{number}", scheme)
    return parse(f"{base}-{label}.{number}", scheme)


# -- bump rules -------------------------------------------------------------


@dataclass(frozen=True)
class BumpRules:
    """Which change types bump what.

    ``major_version_zero``: breaking → minor on 0.x. ``allow_zero_version``
    false (python-semantic-release 10's default): while the version is 0.x,
    every release is a major one, so the first release is 1.0.0.
    """

    minor_types: tuple[str, ...] = ("feat",)
    patch_types: tuple[str, ...] = ("fix", "perf")
    major_version_zero: bool = False
    allow_zero_version: bool = True


def bump_level(
    changes: Iterable[Change], rules: BumpRules, current: Version | None = None
) -> tuple[str | None, tuple[Change, ...]]:
    """The bump the changes call for, and the changes that call for it.

    Breaking → major (minor while the major is 0 and ``major_version_zero``);
    a minor type → minor; a patch type → patch; anything else → no release.
    """
    found: dict[str, list[Change]] = {"major": [], "minor": [], "patch": []}
    for change in changes:
        if change.breaking:
            found["major"].append(change)
        elif change.conventional and change.type in rules.minor_types:
            found["minor"].append(change)
        elif change.conventional and change.type in rules.patch_types:
            found["patch"].append(change)
    for level in BUMPS:
        if found[level]:
            if level == "major" and rules.major_version_zero and current and current.major == 0:
                return "minor", tuple(found["major"] + found["minor"])
            return level, tuple(found[level])
    return None, ()


def bump(current: Version, level: str) -> Version:
    """``current`` bumped by ``level`` (a prerelease bumps from its own release)."""
    major, minor, patch = current.release
    if level == "major":
        release = (major + 1, 0, 0)
    elif level == "minor":
        release = (major, minor + 1, 0)
    elif level == "patch":
        release = (major, minor, patch + 1)
    else:
        raise VersionError(f"unknown bump {level!r} (use major, minor or patch)")
    return make(current.scheme, release)


# -- next version -------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the next release is and why; ``next is None`` means nothing to release."""

    current: Version | None
    next: Version | None
    bump: str | None
    reasons: tuple[Change, ...]
    message: str


def plan_next(
    *,
    scheme: str,
    current: Version | None,
    last_final: Version | None,
    changes: Sequence[Change],
    rules: BumpRules,
    bump_override: str | None = None,
    version_override: str | None = None,
    prerelease: str | None = None,
    prerelease_start: int = 1,
    prerelease_style: str = "dotted",
    since: str = "the last release",
) -> Plan:
    """Decide the next version.

    ``current`` is the latest release (final or prerelease) and ``last_final``
    the latest final one; ``changes`` are those since ``last_final`` (since
    ``current`` when both are equal). A prerelease run on the same target
    increments the counter; a run without ``prerelease`` finalizes. ``since``
    names where ``changes`` start, for the "no releasable change" message.
    """
    if version_override is not None:
        target = parse(version_override, scheme)
        if current is not None and not target > current:
            raise VersionError(
                f"--version {target} is not greater than the current version {current}"
            )
        return Plan(current, target, None, (), f"version {target} given explicitly")
    if prerelease is not None and prerelease not in PRERELEASE_LABELS:
        raise VersionError(f"--prerelease must be one of {', '.join(PRERELEASE_LABELS)}")
    base = last_final or make(scheme, (0, 0, 0))
    if bump_override is not None:
        if bump_override not in BUMPS:
            raise VersionError(f"--bump must be one of {', '.join(BUMPS)}")
        level: str | None = bump_override
        reasons: tuple[Change, ...] = ()
        why = f"--bump {bump_override} given explicitly"
    else:
        level, reasons = bump_level(changes, rules, base)
        why = _describe(level, reasons)
    # python-semantic-release's reference: the prerelease it continues, else the last final
    latest = current if prerelease and current is not None and current.is_prerelease else base
    if not rules.allow_zero_version and latest.major == 0 and level != "major":
        level = "major"
        why = f"allow_zero_version is false: {latest} leaves 0.x" + (f" ({why})" if reasons else "")
    if level is None:
        if current is not None and current.is_prerelease and prerelease is None:
            target = current.final()
            return Plan(current, target, None, (), f"finalizes prerelease {current}")
        return Plan(current, None, None, (), f"no releasable change since {since}")
    target = bump(base, level)
    if current is not None and current.is_prerelease and target < current.final():
        target = current.final()  # a prerelease already aims higher: keep its release
    if prerelease is None:
        return Plan(current, target, level, reasons, why)
    return Plan(
        current,
        _prerelease_of(target, current, prerelease, prerelease_start, prerelease_style),
        level,
        reasons,
        why,
    )


def _prerelease_of(
    target: Version, current: Version | None, label: str, start: int, style: str
) -> Version:
    scheme = target.scheme
    if current is not None and current.is_prerelease and current.release == target.release:
        if current.pre is None:
            raise VersionError(f"cannot continue prerelease {current}: not LABEL.N")
        cur_label, number = current.pre
        if _LABEL_RANK.get(cur_label, -1) == _LABEL_RANK[label]:
            return make(scheme, target.release, (label, number + 1), style)
        if _LABEL_RANK.get(cur_label, -1) > _LABEL_RANK[label]:
            raise VersionError(f"--prerelease {label} would go back from {current}")
    return make(scheme, target.release, (label, start), style)


def _describe(level: str | None, reasons: Sequence[Change]) -> str:
    if level is None:
        return "no releasable change"
    kinds = sorted({"breaking" if c.breaking else c.type for c in reasons})
    return f"{level}: {len(reasons)} change(s) of type {', '.join(kinds)}"


# -- settings -------------------------------------------------------------------


@dataclass(frozen=True)
class VersionSettings:
    """The version component's settings for the project or one monorepo package."""

    scheme: str
    tag_format: str
    #: the configured version files; None: not configured (see :attr:`version_files`)
    configured_files: tuple[str, ...] | None
    root: Path
    release_branches: tuple[str, ...]
    changelog: Path
    rules: BumpRules
    commit: bool = True
    commit_message: str = "chore(release): {version}"
    sign: bool = False
    allow_detached: bool = False
    prerelease_start: int = 1
    prerelease_style: str = "dotted"
    initial_version: str = "files"
    remote: str = "origin"
    package: str | None = None
    paths: tuple[str, ...] = ()

    @property
    def directory(self) -> str:
        """A monorepo package's directory (its first path, relative to the repository's
        top), where its version files, changelog and build live; ``""`` for the project."""
        return self.paths[0].strip("/") if self.paths else ""

    @cached_property
    def version_files(self) -> tuple[str, ...]:
        """The configured version files; not configured, the manifests in
        :attr:`directory` that declare a version (none without a release commit to
        carry them). Found on first use, so settings read for their paths or tag
        format read no manifest."""
        if self.configured_files is not None:
            return self.configured_files
        if not self.commit:
            return ()
        from castoff.release import versionfiles

        return tuple(versionfiles.detect(self.root, self.directory))


def version_settings(config: Config, package: str | None = None) -> VersionSettings:
    """Read ``[tool.castoff.version]`` (and the shared keys) into VersionSettings.

    With ``packages`` configured, ``package`` selects one: its ``path`` filters
    commits, its ``tag_format`` defaults to ``"<name>-v{version}"`` and its
    ``version_files`` / ``changelog`` are relative to its path.
    """
    sec = config.section("version")

    def types(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = sec.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"version.{key} must be a list of strings in {config.source}")
        return tuple(value)

    rules = BumpRules(
        minor_types=types("minor_types", ("feat",)),
        patch_types=types("patch_types", ("fix", "perf")),
        major_version_zero=bool(sec.get("major_version_zero", False)),
        allow_zero_version=bool(sec.get("allow_zero_version", True)),
    )
    files = config.version_files
    base = VersionSettings(
        scheme=config.version_scheme,
        tag_format=config.tag_format,
        configured_files=None if files is None else tuple(files),
        root=config.root,
        release_branches=tuple(config.release_branches),
        changelog=config.changelog,
        rules=rules,
        commit=bool(sec.get("commit", True)),
        commit_message=str(sec.get("commit_message", "chore(release): {version}")),
        sign=bool(sec.get("sign", False)),
        allow_detached=bool(sec.get("allow_detached", False)),
        prerelease_start=int(sec.get("prerelease_start", 1)),
        prerelease_style=_choice(sec, "prerelease_style", PRERELEASE_STYLES, config.source),
        initial_version=_initial_version(sec, config),
        remote=str(sec.get("remote", "origin")),
    )
    packages = sec.get("packages", {})
    if not isinstance(packages, Mapping):
        raise ConfigError(f"version.packages must be a table in {config.source}")
    if package is None:
        if packages:
            raise UsageError(f"this is a monorepo: choose --package ({', '.join(packages)})")
        return base
    if package not in packages:
        known = ", ".join(packages) or "none configured"
        raise UsageError(f"unknown package {package!r} (packages: {known})")
    pkg = packages[package]
    raw_paths = pkg.get("paths", [pkg["path"]] if "path" in pkg else [])
    if not raw_paths:
        raise ConfigError(f"version.packages.{package} needs a path in {config.source}")
    root_dir = str(raw_paths[0]).rstrip("/")
    tag_format = str(pkg.get("tag_format", f"{package}-v{{version}}"))
    if "{version}" not in tag_format:
        raise ConfigError(f"version.packages.{package}.tag_format must contain '{{version}}'")
    return replace(
        base,
        tag_format=tag_format,
        configured_files=(
            tuple(f"{root_dir}/{f}" for f in pkg["version_files"])
            if "version_files" in pkg
            else None
        ),
        changelog=config.root / root_dir / str(pkg.get("changelog", "CHANGELOG.md")),
        package=package,
        paths=tuple(str(p) for p in raw_paths),
    )


def _initial_version(sec: Mapping[str, Any], config: Config) -> str:
    value = str(sec.get("initial_version", "files"))
    if value != "files":
        try:
            parse(value, config.version_scheme)
        except VersionError as exc:
            raise ConfigError(
                f"version.initial_version must be 'files' or a version ({exc}) in {config.source}"
            ) from exc
    return value


def _choice(sec: Mapping[str, Any], key: str, allowed: Sequence[str], source: str) -> str:
    value = sec.get(key, allowed[0])
    if value not in allowed:
        raise ConfigError(
            f"version.{key} must be one of {', '.join(allowed)} (got {value!r}) in {source}"
        )
    return str(value)


def package_names(config: Config) -> list[str]:
    """The monorepo packages configured under ``version.packages`` (empty for one project)."""
    packages = config.section("version").get("packages", {})
    return list(packages) if isinstance(packages, Mapping) else []


def package_of_tag(config: Config, tag: str) -> str | None:
    """The monorepo package whose ``tag_format`` ``tag`` matches (None: no package's)."""
    from castoff.release.git import tag_pattern, version_key

    for name in package_names(config):
        found = tag_pattern(version_settings(config, name).tag_format).fullmatch(tag)
        if found is not None and version_key(found["version"]) is not None:
            return name
    return None


def tag_format_of(config: Config, package: str | None) -> str:
    """The tag format of monorepo ``package`` (default ``<name>-v{version}``), else the
    project's."""
    return version_settings(config, package).tag_format if package else config.tag_format


def resolve_package(config: Config, package: str | None, tag: str | None = None) -> str | None:
    """The monorepo package an operation on a release is about: ``package`` (checked),
    else the one whose tag format ``tag`` matches; None for a single project.

    In a monorepo with neither: UsageError naming the packages (exit 2).
    """
    if package is not None:
        version_settings(config, package)  # an unknown package: UsageError listing them
        return package
    names = package_names(config)
    if not names:
        return None
    found = package_of_tag(config, tag) if tag else None
    if found is None:
        raise UsageError(f"this is a monorepo: choose --package ({', '.join(names)})")
    return found
