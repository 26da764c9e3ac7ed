"""`castoff notes`: release notes and CHANGELOG.md from git history.

Thin: options in, :mod:`castoff.release.notes` / ``sections`` / ``changelog``
do the work. Everything is computed before anything is written, so a bad
ref, an empty range or a broken template writes nothing (exit 2).

Only the standard library is imported at module level. :func:`fast_path`
runs the command without typer (the dispatcher in ``castoff.cli.app`` calls
it first); ``--help`` and anything it does not recognise fall through to the
typer command of :func:`register`, which has the same options.
"""

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FLAGS = {"--full": "full", "--update-changelog": "update_changelog", "--json": "json_out"}
VALUED = {
    "--from": "from_ref",
    "--to": "to_ref",
    "--format": "fmt",
    "-f": "fmt",
    "--output": "output",
    "-o": "output",
    "--package": "package",
    "--working-directory": "workdir",
    "-C": "workdir",
}


def run_notes(
    *,
    from_ref: str | None = None,
    to_ref: str = "HEAD",
    full: bool = False,
    fmt: str = "md",
    output: Path | None = None,
    update_changelog: bool = False,
    json_out: bool = False,
    workdir: Path | None = None,
    package: str | None = None,
) -> None:
    """The command itself (shared by the typer command and the fast path)."""
    from castoff.config import load_config
    from castoff.errors import UsageError
    from castoff.release import git
    from castoff.release.notes import (
        FIRST_TIMERS_UNKNOWN,
        NotesConfig,
        forge_of,
        generate_full,
        generate_notes,
    )
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
    config = load_config(root)
    paths: tuple[str, ...] = ()
    if package is not None:  # a monorepo package: its tags, changelog and commits
        from castoff.release.version import version_settings

        paths = version_settings(config, package).paths
    cfg = NotesConfig.from_config(config, package)
    forge = forge_of(root, cfg)
    renderer = NotesRenderer(cfg, fmt, forge=forge, full=full)
    md = renderer
    if update_changelog and fmt != "md":  # the changelog is Markdown whatever --format says
        md = NotesRenderer(cfg, "md", forge=forge, full=full)
    changelog_path = root / cfg.changelog

    if full:
        if update_changelog and md is not renderer:
            releases = generate_full(root, to_ref, config=cfg, paths=paths)
            sections = [renderer(n) for n in releases]
            md_sections = [md(n) for n in releases]
        else:
            sections = render_full(root, to_ref, cfg, renderer, forge, paths)
            md_sections = sections
        parts = renderer.document_parts(sections)
        if update_changelog:
            from castoff.release import changelog, textfiles

            existing = textfiles.read_text(changelog_path)
            updated = changelog.replace_releases(existing, "\n".join(md_sections))
            _write(output, parts)
            if updated != existing:
                textfiles.write_atomic(changelog_path, updated)
            _status(f"{changelog_path.name}: {len(md_sections)} release section(s) written")
            return
        _write(output, parts)
        return

    notes = generate_notes(root, from_ref, to_ref, config=cfg, paths=paths)
    unknown = notes.extra.get(FIRST_TIMERS_UNKNOWN)
    if unknown:
        sys.stderr.write(f"warning: {unknown}\n")
    text = renderer.document([renderer(notes)])
    if update_changelog:
        from castoff.release import changelog, textfiles

        section = text if md is renderer else md(notes)
        # Read and compute the update before writing anything (an unreadable changelog
        # must leave --output unwritten too).
        existing, updated = changelog.plan_update(changelog_path, section, notes.version)
        _write(output, text)
        name, label = changelog_path.name, notes.version or "Unreleased"
        generated = changelog.generated_unreleased(existing) is not None
        if updated == existing:
            _status(f"{name}: already has a {label} section; nothing to add")
            return
        textfiles.write_atomic(changelog_path, updated)
        if notes.version is None and generated:
            _status(f"{name}: refreshed the generated Unreleased section")
        elif generated and changelog.generated_unreleased(updated) is None:
            _status(f"{name}: added the {label} section (replacing the generated Unreleased one)")
        else:
            _status(f"{name}: added the {label} section")
        return
    _write(output, text)


def _write(output: Path | None, text: str | Iterable[str]) -> None:
    """Write to ``output`` atomically, or to stdout."""
    if output is not None:
        from castoff.release.textfiles import write_atomic

        write_atomic(output, text)
    else:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        sys.stdout.flush()


def _status(line: str) -> None:
    """A progress line: on stderr, so the notes on stdout stay parseable."""
    sys.stderr.write(line + "\n")


def parse_fast(args: list[str]) -> dict[str, Any] | None:
    """``notes`` options as keyword arguments of :func:`run_notes`; None if typer must decide."""
    values: dict[str, Any] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if arg in FLAGS:
            values[FLAGS[arg]] = True
        elif name in VALUED and eq and name.startswith("--"):
            values[VALUED[name]] = value
        elif arg in VALUED and rest and not rest[0].startswith("-"):
            values[VALUED[arg]] = rest.pop(0)
        else:
            return None  # --help, typos, odd spellings: typer explains
    for key in ("output", "workdir"):
        if key in values:
            values[key] = Path(values[key])
    return values


def fast_path(argv: list[str]) -> int | None:
    """Run ``notes ...`` without typer; None when typer should handle ``argv``."""
    if not argv or argv[0] != "notes":
        return None
    values = parse_fast(argv[1:])
    if values is None:
        return None
    run_notes(**values)
    return 0


def register(app: Any) -> None:
    """Add ``castoff notes`` to ``app`` (a typer.Typer)."""
    from typing import Annotated

    import typer

    from castoff.cli.options import JsonOpt, WorkdirOpt

    def notes_command(
        from_ref: Annotated[
            str | None,
            typer.Option("--from", help="Start after this ref (default: the latest release tag)."),
        ] = None,
        to_ref: Annotated[str, typer.Option("--to", help="End at this ref (included).")] = "HEAD",
        full: Annotated[
            bool,
            typer.Option("--full", help="Every release in history, one section per release tag."),
        ] = False,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="Output format: md, json, github or text.")
        ] = "md",
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write to this file (atomically), not stdout."),
        ] = None,
        update_changelog: Annotated[
            bool,
            typer.Option(
                "--update-changelog",
                help="Add the section to CHANGELOG.md in place "
                "(with --full: regenerate every release).",
            ),
        ] = False,
        package: Annotated[
            str | None,
            typer.Option(
                "--package",
                help="A monorepo package: its tags, its commits, its CHANGELOG.",
            ),
        ] = None,
        json_out: JsonOpt = False,
        workdir: WorkdirOpt = None,
    ) -> None:
        """Release notes from git history (default: since the latest release tag)."""
        run_notes(
            from_ref=from_ref,
            to_ref=to_ref,
            full=full,
            fmt=fmt,
            output=output,
            update_changelog=update_changelog,
            json_out=json_out,
            workdir=workdir,
            package=package,
        )

    app.command("notes")(notes_command)
