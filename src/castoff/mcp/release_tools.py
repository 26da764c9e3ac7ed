"""The release-component MCP tools: thin typed calls into the release engines.

One function per tool; signatures (after ``state``) are the input schemas with
the CLI's option names, return types the output schemas. Long tools take a
:class:`~castoff.mcp.adapter.Progress` and pass it as the engine's
``on_progress``: progress reaches the client and cancellation stops the engine
at its next step, before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from castoff.mcp.state import State
from castoff.release.tagging import NextVersion, TagResult

if TYPE_CHECKING:
    from castoff.config import Config

Bump = Annotated[
    Literal["major", "minor", "patch"] | None,
    Field(description="Bump this part, ignoring commits."),
]
ExactVersion = Annotated[
    str | None, Field(description="Release exactly this version (must be greater).")
]
Prerelease = Annotated[
    Literal["rc", "beta", "alpha"] | None, Field(description="Make or continue a prerelease.")
]
Package = Annotated[str | None, Field(description="Monorepo package (version.packages).")]


def _project(state: State) -> tuple[Path, Config]:
    from castoff.config import load_config
    from castoff.release.git import repo_root

    root = repo_root(state.root)
    return root, load_config(root)


def version_next(
    state: State,
    *,
    bump: Bump = None,
    version: ExactVersion = None,
    prerelease: Prerelease = None,
    package: Package = None,
) -> NextVersion:
    """The current and next version from the commits since the last release tag, with the
    reasons; no_release is true when nothing is releasable. Writes nothing."""
    from castoff.release.tagging import compute_next

    root, config = _project(state)
    return compute_next(
        root, config, bump=bump, version=version, prerelease=prerelease, package=package
    )


def version_tag(
    state: State,
    *,
    bump: Bump = None,
    version: ExactVersion = None,
    prerelease: Prerelease = None,
    package: Package = None,
    push: Annotated[bool, Field(description="Push the commit and tag atomically.")] = False,
    dry_run: Annotated[
        bool, Field(description="Only show the files and tag it would write.")
    ] = False,
) -> TagResult:
    """Release the next version: update version files and CHANGELOG, commit, create the
    annotated tag (message: the release notes), optionally push. Idempotent: a re-run
    finishes what is missing; a tag already on another commit is refused."""
    from castoff.release import git, tagging
    from castoff.release.version import version_settings

    root, config = _project(state)
    nxt = tagging.compute_next(
        root, config, bump=bump, version=version, prerelease=prerelease, package=package
    )
    if nxt.no_release:
        tagged = nxt.head_tagged and nxt.previous_tag is not None
        pushed = False
        if tagged and push and not dry_run and nxt.previous_tag:
            settings = version_settings(config, nxt.package)
            pushed = tagging.push_release(root, settings, nxt.previous_tag)
        return TagResult(
            version=nxt.current or "",
            tag=nxt.previous_tag or "",
            status="already tagged" if tagged else "nothing to release",
            commit=git.head_sha(root) if git.has_commits(root) else None,
            pushed=pushed,
        )
    notes_text, changelog = tagging.release_notes_text(root, config, nxt)
    return tagging.apply_release(
        root, config, nxt, notes_text, push=push, dry_run=dry_run, changelog=changelog
    )
