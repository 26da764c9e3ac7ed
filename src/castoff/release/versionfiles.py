"""Version files: find and replace the version, touching only its bytes.

A version file is configured as ``"path"``, ``"path:key.path"`` (TOML / JSON)
or ``"path:regex"`` (commitizen's meaning: in lines the regex matches, the old
version is replaced). A bare path picks the rule from the file name:

- ``pyproject.toml`` → ``project.version`` or ``tool.poetry.version`` (tomlkit)
- ``Cargo.toml`` → ``package.version`` or ``workspace.package.version``
- ``package.json`` → top-level ``"version"`` (indentation and key order kept)
- ``setup.cfg`` → ``version`` in ``[metadata]``
- ``*.py`` → ``__version__ = "…"``
- anything else → every occurrence of the old version

:func:`plan_updates` reads the files and returns the changes (pure text
transforms); :func:`write_changes` writes them atomically. A file that holds
neither the old nor the new version is an error, never a silent skip; one
already holding the new version is reported ``already`` (re-runs are safe).
Several entries naming the same file (``pyproject.toml`` and
``pyproject.toml:tool.commitizen.version``) are applied one after the other
to the same text: one change per file, nothing lost. A UTF-8 byte order mark
is skipped for parsing and kept in the file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from castoff.errors import ConfigError, VersionError
from castoff.release.textfiles import write_atomic

_KEY_PATH = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
_DEFAULT_KEYS = {
    "pyproject.toml": ("project.version", "tool.poetry.version"),
    "Cargo.toml": ("package.version", "workspace.package.version"),
    "package.json": ("version",),
}
_PY_VERSION = re.compile(r"""^(\s*__version__\s*(?::\s*str\s*)?=\s*)(["'])([^"'\n]*)\2""", re.M)
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
BOM = "\ufeff"


@dataclass(frozen=True)
class VersionFile:
    """One configured version file: a path relative to the root and its selector."""

    path: str
    selector: str | None = None

    @classmethod
    def parse(cls, spec: str) -> VersionFile:
        path, sep, selector = spec.partition(":")
        if not path or (sep and not selector):
            raise ConfigError(
                f"version_files entry {spec!r}: use 'path', 'path:regex' or 'path:key'"
            )
        return cls(path, selector or None)

    def __str__(self) -> str:
        return f"{self.path}:{self.selector}" if self.selector else self.path


@dataclass(frozen=True)
class FileChange:
    """The planned update of one version file; ``status`` is ``update`` or ``already``."""

    path: str
    rule: str
    status: str
    before: str
    after: str

    def diff(self) -> str:
        """A unified diff of the change (empty when already up to date)."""
        import difflib

        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{self.path}",
                f"b/{self.path}",
            )
        )


# -- reading ------------------------------------------------------------------


def read_version(text: str, vf: VersionFile) -> str | None:
    """The version ``text`` declares under ``vf``'s rule, or None (regex rules cannot say)."""
    found = find_version(text, vf)
    return found[0] if found else None


def detect(root: Path, base: str = "") -> list[str]:
    """The manifests in ``base`` that declare a static version: the default version files.

    With ``version_files`` not configured, these are what the release keeps in
    step and what pre-flight compares: ``pyproject.toml`` (``project.version``
    or ``tool.poetry.version``), ``package.json`` and ``Cargo.toml``, where they
    exist and name a version (a dynamic version, or a file that cannot be
    parsed, is not one). ``base``: a monorepo package's directory.
    """
    found: list[str] = []
    for name in _DEFAULT_KEYS:
        path = f"{base}/{name}" if base else name
        try:
            text = (root / path).read_text(encoding="utf-8")
            if read_version(text, VersionFile.parse(path)) is not None:
                found.append(path)
        except (OSError, UnicodeDecodeError, VersionError):
            continue
    return found


