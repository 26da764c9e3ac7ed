"""Interrupted releases: what ``castoff version tag`` planned, kept until the tag exists.

Before it writes anything, :func:`castoff.release.tagging.apply_release`
records the release it is about to make — version, tag, the current version
it bumps from, the commit it started on and the release commit's message —
in ``.castoff/pending-release.json`` (``pending-release-<package>.json`` in a
monorepo). Once the tag exists the record is removed.

A run that stops between the first file write and the tag leaves the record
behind. The next run reads it (:func:`read`) and, while HEAD is still the
commit the release started on or the release commit made on top of it,
finishes *that* release instead of computing a new one: without a tag the
version files the interrupted run already moved would otherwise read as the
current version and bump a second time.

Only plain data and the file live here; git is asked in
:mod:`castoff.release.next_version` (finding an interrupted release) and
:mod:`castoff.release.tagging` (recording one).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from castoff.workspace import STATE_DIRNAME, ensure_state_dir


@dataclass(frozen=True)
class PendingRelease:
    """A release that was started: ``base`` is the commit it started on."""

    version: str
    tag: str
    current: str | None
    base: str
    message: str
    package: str | None = None


def record_path(repo: Path, package: str | None) -> Path:
    """Where the record of ``package`` (or the project) lives."""
    name = f"pending-release-{package}.json" if package else "pending-release.json"
    return repo / STATE_DIRNAME / name


def read(repo: Path, package: str | None) -> PendingRelease | None:
    """The recorded release, or None (no record, or one castoff cannot read)."""
    try:
        data = json.loads(record_path(repo, package).read_text(encoding="utf-8"))
        return PendingRelease(
            version=str(data["version"]),
            tag=str(data["tag"]),
            current=None if data.get("current") is None else str(data["current"]),
            base=str(data["base"]),
            message=str(data["message"]),
            package=None if data.get("package") is None else str(data["package"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(repo: Path, pending: PendingRelease) -> None:
    """Record ``pending`` (atomically; ``.castoff/`` is created, git-ignored)."""
    from castoff.release.textfiles import write_atomic

    path = record_path(repo, pending.package)
    ensure_state_dir(path.parent)
    write_atomic(path, json.dumps(asdict(pending), indent=2) + "\n")


def clear(repo: Path, package: str | None) -> None:
    """Forget the record (the release is tagged)."""
    record_path(repo, package).unlink(missing_ok=True)


def normalize_message(text: str) -> str:
    """A commit message as git stores it: trailing spaces and blank-line runs removed."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def message_pattern(
    template: str, *, version: str, tag: str, package: str | None
) -> re.Pattern[str]:
    """A regex matching the release commit message ``template`` makes for ``version``.

    ``{current_version}`` matches any version-like word (the record-free
    recognition does not know it).
    """
    values = {
        "{version}": re.escape(version),
        "{tag}": re.escape(tag),
        "{package}": re.escape(package or ""),
        "{current_version}": r"\S*",
    }
    parts = re.split(r"(\{\w+\})", normalize_message(template))
    literal = {"{{": "{", "}}": "}"}
    return re.compile(
        "".join(
            values.get(p) or re.escape(re.sub(r"\{\{|\}\}", lambda m: literal[m[0]], p))
            for p in parts
        ),
        re.DOTALL,
    )
