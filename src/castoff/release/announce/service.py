"""The two announce operations the CLI and the MCP server expose.

- :func:`announce_draft` — notes for the release in question, drafts for the
  channels asked for, optionally written to a folder.
- :func:`announce_send` — delivery of the configured channels; dry-run unless
  ``confirm``; exactly-once per channel per release through the ledger the
  caller supplies (castoff's is in the orchestrator store:
  ``castoff.release.workflow.deliveries``, which the CLI and MCP call). With
  ``mark_sent`` it sends nothing: it records those channels, whose delivery is
  uncertain, as sent on the caller's word (``delivery.mark_sent``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from castoff.config import Config, load_config
from castoff.errors import NotFound, UsageError
from castoff.release import git
from castoff.release.announce.delivery import (
    SKIPPED,
    ChannelResult,
    SendReport,
    deliver,
    mark_sent,
)
from castoff.release.announce.drafts import Draft, draft_all
from castoff.release.announce.ledger import Ledger
from castoff.release.announce.settings import (
    DRAFT_ONLY,
    AnnounceSettings,
    check_channel,
    load_settings,
)
from castoff.release.model import ReleaseNotes
from castoff.release.version import resolve_package, tag_format_of


@dataclass(frozen=True, slots=True)
class DraftResult:
    """The drafts of one release and the files written for them."""

    version: str
    tag: str | None
    drafts: dict[str, Draft]
    written: tuple[str, ...] = field(default_factory=tuple)


def release_notes(
    root: Path,
    config: Config,
    *,
    version: str | None = None,
    tag: str | None = None,
    package: str | None = None,
) -> ReleaseNotes:
    """Notes of tag ``tag``, of the upcoming ``version``, or else of the release in progress.

    Without either: the release tagged at HEAD, else the upcoming release
    (next version computed from the commits), else Unreleased. A monorepo
    ``package``'s notes hold only the commits touching its paths, between its tags.
    """
    from castoff.release.notes import NotesConfig, generate_notes
    from castoff.release.version import version_settings

    cfg = NotesConfig.from_config(config, package)
    paths = version_settings(config, package).paths if package is not None else ()
    if tag is not None:
        if git.tag_sha(root, tag) is None:
            raise NotFound(f"no tag {tag} in this repository")
        return generate_notes(root, to_ref=tag, config=cfg, paths=paths)
    if version is not None:
        return generate_notes(root, config=cfg, version=version, paths=paths)
    notes = generate_notes(root, config=cfg, paths=paths)
    if notes.version is None:
        from castoff.release.next_version import compute_next

        nxt = compute_next(root, config, package=package)
        if nxt.next is not None:
            compare = notes.compare_url
            if compare and nxt.tag and compare.endswith("...HEAD"):
                compare = compare.removesuffix("HEAD") + nxt.tag
            notes = dataclasses.replace(notes, version=nxt.next, tag=nxt.tag, compare_url=compare)
    return notes


def write_drafts(drafts: dict[str, Draft], output: Path) -> tuple[str, ...]:
    """Write every draft's files into ``output``; returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for draft in drafts.values():
        for name, content in draft.files().items():
            path = output / name
            path.write_text(content, encoding="utf-8")
            written.append(str(path))
    return tuple(written)


def announce_draft(
    root: Path,
    *,
    channels: Sequence[str] | None = None,
    version: str | None = None,
    tag: str | None = None,
    output: Path | None = None,
    notes: ReleaseNotes | None = None,
    package: str | None = None,
) -> DraftResult:
    """Drafts for ``channels`` (default: all) of the release in question: of monorepo
    ``package`` (default: the package whose tag ``tag`` is), with its notes and name."""
    config = load_config(root)
    package = resolve_package(config, package, tag)
    settings = load_settings(config, package)
    notes = notes or release_notes(root, config, version=version, tag=tag, package=package)
    drafts = draft_all(notes, settings, channels or None)
    written = write_drafts(drafts, output) if output is not None else ()
    return DraftResult(notes.version or "Unreleased", notes.tag, drafts, written)


def _send_tag(root: Path, config: Config, tag: str | None, package: str | None) -> str:
    """The tag of the release to send: ``tag``, else the one at HEAD, else the latest."""
    if tag is not None:
        return tag
    tag_format = tag_format_of(config, package)
    head = git.head_sha(root) if git.has_commits(root) else None
    tags = git.list_tags(root, tag_format)
    at_head = [t for t in tags if t.sha == head]
    latest = at_head[-1] if at_head else git.latest_release_tag(root, tag_format)
    if latest is None:
        raise UsageError("no release tag to announce yet; tag it first (castoff version tag)")
    return latest.name