def find_version(text: str, vf: VersionFile) -> tuple[str, str] | None:
    """``(version, where)`` ``text`` declares under ``vf``'s rule (``where``: the key or
    rule, e.g. ``project.version``), or None (regex rules cannot say)."""
    text = text.removeprefix(BOM)
    name = Path(vf.path).name
    keys = _keys_for(text, vf)
    if keys is not None:
        for key in keys:
            value = _lookup(_load(text, vf.path), key)
            if isinstance(value, str):
                return value, key
        return None
    if vf.selector is None and name == "setup.cfg":
        span = _setup_cfg_span(text)
        return (text[span[0] : span[1]], "[metadata] version") if span else None
    if vf.selector is None and name.endswith(".py"):
        m = _PY_VERSION.search(text)
        return (m[3], "__version__") if m else None
    return None


def _load(text: str, path: str) -> Any:
    try:
        return json.loads(text) if path.endswith(".json") else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise VersionError(f"{path} cannot be parsed: {exc}") from exc


def _lookup(doc: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _keys_for(text: str, vf: VersionFile) -> tuple[str, ...] | None:
    """Key paths to try for a structured (TOML / JSON) file, or None for text rules."""
    if not vf.path.endswith((".toml", ".json")):
        return None
    if vf.selector is None:
        defaults = _DEFAULT_KEYS.get(Path(vf.path).name)
        if defaults is None and vf.path.endswith(".json"):
            defaults = ("version",)
        return defaults
    if _KEY_PATH.match(vf.selector) and isinstance(_lookup(_load(text, vf.path), vf.selector), str):
        return (vf.selector,)
    return None


# -- replacing ----------------------------------------------------------------


def _version_re(version: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.]){re.escape(version)}(?![\d]|\.\d|[-+][0-9A-Za-z])")


def replace_version(text: str, vf: VersionFile, old: str, new: str) -> tuple[str, str]:
    """``text`` with ``old`` → ``new`` under ``vf``'s rule, and the rule's name.

    Raises VersionError when the rule finds no ``old`` to replace. A leading
    byte order mark is kept.
    """
    if text.startswith(BOM):
        out, rule = replace_version(text[1:], vf, old, new)
        return BOM + out, rule
    name = Path(vf.path).name
    keys = _keys_for(text, vf)
    if keys is not None:
        doc = _load(text, vf.path)
        for key in keys:
            value = _lookup(doc, key)
            if value == old:
                if vf.path.endswith(".json"):
                    return _replace_json(text, key, new), key
                return _replace_toml(text, key, new), key
        found = next((v for k in keys if isinstance(v := _lookup(doc, k), str)), None)
        raise VersionError(
            f"{vf.path}: {' / '.join(keys)} is {found!r}, expected the current version {old}"
        )
    if vf.selector is None and name == "setup.cfg":
        span = _setup_cfg_span(text)
        if span is None or text[span[0] : span[1]] != old:
            raise VersionError(f"{vf.path}: [metadata] version is not {old}")
        return text[: span[0]] + new + text[span[1] :], "[metadata] version"
    if vf.selector is None and name.endswith(".py"):
        m = _PY_VERSION.search(text)
        if m is None or m[3] != old:
            raise VersionError(f"{vf.path}: no __version__ = {old!r}")
        return text[: m.start(3)] + new + text[m.end(3) :], "__version__"
    pattern = _version_re(old)
    if vf.selector is None:
        out, count = pattern.subn(new, text)
        if not count:
            raise VersionError(f"{vf.path} does not contain the current version {old}")
        return out, "every occurrence"
    try:
        line_re = re.compile(vf.selector)
    except re.error as exc:
        raise ConfigError(f"version_files {vf}: invalid regex: {exc}") from exc
    lines = text.splitlines(keepends=True)
    count = 0
    for i, line in enumerate(lines):
        if line_re.search(line):
            lines[i], n = pattern.subn(new, line)
            count += n
    if not count:
        raise VersionError(f"{vf.path}: no line matching {vf.selector!r} contains {old}")
    return "".join(lines), f"lines matching {vf.selector!r}"


