"""Dependency manifests: what changed in pyproject.toml, package.json, Cargo.toml.

A release always edits its manifest (the version number), so a changed file is
not a dependency change by itself: these pure functions compare the dependency
tables and entry points of the two texts.
"""

from __future__ import annotations

import json
import posixpath
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ManifestDelta:
    """What changed in one manifest between the two releases."""

    dependencies: tuple[str, ...]
    entry_points_removed: tuple[str, ...]
    entry_points_added: tuple[str, ...]


def _flatten_deps(value: Any, prefix: str = "") -> set[str]:
    """Requirement strings / ``name=spec`` pairs found in a dependency table or list."""
    out: set[str] = set()
    if isinstance(value, list):
        out.update(f"{prefix}{v}" for v in value if isinstance(v, str))
    elif isinstance(value, dict):
        for key, spec in value.items():
            if isinstance(spec, list):
                out |= _flatten_deps(spec, f"{prefix}{key}: ")
            else:
                out.add(f"{prefix}{key}={json.dumps(spec, sort_keys=True)}")
    return out


def _dig(doc: Mapping[str, Any], *keys: str) -> Any:
    value: Any = doc
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _manifest_facts(path: str, text: str) -> tuple[set[str], set[str]] | None:
    """(dependency strings, entry-point names) of a manifest, or None if unreadable."""
    base = posixpath.basename(path)
    try:
        doc: Any = json.loads(text) if base == "package.json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    deps: set[str] = set()
    entries: set[str] = set()
    if base == "pyproject.toml":
        tables = [
            ("project", "dependencies"),
            ("project", "optional-dependencies"),
            ("dependency-groups",),
            ("build-system", "requires"),
            ("tool", "poetry", "dependencies"),
            ("tool", "poetry", "dev-dependencies"),
            ("tool", "poetry", "group"),
        ]
        for keys in tables:
            deps |= _flatten_deps(_dig(doc, *keys), "/".join(keys[-1:]) + ": ")
        script_tables = (
            ("project", "scripts"),
            ("project", "gui-scripts"),
            ("tool", "poetry", "scripts"),
        )
        for keys in script_tables:
            table = _dig(doc, *keys)
            if isinstance(table, Mapping):
                entries.update(f"script {name}" for name in table)
        groups = _dig(doc, "project", "entry-points")
        if isinstance(groups, Mapping):
            for group, table in groups.items():
                if isinstance(table, Mapping):
                    entries.update(f"{group}: {name}" for name in table)
    elif base == "package.json":
        for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
            deps |= _flatten_deps(doc.get(key), f"{key}: ")
        binary = doc.get("bin")
        if isinstance(binary, str):
            entries.add(f"bin {doc.get('name', '')}")
        elif isinstance(binary, Mapping):
            entries.update(f"bin {name}" for name in binary)
        exports = doc.get("exports")
        if isinstance(exports, Mapping):
            entries.update(f"export {key}" for key in exports if str(key).startswith("."))
        for key in ("main", "module"):
            if isinstance(doc.get(key), str):
                entries.add(f"{key} {doc[key]}")
    else:  # Cargo.toml
        for key in ("dependencies", "dev-dependencies", "build-dependencies"):
            deps |= _flatten_deps(doc.get(key), f"{key}: ")
        bins = doc.get("bin")
        if isinstance(bins, list):
            entries.update(f"bin {b.get('name')}" for b in bins if isinstance(b, Mapping))
    return deps, entries


def manifest_delta(path: str, old: str | None, new: str | None) -> ManifestDelta | None:
    """Dependency / entry-point differences of a manifest; None when it cannot be parsed."""
    before = _manifest_facts(path, old) if old is not None else (set(), set())
    after = _manifest_facts(path, new) if new is not None else (set(), set())
    if before is None or after is None:
        return None
    deps = sorted({f"-{d}" for d in before[0] - after[0]} | {f"+{d}" for d in after[0] - before[0]})
    return ManifestDelta(
        dependencies=tuple(deps),
        entry_points_removed=tuple(sorted(before[1] - after[1])),
        entry_points_added=tuple(sorted(after[1] - before[1])),
    )
