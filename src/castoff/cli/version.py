"""`castoff version next | tag`: the next version, and tagging it.

Only the standard library is imported at module level: typer is imported in
:func:`register`, the engines inside the commands. ``python -m castoff version
next`` goes through :func:`fast_path`, which skips typer (and the pydantic it
imports to coerce options) so the whole command stays well under 0.2 s.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from castoff.cli.options import DryRunOpt, JsonOpt, WorkdirOpt, YesOpt
    from castoff.config import Config
    from castoff.release.next_version import NextVersion
    from castoff.release.tagging import TagResult

    BumpOpt = str | None
    VersionOpt = str | None
    PrereleaseOpt = str | None
    PackageOpt = str | None
    PushOpt = bool


def _option_types() -> dict[str, Any]:
    """The typer option types of this module's commands (typer imported here, lazily)."""
    from typing import Annotated

    import typer

    from castoff.cli import options

    def opt(flag: str, help: str, kind: Any = str | None) -> Any:
        return Annotated[kind, typer.Option(flag, help=help)]

    return {
        "JsonOpt": options.JsonOpt,
        "WorkdirOpt": options.WorkdirOpt,
        "YesOpt": options.YesOpt,
        "DryRunOpt": options.DryRunOpt,
        "BumpOpt": opt("--bump", "Bump this part instead: major, minor or patch."),
        "VersionOpt": opt("--version", "Release exactly this version (must be greater)."),
        "PrereleaseOpt": opt("--prerelease", "Make or continue a prerelease: rc, beta, alpha."),
        "PackageOpt": opt("--package", "The monorepo package (version.packages)."),
        "PushOpt": opt("--push", "Push the commit and the tag atomically.", bool),
    }


def _load(workdir: Path | None) -> tuple[Path, Config]:
    from castoff.config import load_config
    from castoff.release.git import repo_root
    from castoff.workspace import find_root

    root = repo_root(find_root(workdir))
    return root, load_config(root)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _print_next(nxt: NextVersion) -> None:
    label = f"[{nxt.package}] " if nxt.package else ""
    if nxt.config_source != "defaults":
        _say(f"{label}settings: {nxt.config_source}")
    for warning in nxt.warnings:
        sys.stderr.write(f"castoff: warning: {warning}\n")
    _say(f"{label}current: {nxt.current or 'none'} ({nxt.previous_tag or 'no release tag'})")
    if nxt.no_release:
        _say(f"{label}nothing to release: {nxt.message}")
        return
    _say(f"{label}next:    {nxt.next} (tag {nxt.tag}, {nxt.scheme})")
    _say(f"{label}reason:  {nxt.message}")
    for change in nxt.reasons[:20]:
        scope = f"({change.scope})" if change.scope else ""
        bang = "!" if change.breaking else ""
        _say(f"  {change.short_sha} {change.type}{scope}{bang}: {change.description}")
    if len(nxt.reasons) > 20:
        _say(f"  … and {len(nxt.reasons) - 20} more")


def next_command(
    *,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
    bump: BumpOpt = None,
    version: VersionOpt = None,
    prerelease: PrereleaseOpt = None,
    package: PackageOpt = None,
) -> None:
    """Print the current and next version, why, and the scheme (exit 0 if nothing to release)."""
    from castoff.cli.output import print_json
    from castoff.release.next_version import compute_next
    from castoff.release.version import package_names

    root, config = _load(workdir)
    names: list[str | None] = [package] if package else [*package_names(config)] or [None]
    results = [
        compute_next(root, config, bump=bump, version=version, prerelease=prerelease, package=name)
        for name in names
    ]
    if json_out:
        print_json(results if len(names) > 1 else results[0])
        return
    for nxt in results:
        _print_next(nxt)


def _result_data(result: TagResult, nxt: NextVersion) -> dict[str, Any]:
    return {
        "version": result.version,
        "tag": result.tag,
        "status": result.status,
        "commit": result.commit,
        "committed": result.committed,
        "pushed": result.pushed,
        "steps": list(result.steps),
        "files": [
            {"path": f.path, "rule": f.rule, "status": f.status, "diff": f.diff()}
            for f in result.files
        ],
        "previous_tag": nxt.previous_tag,
        "package": nxt.package,
    }


