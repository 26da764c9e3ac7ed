"""`castoff init`: write a ``[tool.castoff]`` (or castoff.toml) skeleton.

The skeleton carries the settings adopted from commitizen or
python-semantic-release when the project uses one of them, so the new
configuration releases exactly as before. An existing castoff configuration
is never overwritten (exit 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt

DEFAULTS: dict[str, Any] = {
    "tag_format": "v{version}",
    "version_scheme": "semver",
    "version_files": [],
    "release_branches": ["main", "master"],
    "changelog": "CHANGELOG.md",
    "version": {
        "major_version_zero": False,
        "minor_types": ["feat"],
        "patch_types": ["fix", "perf"],
        "commit": True,
        "commit_message": "chore(release): {version}",
        "sign": False,
    },
}


def skeleton(root: Path) -> tuple[dict[str, Any], str]:
    """The configuration to write and where its values come from."""
    from castoff.release import adopt, versionfiles

    adopted = adopt.detect(root)
    if adopted is None:
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
        data["version_files"] = versionfiles.detect(root)
        return data, "castoff defaults"
    data, source = adopted
    merged = {**DEFAULTS, **data, "version": {**DEFAULTS["version"], **data.get("version", {})}}
    return merged, source


def write_config(root: Path, data: dict[str, Any], *, dry_run: bool = False) -> tuple[Path, str]:
    """Write ``data`` as ``[tool.castoff]`` in pyproject.toml, else as castoff.toml.

    Returns (path, text written). Raises ConflictError when castoff is already
    configured there.
    """
    import tomlkit

    from castoff.errors import ConflictError
    from castoff.release.textfiles import write_atomic
    from castoff.release.versionfiles import BOM

    if (root / "castoff.toml").is_file():
        raise ConflictError("castoff.toml already exists; not overwriting it")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        original = pyproject.read_text(encoding="utf-8")
        bom = BOM if original.startswith(BOM) else ""
        doc = tomlkit.parse(original.removeprefix(BOM))
        tool = doc.setdefault("tool", tomlkit.table(is_super_table=True))
        if "castoff" in tool:
            raise ConflictError(
                "[tool.castoff] already exists in pyproject.toml; not overwriting it"
            )
        tool["castoff"] = _table(data)
        path, text = pyproject, bom + tomlkit.dumps(doc)
    else:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("castoff configuration — see docs/configuration.md"))
        for key, value in _table(data).items():
            doc[key] = value
        path, text = root / "castoff.toml", tomlkit.dumps(doc)
    if not dry_run:
        if path.exists():
            write_atomic(path, text)
        else:
            path.write_text(text, encoding="utf-8")
    return path, text


def _table(data: dict[str, Any]) -> Any:
    import tomlkit

    table = tomlkit.table()
    for key, value in data.items():
        if isinstance(value, dict):
            table[key] = _table(value)
        else:
            table[key] = value
    return table


def init_command(
    *, json_out: JsonOpt = False, workdir: WorkdirOpt = None, dry_run: DryRunOpt = False
) -> None:
    """Write a [tool.castoff] skeleton (or castoff.toml), adopting commitizen / PSR settings."""
    from castoff.cli.output import print_json
    from castoff.workspace import find_root

    root = find_root(workdir)
    data, source = skeleton(root)
    path, text = write_config(root, data, dry_run=dry_run)
    if json_out:
        print_json({"path": str(path), "source": source, "config": data, "dry_run": dry_run})
        return
    verb = "would write" if dry_run else "wrote"
    typer.echo(f"{verb} castoff settings to {path.name} (from {source})")
    if dry_run:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add ``castoff init`` to ``app``."""
    app.command("init")(init_command)
