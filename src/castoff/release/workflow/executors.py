"""One executor per release step: the engines, wired in as task executors.

An executor takes a :class:`StepInput` (the repository, the configuration,
the release being prepared and the results of the steps already done) and
returns a :class:`StepResult` (a summary, JSON-ready data kept as the task's
``result.json`` artifact, and documents stored as further artifacts).

Every executor is idempotent: run again after a crash at any point, it
finishes what is missing and never doubles a tag, a CHANGELOG section, a
commit or an announcement. Executors never touch the orchestrator; the
runner does that.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from castoff.config import Config
from castoff.errors import CheckFailed, ConflictError
from castoff.release.tagging import NextVersion
from castoff.serialize import to_data

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReleasePlan:
    """What was decided when the release graph was planned (kept in the root task)."""

    version: str
    tag: str
    current: str | None
    previous_tag: str | None
    since_tag: str | None
    bump: str | None
    scheme: str
    package: str | None
    head_sha: str
    push: bool = False
    announce: bool = False
    agent: bool = False
    skip_rollback_check: bool = False
    dry_run: bool = False

    def next_version(self) -> NextVersion:
        """The version engine's view of this release (for the tagging steps)."""
        return NextVersion(
            current=self.current,
            next=self.version,
            bump=self.bump,
            reasons=(),
            scheme=self.scheme,
            tag=self.tag,
            no_release=False,
            message=f"release {self.version}",
            package=self.package,
            previous_tag=self.previous_tag,
            since_tag=self.since_tag,
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReleasePlan:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StepInput:
    """What an executor gets."""

    root: Path
    config: Config
    plan: ReleasePlan
    results: Mapping[str, Mapping[str, Any]]
    on_progress: Progress = lambda _message: None
    agent_work: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What an executor gives back."""

    summary: str
    data: dict[str, Any]
    documents: tuple[tuple[str, str, str], ...] = ()  # (name, content, artifact_type)
    next_action: str | None = None


def run_version(inp: StepInput) -> StepResult:
    """Recompute the next version and confirm it is still the planned one."""
    from castoff.release.tagging import compute_next

    plan = inp.plan
    nxt = compute_next(inp.root, inp.config, version=plan.version, package=plan.package)
    if nxt.next != plan.version:  # pragma: no cover - compute_next honours version=
        raise ConflictError(f"the next version is now {nxt.next}, not {plan.version}")
    reasons = [
        {"sha": c.short_sha, "type": c.type, "breaking": c.breaking, "description": c.description}
        for c in nxt.reasons
    ]
    bump = plan.bump or "manual"
    return StepResult(
        f"{plan.current or 'no release yet'} → {plan.version} ({bump}, {plan.scheme})",
        {**to_data(plan), "reasons": reasons, "warnings": list(nxt.warnings)},
    )


def _notes(inp: StepInput) -> Any:
    from castoff.release.notes import generate_notes

    plan = inp.plan
    return generate_notes(
        inp.root, plan.since_tag, plan.head_sha, config=inp.config, version=plan.version
    )


def run_notes(inp: StepInput) -> StepResult:
    """Release notes for the commits since the last release, in every format."""
    from castoff.release import notes as engine
    from castoff.release.notes_render import NotesRenderer

    notes = _notes(inp)
    data = engine.notes_to_data(notes)
    cfg = engine.notes_config(inp.root, inp.config)
    forge = engine.forge_of(inp.root, cfg)
    rendered = {
        fmt: NotesRenderer(cfg, fmt, forge=forge)(notes) for fmt in ("md", "github", "text")
    }
    documents = (
        ("notes.md", rendered["md"], "documentation"),
        ("release-body.md", rendered["github"], "documentation"),
        ("notes.json", json.dumps(data, indent=2, ensure_ascii=False), "documentation"),
    )
    entries = sum(len(g.entries) for g in notes.groups)
    summary = (
        f"{entries} entries in {len([g for g in notes.groups if g.entries])} groups, "
        f"{len(notes.breaking)} breaking, {len(notes.contributors)} contributors "
        f"({len(notes.first_timers)} first-time)"
    )
    return StepResult(summary, {"notes": data, "text": rendered["text"]}, documents)


def run_release_commit(inp: StepInput) -> StepResult:
    """Version files and CHANGELOG updated and committed (or, dry-run, the diffs)."""
    from castoff.release import git, tagging
    from castoff.release.version import version_settings

    plan = inp.plan
    nxt = plan.next_version()
    s = version_settings(inp.config, plan.package)
    head = git.head_sha(inp.root)
    if head != plan.head_sha and not _is_release_commit(inp.root, plan):
        raise ConflictError(
            f"HEAD moved since the release was planned ({plan.head_sha[:12]} → {head[:12]}); "
            "cancel the release task and prepare again"
        )
    _message, changelog = tagging.release_notes_text(inp.root, inp.config, nxt)
    if head == plan.head_sha:
        tagging.check_releasable(inp.root, s, changelog_path=s.changelog)
    files = tagging.plan_files(inp.root, s, nxt, changelog)
    diffs = [_diff(f.path, f.before, f.after) for f in files if f.before != f.after]
    if plan.dry_run:
        return StepResult(
            f"would update {len(diffs)} file(s) and commit",
            {"files": [f.path for f in files], "diffs": diffs, "dry_run": True},
            (("release-commit.diff", "\n".join(diffs) or "(no changes)\n", "code"),),
        )
    tagging.write_files(inp.root, files)
    sha, committed = tagging.make_commit(inp.root, s, nxt, files)
    what = "committed" if committed else "already committed"
    return StepResult(
        f"{len(files)} file(s) {what} as {sha[:12]}",
        {"files": [f.path for f in files], "commit": sha, "committed": committed},
        (("release-commit.diff", "\n".join(diffs) or "(no changes)\n", "code"),),
    )


def _is_release_commit(root: Path, plan: ReleasePlan) -> bool:
    """True when HEAD is the release commit made on top of the planned HEAD."""
    from castoff.release import git

    parent = git.run_git(root, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}")
    return parent == plan.head_sha


def _diff(path: str, before: str, after: str) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


# A dry run makes no release commit: the checks that read it (the version in the files,
# the CHANGELOG section, a clean tree, and the built package's version) cannot pass.
DRY_RUN_SKIPS = ("version-files", "changelog", "clean-tree", "build", "twine-check", "smoke")


def run_validate(inp: StepInput) -> StepResult:
    """Pre-flight checks on the release commit; fails the step when a check fails."""
    from castoff.release.validate.preflight import run_preflight
    from castoff.release.validate.report import render_json, render_markdown

    plan = inp.plan
    skip = DRY_RUN_SKIPS if plan.dry_run else ()
    report = run_preflight(
        inp.root,
        inp.config,
        version=plan.version,
        tag=plan.tag,
        skip=skip,
        on_progress=lambda check, status: inp.on_progress(f"{check}: {status}"),
    )
    docs = (
        ("preflight.md", render_markdown(report), "test"),
        ("preflight.json", render_json(report), "test"),
    )
    data = json.loads(render_json(report))
    if not report.ok:
        failed = ", ".join(c.id for c in report.failures)
        raise StepFailed(f"pre-flight failed: {failed}", StepResult("failed", data, docs))
    c = report.counts
    return StepResult(
        f"{c['pass']} passed, {c['warn']} warnings, {c['skipped']} skipped",
        data,
        docs,
    )


def run_rollback(inp: StepInput) -> StepResult:
    """A rollback plan to the previous release, its risks, and its verification."""
    from castoff.release.rollback.plan import plan_documents
    from castoff.release.rollback.repo import plan_rollback
    from castoff.release.rollback.verify import verify_plan

    plan = inp.plan
    rb = plan_rollback(inp.root, inp.config, new_version=plan.version, new_tag=plan.tag)
    verification = verify_plan(inp.root, inp.config, rb, on_progress=inp.on_progress)
    rb = dataclasses.replace(rb, verification=verification)
    docs = tuple((name, content, "analysis") for name, content, _kind in plan_documents(rb))
    data = to_data(rb)
    risks = f"{len(rb.risks)} risk(s)"
    if verification.status in ("passed", "not_applicable"):
        what = (
            "verified" if verification.status == "passed" else "first release: nothing to restore"
        )
        return StepResult(f"plan to {rb.previous_tag or '—'} {what}; {risks}", data, docs)
    reason = verification.error or verification.status
    if plan.skip_rollback_check:
        return StepResult(
            f"rollback NOT verified ({reason}); --skip-rollback-check given; {risks}",
            {**data, "check_skipped": True},
            docs,
        )
    raise StepFailed(
        f"rollback to {rb.previous_tag} is not verified: {reason} "
        "(configure [tool.castoff.rollback] build_command, or pass --skip-rollback-check)",
        StepResult("failed", data, docs),
    )


def run_announce_draft(inp: StepInput) -> StepResult:
    """Drafts for every announcement channel."""
    from castoff.release.announce.drafts import draft_all
    from castoff.release.announce.settings import load_settings

    notes = dataclasses.replace(_notes(inp), tag=inp.plan.tag)
    drafts = draft_all(notes, load_settings(inp.config), None)
    docs = tuple(
        (name, content, "documentation")
        for draft in drafts.values()
        for name, content in draft.files().items()
    )
    return StepResult(
        f"{len(drafts)} drafts: {', '.join(sorted(drafts))}",
        {"channels": sorted(drafts), "files": [d[0] for d in docs]},
        docs,
    )


def run_highlights(inp: StepInput) -> StepResult:
    """Accept the highlights an agent wrote, if they cite only real entries."""
    import re

    text = inp.agent_work.get("highlights", "").strip()
    if not text:
        raise CheckFailed("the highlights task was completed without a paragraph")
    notes = inp.results["notes"]["notes"]
    known = {str(e["hash"])[:7] for g in notes.get("groups", []) for e in g.get("entries", [])}
    cited = set(re.findall(r"\b[0-9a-f]{7,40}\b", text))
    unknown = sorted(c for c in cited if c[:7] not in known)
    if unknown:
        raise CheckFailed(
            f"the highlights cite entries that are not in the notes: {', '.join(unknown)}"
        )
    return StepResult(
        f"highlights accepted ({len(cited)} entries cited)",
        {"highlights": text, "cited": sorted(cited)},
        (("highlights.md", text + "\n", "documentation"),),
    )


def run_tag(inp: StepInput) -> StepResult:
    """The annotated (or signed) release tag; "already tagged" when it exists on HEAD."""
    from castoff.release import git, tagging
    from castoff.release.version import version_settings

    plan = inp.plan
    if plan.dry_run:
        return StepResult(f"would tag {plan.tag}", {"tag": plan.tag, "dry_run": True})
    s = version_settings(inp.config, plan.package)
    validated = inp.results.get("release_commit", {}).get("commit")
    sha = git.head_sha(inp.root)
    if validated and sha != validated:
        # only the commit that was validated (and rolled back to in the plan) is tagged
        raise ConflictError(
            f"HEAD moved since the release commit {str(validated)[:12]} was made and validated "
            f"(now {sha[:12]}); move the branch back to it, or cancel the release task and "
            "prepare again"
        )
    message = inp.results.get("notes", {}).get("text") or f"Release {plan.version}\n"
    created = tagging.make_tag(inp.root, s, plan.tag, str(message))
    return StepResult(
        f"{'tagged' if created else 'already tagged'} {plan.tag} at {sha[:12]}",
        {"tag": plan.tag, "commit": sha, "created": created},
    )


def run_push(inp: StepInput) -> StepResult:
    """``git push --atomic`` of the branch and the tag."""
    from castoff.release import tagging
    from castoff.release.version import version_settings

    plan = inp.plan
    if plan.dry_run:
        return StepResult(f"would push {plan.tag}", {"dry_run": True})
    s = version_settings(inp.config, plan.package)
    tagging.push_release(inp.root, s, plan.tag)
    return StepResult(f"pushed {plan.tag} to {s.remote}", {"remote": s.remote, "tag": plan.tag})


def run_announce_send(inp: StepInput) -> StepResult:
    """Deliver the announcements (exactly once per channel, via the delivery ledger)."""
    from castoff.release.announce.service import send_notes
    from castoff.release.announce.settings import load_settings

    plan = inp.plan
    notes = dataclasses.replace(_notes(inp), tag=plan.tag)
    settings = load_settings(inp.config)
    report = send_notes(
        notes, settings, inp.root, list(settings.channels), confirm=not plan.dry_run
    )
    data = to_data(report)
    failed = [r for r in report.results if r.status in ("failed", "unknown")]
    if failed:
        raise StepFailed(
            "announcement not delivered for "
            + ", ".join(f"{r.channel}: {r.status} ({r.detail})" for r in failed),
            StepResult("failed", data),
        )
    return StepResult(
        ", ".join(f"{r.channel}: {r.status}" for r in report.results) or "no channels configured",
        data,
    )


class StepFailed(CheckFailed):
    """A step ran and found the release not fit to go on (its result is kept)."""

    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.result = result


EXECUTORS: dict[str, Callable[[StepInput], StepResult]] = {
    "version": run_version,
    "notes": run_notes,
    "release_commit": run_release_commit,
    "validate": run_validate,
    "rollback": run_rollback,
    "announce_draft": run_announce_draft,
    "highlights": run_highlights,
    "tag": run_tag,
    "push": run_push,
    "announce_send": run_announce_send,
}