def holds_version(text: str, vf: VersionFile, version: str) -> bool:
    """True when ``vf``'s rule finds ``version`` in ``text`` (the file is up to date)."""
    try:
        replace_version(text, vf, version, version)
    except VersionError:
        return False
    return True


def _replace_toml(text: str, key: str, new: str) -> str:
    import tomlkit
    from tomlkit.items import String

    doc = tomlkit.parse(text)
    *parents, last = key.split(".")
    table: Any = doc
    for part in parents:
        table = table[part]
    item = table[last]
    table[last] = String.from_raw(new, type_=item.type) if isinstance(item, String) else new
    return tomlkit.dumps(doc)


def _replace_json(text: str, key: str, new: str) -> str:
    start, end = _json_span(text, key.split("."))
    return text[:start] + json.dumps(new)[1:-1] + text[end:]


def _json_span(text: str, path: Sequence[str]) -> tuple[int, int]:
    """The span of the string value at ``path`` (inside its quotes)."""
    decoder = json.JSONDecoder()
    pos = 0
    for depth, part in enumerate(path):
        pos = text.index("{", pos) + 1
        while True:
            key_start = text.index('"', pos)
            key, pos = decoder.raw_decode(text, key_start)
            pos = text.index(":", pos) + 1
            while text[pos] in " \t\r\n":
                pos += 1
            if key == part:
                break
            _, pos = decoder.raw_decode(text, pos)
            pos = text.index(",", pos) + 1
        if depth == len(path) - 1:
            _, end = decoder.raw_decode(text, pos)
            return pos + 1, end - 1
    raise ValueError(path)


def _setup_cfg_span(text: str) -> tuple[int, int] | None:
    section = None
    offset = 0
    for line in text.splitlines(keepends=True):
        header = _SECTION.match(line)
        if header:
            section = header[1].strip()
        elif section == "metadata":
            m = re.match(r"^version\s*[=:]\s*(\S+)", line)
            if m:
                return offset + m.start(1), offset + m.end(1)
        offset += len(line)
    return None


# -- files ----------------------------------------------------------------------


def plan_updates(
    root: Path, specs: Iterable[str | VersionFile], old: str, new: str
) -> list[FileChange]:
    """Read each version file and plan its ``old`` → ``new`` update.

    Entries naming the same file are applied in turn to the text the previous
    one produced, so the file gets one change holding all of them (``rule``
    names each). An entry already holding ``new`` is ``already``; one holding
    neither raises VersionError naming the file and entry. Missing files raise too.
    """
    by_path: dict[str, list[VersionFile]] = {}
    for spec in specs:
        vf = spec if isinstance(spec, VersionFile) else VersionFile.parse(spec)
        by_path.setdefault(vf.path, []).append(vf)
    changes: list[FileChange] = []
    for rel, entries in by_path.items():
        try:
            before = (root / rel).read_bytes().decode("utf-8")
        except FileNotFoundError as exc:
            raise VersionError(f"version file {rel} does not exist") from exc
        text = before
        rules: list[str] = []
        for vf in entries:
            try:
                text, rule = replace_version(text, vf, old, new)
            except VersionError as exc:
                if old == new or not holds_version(text, vf, new):
                    if len(entries) > 1:
                        raise VersionError(f"{exc} (entry {str(vf)!r})") from exc
                    raise
                rule = f"{vf.selector or 'default'} (already {new})"
            rules.append(rule)
        status = "update" if text != before else "already"
        changes.append(FileChange(rel, "; ".join(rules), status, before, text))
    return changes


def write_changes(root: Path, changes: Iterable[FileChange]) -> list[str]:
    """Write every ``update`` atomically (temp file + rename); return the paths written."""
    written: list[str] = []
    for change in changes:
        if change.status != "update" or change.before == change.after:
            continue
        write_atomic(root / change.path, change.after)
        written.append(change.path)
    return written