def tag_command(
    *,
    yes: YesOpt = False,
    push: PushOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
    bump: BumpOpt = None,
    version: VersionOpt = None,
    prerelease: PrereleaseOpt = None,
    package: PackageOpt = None,
) -> None:
    """Update version files, commit, and create the annotated release tag (idempotent)."""
    from castoff.cli.output import confirm, interactive, print_json
    from castoff.release import tagging
    from castoff.release.next_version import compute_next
    from castoff.release.tagging import release_notes_text

    root, config = _load(workdir)
    nxt = compute_next(
        root, config, bump=bump, version=version, prerelease=prerelease, package=package
    )
    if nxt.no_release:
        asked = bump is not None or prerelease is not None
        _finish_tagged_head(
            root, config, nxt, push=push and not dry_run, json_out=json_out, asked_more=asked
        )
        return
    notes_text, changelog = release_notes_text(root, config, nxt)
    preview = tagging.apply_release(
        root, config, nxt, notes_text, dry_run=True, changelog=changelog
    )
    if dry_run:
        if json_out:
            print_json(_result_data(preview, nxt))
            return
        _print_next(nxt)
        for f in preview.files:
            _say(f.diff() if f.status == "update" else f"{f.path}: already at {nxt.next}")
        _say(f"would tag {nxt.tag} on {str(preview.commit)[:12]}" + (" and push" if push else ""))
        return
    if not yes:
        if not interactive():
            raise _usage("refusing to write without a terminal: pass --yes")
        if not json_out:
            _print_next(nxt)
        if not confirm(f"Tag {nxt.tag}{' and push' if push else ''}?", assume_yes=False):
            # declining is an answer, not a failure: nothing was written (exit 0)
            _say(f"nothing tagged: {nxt.tag} declined, nothing written")
            return
    result = tagging.apply_release(root, config, nxt, notes_text, push=push, changelog=changelog)
    if json_out:
        print_json(_result_data(result, nxt))
        return
    done = ", ".join(result.steps) or "nothing new"
    _say(f"{result.status} {result.tag} ({done})")


def _finish_tagged_head(
    root: Path,
    config: Config,
    nxt: NextVersion,
    *,
    push: bool,
    json_out: bool,
    asked_more: bool = False,
) -> None:
    """Nothing new to release: say so, and push the tag on HEAD if asked (a resumed run).

    ``asked_more``: ``--bump`` / ``--prerelease`` asked for a release beyond
    the one on HEAD: "nothing to release" (still pushing HEAD's tag with ``--push``).
    """
    from castoff.cli.output import print_json
    from castoff.release import tagging
    from castoff.release.version import version_settings

    pushed = False
    if nxt.head_tagged and nxt.previous_tag and push:
        pushed = tagging.push_release(root, version_settings(config, nxt.package), nxt.previous_tag)
    tagged = nxt.head_tagged and not asked_more
    if json_out:
        data = {"status": "already tagged" if tagged else "nothing to release"}
        print_json({**data, "tag": nxt.previous_tag, "message": nxt.message, "pushed": pushed})
        return
    if tagged:
        _say(f"already tagged: {nxt.previous_tag} is on HEAD" + (" (pushed)" if pushed else ""))
    else:
        _say(f"nothing to release: {nxt.message}" + (" (pushed)" if pushed else ""))


def _usage(message: str) -> Exception:
    from castoff.errors import UsageError

    return UsageError(message)


def register(app: typer.Typer) -> None:
    """Add the ``version`` command group to ``app``."""
    import typer

    # The commands' string annotations resolve against these module globals.
    globals().update(_option_types())
    version_app = typer.Typer(
        name="version", help="Compute the next version and tag it.", no_args_is_help=True
    )
    version_app.command("next")(next_command)
    version_app.command("tag")(tag_command)
    app.add_typer(version_app)


def fast_path(argv: list[str]) -> int | None:
    """Run ``version next ...`` without typer; None when ``argv`` is anything else.

    Same options, output and exit codes as the typer command (``--help`` and
    unknown options fall through to typer).
    """
    if argv[:2] != ["version", "next"]:
        return None
    values: dict[str, Any] = {"--json": False}
    flags = {"--working-directory", "-C", "--bump", "--version", "--prerelease", "--package"}
    rest = argv[2:]
    while rest:
        arg, rest = rest[0], rest[1:]
        name, eq, value = arg.partition("=")
        if arg == "--json":
            values["--json"] = True
        elif name in flags and eq:
            values[name] = value
        elif arg in flags and rest and not rest[0].startswith("-"):
            values[arg], rest = rest[0], rest[1:]
        else:
            return None  # --help, typos, ...: typer explains
    workdir = values.get("--working-directory", values.get("-C"))
    from castoff.errors import CastoffError

    try:
        next_command(
            json_out=values["--json"],
            workdir=Path(workdir) if workdir else None,
            bump=values.get("--bump"),
            version=values.get("--version"),
            prerelease=values.get("--prerelease"),
            package=values.get("--package"),
        )
    except CastoffError as exc:
        sys.stderr.write(f"castoff: {exc.message}\n")
        return exc.exit_code
    except BrokenPipeError:  # `castoff version next | head`: the reader left
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
