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
from typing_extensions import TypedDict

from castoff.mcp.adapter import Progress
from castoff.mcp.state import State
from castoff.release.announce.delivery import SendReport
from castoff.release.announce.service import DraftResult
from castoff.release.model import ReleaseNotes
from castoff.release.next_version import NextVersion
from castoff.release.rollback.execute import RollbackRun
from castoff.release.rollback.model import RollbackPlan
from castoff.release.tagging import TagResult
from castoff.release.validate.model import ValidationReport
from castoff.release.workflow.runner import ReleaseOutcome

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
    from castoff.release.next_version import compute_next

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
    from castoff.release.next_version import compute_next
    from castoff.release.version import version_settings

    root, config = _project(state)
    nxt = compute_next(
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


class NotesResult(TypedDict):
    """The release notes, rendered, and whether the CHANGELOG gained the section."""

    notes: ReleaseNotes
    text: str
    changelog_updated: bool


def notes_generate(
    state: State,
    progress: Progress,
    *,
    from_ref: Annotated[
        str | None, Field(description="Start (excluded); default: latest release tag.")
    ] = None,
    to_ref: Annotated[str, Field(description="End (included).")] = "HEAD",
    format: Annotated[
        Literal["md", "github", "text"], Field(description="How text is rendered.")
    ] = "md",
    update_changelog: Annotated[
        bool, Field(description="Add the section to the CHANGELOG.")
    ] = False,
    package: Package = None,
) -> NotesResult:
    """Release notes from the conventional commits in from_ref..to_ref, grouped by type,
    with breaking changes, references and contributors. Writes only with update_changelog;
    a cancelled call writes nothing."""
    from castoff.config import load_config
    from castoff.release import changelog, git
    from castoff.release.notes import NotesConfig, forge_of, generate_notes
    from castoff.release.notes_render import NotesRenderer

    root = git.repo_root(state.root)
    config = load_config(root)
    paths: tuple[str, ...] = ()
    if package is not None:  # a monorepo package: its tags, changelog and commits
        from castoff.release.version import version_settings

        paths = version_settings(config, package).paths
    cfg = NotesConfig.from_config(config, package)
    forge = forge_of(root, cfg)
    progress.step("reading history")
    notes = generate_notes(root, from_ref, to_ref, config=cfg, paths=paths)
    renderer = NotesRenderer(cfg, format, forge=forge, full=False)
    text = renderer.document([renderer(notes)])
    updated = False
    if update_changelog:
        progress.step("updating the changelog")  # the last point where cancelling stops it
        md = renderer if format == "md" else NotesRenderer(cfg, "md", forge=forge, full=False)
        updated = changelog.update_changelog(root / cfg.changelog, md(notes), notes.version)
    return {"notes": notes, "text": text, "changelog_updated": updated}


PreflightCheck = (
    Literal[
        "clean-tree",
        "branch",
        "upstream",
        "tag-free",
        "version-files",
        "changelog",
        "tests",
        "build",
        "twine-check",
        "smoke",
    ]
    | Annotated[str, Field(pattern=r"^custom\..+")]
)
"""A pre-flight check id: the built-in ones, or ``custom.<id>`` of [tool.castoff.validate]."""
PostdeployCheck = Literal["index"] | Annotated[str, Field(pattern=r"^health\..+")]
"""A post-deploy check id: ``index`` or ``health.<id>`` of a configured endpoint."""
Checks = Annotated[
    list[PreflightCheck] | None,
    Field(description="Run only these check ids (and their needs)."),
]
Skip = Annotated[
    list[PreflightCheck] | None, Field(description="Report these check ids as skipped.")
]
PostdeployChecks = Annotated[
    list[PostdeployCheck] | None,
    Field(description="Run only these check ids."),
]
PostdeploySkip = Annotated[
    list[PostdeployCheck] | None, Field(description="Report these check ids as skipped.")
]


def validate_preflight(
    state: State,
    progress: Progress,
    *,
    version: Annotated[
        str | None, Field(description="Version to validate (default: the next).")
    ] = None,
    check: Checks = None,
    skip: Skip = None,
    package: Package = None,
) -> ValidationReport:
    """Pre-flight checks before tagging: clean tree, release branch, upstream, tag free,
    version files, CHANGELOG section, tests, build and install in a scratch copy. Failed
    checks are in the report (status fail), not errors. Cancelling stops between checks.
    The report is stored under .castoff/validate/ (its artifacts)."""
    from castoff.release.validate.api import validate_preflight as run

    return run(
        _project(state)[0],
        version=version,
        checks=check,
        skip=skip or (),
        on_progress=lambda check_id, status: progress.step(f"{check_id}: {status}"),
        package=package,
    )


def validate_postdeploy(
    state: State,
    progress: Progress,
    *,
    version: Annotated[
        str | None, Field(description="Deployed version (default: the latest release tag).")
    ] = None,
    check: PostdeployChecks = None,
    skip: PostdeploySkip = None,
    package: Package = None,
) -> ValidationReport:
    """Post-deploy checks of a released version: configured health endpoints report it,
    the package index serves it. Failed checks are in the report, not errors. The report
    is stored under .castoff/validate/ (its artifacts); nothing configured: an empty one."""
    from castoff.release.validate.api import validate_postdeploy as run

    return run(
        _project(state)[0],
        version=version,
        checks=check,
        skip=skip or (),
        on_progress=lambda check_id, status: progress.step(f"{check_id}: {status}"),
        package=package,
    )


def rollback_plan(
    state: State,
    progress: Progress,
    *,
    to: Annotated[
        str | None, Field(description="Tag to return to (default: the previous).")
    ] = None,
    version: Annotated[str | None, Field(description="Release to undo (default: latest).")] = None,
    verify: Annotated[bool, Field(description="Rehearse it in a scratch worktree.")] = False,
    package: Package = None,
) -> RollbackPlan:
    """Plan undoing a release: the steps (revert, tag removal, index yank), their risks
    (migrations, data files), optionally verified in a scratch worktree. Changes nothing in
    the project; stores the plan under .castoff/rollback/ (its artifacts)."""
    from castoff.release.rollback.api import rollback_plan as plan

    root, _config = _project(state)
    return plan(
        root, to=to, version=version, verify=verify, on_progress=progress.step, package=package
    )


def rollback_run(
    state: State,
    progress: Progress,
    *,
    to: Annotated[str, Field(description="Tag to return to.")],
    yes: Annotated[bool, Field(description="Really do it (default: a dry run).")] = False,
    push: Annotated[
        bool, Field(description="Also delete the remote tag and push the revert.")
    ] = False,
    package: Package = None,
) -> RollbackRun:
    """Roll back to a tag: revert commit, tag removal, optionally on the remote. A dry run
    unless yes; every step is recorded, so an interrupted run resumes where it stopped."""
    from castoff.release.rollback.api import rollback_run as run

    root, _config = _project(state)
    return run(root, to=to, yes=yes, push=push, on_progress=progress.step, package=package)


Channel = Literal[
    "github",
    "gitlab",
    "gitea",
    "email",
    "slack",
    "discord",
    "teams",
    "mattermost",
    "webhook",
    "social",
    "blog",
]
"""An announcement channel (castoff.release.announce.settings.CHANNELS, pinned by a test)."""
Channels = Annotated[list[Channel] | None, Field(description="Channels (default: all configured).")]


def announce_draft(
    state: State,
    *,
    channel: Channels = None,
    version: Annotated[str | None, Field(description="Release version (default: latest).")] = None,
    tag: Annotated[str | None, Field(description="Release tag (default: latest).")] = None,
    package: Package = None,
) -> DraftResult:
    """Draft the release announcement per channel (GitHub release, Slack, email, ...) from
    the release notes. Sends and writes nothing."""
    from castoff.release.announce.service import announce_draft as draft

    root, _config = _project(state)
    return draft(root, channels=channel, version=version, tag=tag, package=package)


def announce_send(
    state: State,
    *,
    channel: Channels = None,
    yes: Annotated[bool, Field(description="Really send (default: a dry run).")] = False,
    force_channel: Annotated[
        list[Channel] | None, Field(description="Send these again even if already sent.")
    ] = None,
    mark_sent: Annotated[
        list[Channel] | None,
        Field(
            description="Send nothing: record these channels, whose delivery is unknown "
            "(the answer was lost), as sent, once you checked they arrived. Alone: without "
            "channel and force_channel."
        ),
    ] = None,
    tag: Annotated[str | None, Field(description="Release tag (default: the latest).")] = None,
    package: Package = None,
) -> SendReport:
    """Send the announcement of a tagged release to its channels. A dry run unless yes;
    a channel already sent is not sent twice (unless forced). A channel whose outcome is
    unknown is resent only when forced, or recorded as sent with mark_sent (nothing sent;
    only an unknown delivery can be marked)."""
    from castoff.release.workflow.deliveries import announce_send as send

    root, _config = _project(state)
    return send(
        root,
        channels=channel,
        confirm=yes,
        force=force_channel or (),
        tag=tag,
        package=package,
        mark_sent=mark_sent or (),
        actor="mcp",
    )


def release_prepare(
    state: State,
    progress: Progress,
    *,
    bump: Bump = None,
    version: ExactVersion = None,
    prerelease: Prerelease = None,
    package: Package = None,
    push: Annotated[bool, Field(description="Push the commit and tag.")] = False,
    announce: Annotated[bool, Field(description="Also send the announcement.")] = False,
    yes: Annotated[
        bool, Field(description="Allow the irreversible steps (tag, push, send).")
    ] = False,
    dry_run: Annotated[
        bool, Field(description="Run everything in a scratch store; write nothing.")
    ] = False,
    agent: Annotated[
        bool,
        Field(
            description="Add a highlights paragraph for an agent to write (a pending task: "
            "claim it with orchestrator_execute_task, complete it with the paragraph, then "
            "release_resume checks its citations before the tag)."
        ),
    ] = False,
    skip_rollback_check: Annotated[
        bool,
        Field(
            description="Tag even if the rollback plan could not be verified (recorded as an "
            "event; the plan is still made)."
        ),
    ] = False,
) -> ReleaseOutcome:
    """Prepare the release as one resumable task graph: version, notes, release commit,
    pre-flight validation, verified rollback plan, announcement drafts, then tag (and push,
    announce). Nothing is tagged before validation and rollback verification pass. The
    outcome says what was done and what remains; a cancelled or interrupted release is
    partial (the running step goes back to pending) and finished with release_resume."""
    from castoff.release.workflow.decision import ReleaseOptions
    from castoff.release.workflow.runner import prepare

    options = ReleaseOptions(
        bump=bump,
        version=version,
        prerelease=prerelease,
        package=package,
        push=push,
        announce=announce,
        yes=yes,
        dry_run=dry_run,
        agent=agent,
        skip_rollback_check=skip_rollback_check,
    )
    return prepare(_project(state)[0], options, on_progress=progress)


def release_resume(
    state: State,
    progress: Progress,
    *,
    yes: Annotated[
        bool, Field(description="Allow the irreversible steps (tag, push, send).")
    ] = False,
    package: Package = None,
) -> ReleaseOutcome:
    """Continue the open release from its last completed step (nothing is done twice)."""
    from castoff.release.workflow.runner import resume

    return resume(_project(state)[0], yes=yes, on_progress=progress, package=package)


def release_status(state: State, *, package: Package = None) -> ReleaseOutcome:
    """The latest release's steps and state, without running anything."""
    from castoff.release.workflow.runner import status

    return status(_project(state)[0], package=package)