def _send_notes(root: Path, config: Config, tag: str | None, package: str | None) -> ReleaseNotes:
    return release_notes(root, config, tag=_send_tag(root, config, tag, package), package=package)


def announce_send(
    root: Path,
    *,
    channels: Sequence[str] | None = None,
    confirm: bool = False,
    force: Collection[str] = (),
    tag: str | None = None,
    notes: ReleaseNotes | None = None,
    package: str | None = None,
    ledger: Callable[[str], Ledger],
    mark_sent: Sequence[str] = (),
    by: str = "",
) -> SendReport:
    """Deliver ``channels`` (default: configured) for release ``tag`` (default: the latest;
    of monorepo ``package``, its latest tag), recording them in ``ledger(tag)``.

    ``mark_sent``: send nothing; record these channels as sent in ``by``'s name
    (each must be recorded ``unknown`` or ``sending``; see ``delivery.mark_sent``).
    """
    config = load_config(root)
    package = resolve_package(config, package, tag)
    if mark_sent:
        if channels or force:
            raise UsageError(
                "--mark-sent records channels as sent and sends nothing: give it without "
                "--channel and --force-channel"
            )
        release_tag = _send_tag(root, config, tag, package)
        return _mark_sent(root, release_tag, mark_sent, ledger, by, confirm=confirm)
    settings = load_settings(config, package)
    wanted = [check_channel(c) for c in channels] if channels else list(settings.channels)
    for name in wanted:
        if channels and name in DRAFT_ONLY:
            raise UsageError(
                f"{name} is draft-only: write it with `castoff announce draft` and post it yourself"
            )
    for name in force:
        if name not in wanted:
            raise UsageError(f"--force-channel {name}: {name} is not among the channels being sent")
    if not wanted:
        return SendReport(tag=tag or "", dry_run=not confirm, results=())
    notes = notes or _send_notes(root, config, tag, package)
    if not notes.tag:
        raise UsageError("the release has no tag; pass --tag")
    return send_notes(
        notes, settings, wanted, ledger=ledger(notes.tag), confirm=confirm, force=force
    )


def _mark_sent(
    root: Path,
    tag: str,
    names: Sequence[str],
    ledger: Callable[[str], Ledger],
    by: str,
    *,
    confirm: bool,
) -> SendReport:
    if not by:
        raise UsageError("--mark-sent needs the name to record the channels in")
    wanted = list(dict.fromkeys(check_channel(c) for c in names))
    for name in wanted:
        if name in DRAFT_ONLY:
            raise UsageError(f"--mark-sent {name}: {name} is draft-only, castoff never sends it")
    if git.tag_sha(root, tag) is None:
        raise NotFound(f"no tag {tag} in this repository")
    found = ledger(tag)
    if not confirm:
        return mark_sent(tag, wanted, found, by=by, confirm=False)
    with found.exclusive():  # no sender of this release is at work: `sending` means it died
        return mark_sent(tag, wanted, found, by=by, confirm=True)


def send_notes(
    notes: ReleaseNotes,
    settings: AnnounceSettings,
    channels: Sequence[str],
    *,
    ledger: Ledger,
    confirm: bool,
    force: Collection[str] = (),
) -> SendReport:
    """Deliver ``notes`` to ``channels``, recorded in ``ledger`` (held exclusively while
    sending: a concurrent sender of the same release is a ConflictError, exit 3)."""
    tag = notes.tag or notes.version or "unreleased"
    deliverable = [c for c in channels if c not in DRAFT_ONLY]
    skipped = tuple(
        ChannelResult(c, SKIPPED, "draft only: post the draft yourself")
        for c in channels
        if c in DRAFT_ONLY
    )
    if not deliverable:
        return SendReport(tag=tag, dry_run=not confirm, results=skipped)
    drafts = draft_all(notes, settings, deliverable)
    if not confirm:
        report = deliver(drafts, notes, settings, ledger, confirm=False, force=force)
    else:
        with ledger.exclusive():
            report = deliver(drafts, notes, settings, ledger, confirm=True, force=force)
    return dataclasses.replace(report, results=report.results + skipped)
