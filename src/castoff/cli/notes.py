"""`castoff notes`: release notes and CHANGELOG.md from git history.

Thin: options in, :mod:`castoff.release.notes` / ``sections`` / ``changelog``
do the work. Everything is computed before anything is written, so a bad
ref, an empty range or a broken template writes nothing (exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Start after this ref (default: the latest release tag)."),
]
ToOpt = Annotated[str, typer.Option("--to", help="End at this ref (included).")]
FullOpt = Annotated[
    bool, typer.Option("--full", help="Every release in history, one section per release tag.")
]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="Output format: md, json, github or text.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
ChangelogOpt = Annotated[
    bool,
    typer.Option(
        "--update-changelog",
        help="Add the section to CHANGELOG.md in place (with --full: regenerate every release).",
    ),
]


def notes_command(
    from_ref: FromOpt = None,
    to_ref: ToOpt = "HEAD",
    full: FullOpt = False,
    fmt: FormatOpt = "md",
    output: OutputOpt = None,
    update_changelog: ChangelogOpt = False,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Release notes from git history (default: since the latest release tag)."""
    from castoff.config import load_config
    from castoff.errors import UsageError
    from castoff.release import changelog, git
    from castoff.release.notes import NotesConfig, forge_of, generate_full, generate_notes
    from castoff.release.notes_render import FORMATS, NotesRenderer
    from castoff.release.sections import render_full

    fmt = "json" if json_out else fmt
    if fmt == "markdown":
        fmt = "md"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if full and from_ref is not None:
        raise UsageError("--full covers every release; it cannot be combined with --from")
    root = git.repo_root(workdir or Path.cwd())
    cfg = NotesConfig.from_config(load_config(root))
    forge = forge_of(root, cfg)
    renderer = NotesRenderer(cfg, fmt, forge=forge, full=full)
    md = renderer if fmt == "md" else NotesRenderer(cfg, "md", forge=forge, full=full)
    changelog_path = root / cfg.changelog

    if full:
        if update_changelog and md is not renderer:
            releases = generate_full(root, to_ref, config=cfg)
            sections = [renderer(n) for n in releases]
            md_sections = [md(n) for n in releases]
        else:
            sections = render_full(root, to_ref, cfg, renderer, forge)
            md_sections = sections
        text = renderer.document(sections)
        if update_changelog:
            existing = changelog.read_text(changelog_path)
            updated = changelog.replace_releases(existing, "\n".join(md_sections))
            _write(output, text, quiet=True)
            if updated != existing:
                changelog.write_atomic(changelog_path, updated)
            _status(f"{changelog_path.name}: {len(md_sections)} release section(s) written")
            return
        _write(output, text)
        return

    notes = generate_notes(root, from_ref, to_ref, config=cfg)
    text = renderer.document([renderer(notes)])
    if update_changelog:
        section = text if md is renderer else md(notes)
        _write(output, text, quiet=True)
        label = notes.version or "Unreleased"
        if changelog.update_changelog(changelog_path, section, notes.version):
            _status(f"{changelog_path.name}: added the {label} section")
        else:
            _status(f"{changelog_path.name}: already has a {label} section; nothing to add")
        return
    _write(output, text)


def _write(output: Path | None, text: str, *, quiet: bool = False) -> None:
    """Write to ``output`` atomically, or to stdout unless ``quiet``."""
    if output is not None:
        from castoff.release.changelog import write_atomic

        write_atomic(output, text)
    elif not quiet:
        sys.stdout.write(text)
        sys.stdout.flush()


def _status(line: str) -> None:
    sys.stdout.write(line + "\n")


def register(app: typer.Typer) -> None:
    """Add ``castoff notes`` to ``app``."""
    app.command("notes")(notes_command)
