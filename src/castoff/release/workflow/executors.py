"""One executor per release step: the engines, wired in as task executors.

An executor takes a :class:`StepInput` (the repository, the configuration,
the release being prepared and the results of the steps already done) and
returns a :class:`StepResult` (a summary, JSON-ready data kept as the task's
``result.json`` artifact, and documents stored as further artifacts). A part
of the data that is also one of the documents (the notes as ``notes.json``,
the pre-flight report as ``preflight.json``) is stored once, as that
document, and ``result.json`` names it (``StepResult.refs``).

The results an executor reads are only those the release runner itself
produced: a step completed by anyone else is run again (see
:mod:`.runner`). The tag step still checks its own preconditions from those
results — validation passed and the rollback was verified, both on the
commit it tags — so no edit of the task graph can get a commit tagged that
was not validated.

Every executor is idempotent: run again after a crash at any point, it
finishes what is missing and never doubles a tag, a CHANGELOG section, a
commit or an announcement. Executors never touch the orchestrator; the
runner does that.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import CheckFailed, ConflictError, StoreError
from castoff.release.next_version import NextVersion
from castoff.serialize import to_data

if TYPE_CHECKING:
    from castoff.release.announce.ledger import Ledger

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
    """What an executor gets.

    ``rollback_skip_recorded``: the release was planned with --skip-rollback-check
    and the runner's ``release.rollback_check_skipped`` event says so (the plan
    alone is not enough: a task's context can be edited).
    """

    root: Path
    config: Config
    plan: ReleasePlan
    results: Mapping[str, Mapping[str, Any]]
    on_progress: Progress = lambda _message: None
    agent_work: Mapping[str, str] = field(default_factory=dict)
    rollback_skip_recorded: bool = False
    head: str | None = None  # HEAD, when the caller has just read it
    ledger: Callable[[str], Ledger] | None = None  # the delivery ledger of a tag (announce_send)


@dataclass(frozen=True)
class StepResult:
    """What an executor gives back.

    ``refs`` maps a key of ``data`` to the name of one of ``documents`` whose
    content is that key's value as JSON: the value is stored once, as the
    document, and ``result.json`` names it instead of repeating it.
    """

    summary: str
    data: dict[str, Any]
    documents: tuple[tuple[str, str, str], ...] = ()  # (name, content, artifact_type)
    next_action: str | None = None
    refs: Mapping[str, str] = field(default_factory=dict)


def run_version(inp: StepInput) -> StepResult:
    """Recompute the next version and confirm it is still the planned one."""
    from castoff.release.next_version import compute_next

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
    """The release's notes; a monorepo package's hold its own commits, between its tags."""
    from castoff.release.notes import NotesConfig, generate_notes
    from castoff.release.version import version_settings

    plan = inp.plan
    paths = version_settings(inp.config, plan.package).paths if plan.package else ()
    return generate_notes(
        inp.root,
        plan.since_tag,
        plan.head_sha,
        config=NotesConfig.from_config(inp.config, plan.package),
        version=plan.version,
        paths=paths,
    )


def run_notes(inp: StepInput) -> StepResult:
    """Release notes for the commits since the last release, in every format."""
    from castoff.release import notes as engine
    from castoff.release.notes_render import NotesRenderer

    notes = _notes(inp)
    data = engine.notes_to_data(notes)
    cfg = engine.NotesConfig.from_config(inp.config, inp.plan.package)
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
    return StepResult(
        summary, {"notes": data, "text": rendered["text"]}, documents, refs={"notes": "notes.json"}
    )


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
        tagging.check_releasable(inp.root, s, changelog_path=s.changelog, push=plan.push)
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
    """Pre-flight checks on HEAD (the release commit); fails the step when a check fails.

    The data records the commit that was validated (``commit``): only that
    commit may be tagged.
    """
    from castoff.release import git
    from castoff.release.validate.preflight import run_preflight
    from castoff.release.validate.report import render_json, render_markdown

    plan = inp.plan
    skip = DRY_RUN_SKIPS if plan.dry_run else ()
    commit = git.head_sha(inp.root)
    report = run_preflight(
        inp.root,
        inp.config,
        version=plan.version,
        tag=plan.tag,
        skip=skip,
        on_progress=lambda check, status: inp.on_progress(f"{check}: {status}"),
        package=plan.package,
    )
    rendered = render_json(report)
    docs = (
        ("preflight.md", render_markdown(report), "test"),
        ("preflight.json", rendered, "test"),
    )
    data = {"commit": commit, "ok": report.ok, "report": json.loads(rendered)}
    refs = {"report": "preflight.json"}
    if not report.ok:
        # each failed check with its reason and remedy: the release's message is
        # where a maintainer (or an agent) first reads why it stopped
        failed = "; ".join(
            f"{c.id} ({c.message}" + (f"; fix: {c.remediation})" if c.remediation else ")")
            for c in report.failures
        )
        raise StepFailed(
            f"pre-flight failed: {failed}", StepResult("failed", data, docs, refs=refs)
        )
    c = report.counts
    return StepResult(
        f"{c['pass']} passed, {c['warn']} warnings, {c['skipped']} skipped",
        data,
        docs,
        refs=refs,
    )


def run_rollback(inp: StepInput) -> StepResult:
    """A rollback plan to the previous release, its risks, and its verification.

    The data records the commit the plan was made for (``commit``, HEAD) and
    whether it was verified (``verified``) or the check skipped (``check_skipped``).
    """
    from castoff.release.rollback.plan import plan_data, plan_documents
    from castoff.release.rollback.repo import plan_rollback
    from castoff.release.rollback.verify import verify_plan

    plan = inp.plan
    rb = plan_rollback(
        inp.root, inp.config, new_version=plan.version, new_tag=plan.tag, package=plan.package
    )
    verification = verify_plan(inp.root, inp.config, rb, on_progress=inp.on_progress)
    rb = dataclasses.replace(rb, verification=verification)
    docs = tuple((name, content, "analysis") for name, content, _kind in plan_documents(rb))
    json_doc = next(name for name, _content, _kind in docs if name.endswith(".json"))
    verified = verification.status in ("passed", "not_applicable")
    data: dict[str, Any] = {
        "commit": rb.new_sha,
        "verified": verified,
        "check_skipped": False,
        "plan": plan_data(rb),
    }
    refs = {"plan": json_doc}
    risks = f"{len(rb.risks)} risk(s)"
    if verified:
        what = (
            "verified" if verification.status == "passed" else "first release: nothing to restore"
        )
        return StepResult(
            f"plan to {rb.previous_tag or '—'} {what}; {risks}", data, docs, refs=refs
        )
    reason = verification.error or verification.status
    if plan.skip_rollback_check:
        return StepResult(
            f"rollback NOT verified ({reason}); --skip-rollback-check given; {risks}",
            {**data, "check_skipped": True},
            docs,
            refs=refs,
        )
    raise StepFailed(
        f"rollback to {rb.previous_tag} is not verified: {reason} "
        "(configure [tool.castoff.rollback] build_command, or pass --skip-rollback-check)",
        StepResult("failed", data, docs, refs=refs),
    )


def run_announce_draft(inp: StepInput) -> StepResult:
    """Drafts for every announcement channel."""
    from castoff.release.announce.drafts import draft_all
    from castoff.release.announce.settings import load_settings

    notes = dataclasses.replace(_notes(inp), tag=inp.plan.tag)
    drafts = draft_all(notes, load_settings(inp.config, inp.plan.package), None)
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


HIGHLIGHTS_MAX_CHARS = 1200
HIGHLIGHTS_MAX_SENTENCES = 8
# A citation: a short hash (7-40 hex digits) in backticks or parentheses, `79bcada` or
# (79bcada). Plain words made of hex letters ("defaced") are prose, not citations.
_CITATION = re.compile(r"(?:`|\()([0-9a-fA-F]{7,40})(?:`|\))")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_HTML_TAG = re.compile(r"</?[A-Za-z!?][^<>]*>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*([^)\s]*)[^)]*\)")


def clean_highlights(text: str) -> str:
    """The paragraph as plain, safe Markdown: one paragraph, no raw HTML, no images.

    Line breaks are joined (no headings, lists, tables or fences can start), HTML tags
    are removed and any remaining ``<`` / ``>`` escaped, images become their alt text,
    and links keep their target only when it is http(s).
    """
    flat = " ".join(text.split())
    flat = _HTML_TAG.sub("", flat)
    flat = _IMAGE.sub(lambda m: m[1], flat)
    flat = _LINK.sub(
        lambda m: m[0] if m[2].lower().startswith(("https://", "http://")) else m[1], flat
    )
    return " ".join(flat.replace("<", "&lt;").replace(">", "&gt;").split())


def run_highlights(inp: StepInput) -> StepResult:
    """Accept the agent's highlights: short, safe, and citing only (and at least one) real entries.

    A citation is a commit's short hash (7 to 40 hex digits, a prefix of the full hash
    of an entry in the notes) in backticks or parentheses: `79bcada` or (79bcada).
    """
    raw = inp.agent_work.get("highlights", "").strip()
    if not raw:
        raise CheckFailed("the highlights task was completed without a paragraph")
    text = clean_highlights(raw)
    if len(text) > HIGHLIGHTS_MAX_CHARS:
        raise CheckFailed(
            f"the highlights are {len(text)} characters long; "
            f"write at most {HIGHLIGHTS_MAX_CHARS} (2-4 sentences)"
        )
    sentences = len(_SENTENCE_END.findall(text)) or 1
    if sentences > HIGHLIGHTS_MAX_SENTENCES:
        raise CheckFailed(
            f"the highlights have {sentences} sentences; write at most "
            f"{HIGHLIGHTS_MAX_SENTENCES} (2-4 is best)"
        )
    notes = inp.results["notes"]["notes"]
    hashes = [str(e["hash"]).lower() for g in notes.get("groups", []) for e in g.get("entries", [])]
    cited = sorted({c.lower() for c in _CITATION.findall(text)})
    unknown = [c for c in cited if not any(h.startswith(c) for h in hashes)]
    if unknown:
        raise CheckFailed(
            f"the highlights cite entries that are not in the notes: {', '.join(unknown)}"
        )
    if not cited:
        raise CheckFailed(
            "the highlights cite no entry of the notes; cite each change you mention by its "
            "short hash in backticks, e.g. `" + (hashes[0][:7] if hashes else "abc1234") + "`"
        )
    return StepResult(
        f"highlights accepted ({len(cited)} entries cited)",
        {"highlights": text, "cited": cited, "cleaned": text != " ".join(raw.split())},
        (("highlights.md", text + "\n", "documentation"),),
    )


def run_tag(inp: StepInput) -> StepResult:
    """The annotated (or signed) release tag; "already tagged" when it exists on HEAD.

    Refused unless the runner's own results show validation passed and the rollback
    was verified (or its check skipped, as recorded when the release was planned),
    both on HEAD: the commit that is tagged is the commit that was validated.
    """
    from castoff.release import git, tagging
    from castoff.release.version import version_settings

    plan = inp.plan
    if plan.dry_run:
        return StepResult(f"would tag {plan.tag}", {"tag": plan.tag, "dry_run": True})
    sha = inp.head or git.head_sha(inp.root)
    validated = validated_commit(inp.results)
    if validated is None:
        raise CheckFailed(
            f"refusing to tag {plan.tag}: the release runner has no passed validation for it; "
            "`castoff release resume` runs the validation"
        )
    rolled = rollback_commit(inp.results)
    rollback = inp.results.get("rollback") or {}
    verified = rollback.get(
        "verified",
        (rollback.get("verification") or {}).get("status") in ("passed", "not_applicable"),
    )
    if rolled is None:
        raise CheckFailed(
            f"refusing to tag {plan.tag}: the release runner has no rollback plan for it; "
            "`castoff release resume` plans and verifies it"
        )
    if not verified and not (rollback.get("check_skipped") and inp.rollback_skip_recorded):
        raise CheckFailed(
            f"refusing to tag {plan.tag}: the rollback plan is not verified "
            "(and the release was not planned with --skip-rollback-check)"
        )
    if sha != validated or sha != rolled:
        # only the commit that was validated (and rolled back from in the plan) is tagged
        raise ConflictError(
            f"HEAD moved since the release commit {validated[:12]} was validated "
            f"(now {sha[:12]}); `castoff release resume` validates the new commits if they "
            "are on top of it"
        )
    s = version_settings(inp.config, plan.package)
    message = inp.results.get("notes", {}).get("text") or f"Release {plan.version}\n"
    created = tagging.make_tag(inp.root, s, plan.tag, str(message))
    return StepResult(
        f"{'tagged' if created else 'already tagged'} {plan.tag} at {sha[:12]}",
        {"tag": plan.tag, "commit": sha, "created": created},
    )


def validated_commit(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The commit the runner's validation passed on (None: no passed validation)."""
    validate = results.get("validate")
    if not validate:
        return None
    ok = validate.get("ok", validate.get("report", validate).get("ok"))
    if not ok:
        return None
    commit = validate.get("commit") or results.get("release_commit", {}).get("commit")
    return str(commit) if commit else None


def rollback_commit(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The commit the runner's rollback plan was made for (None: no plan)."""
    rollback = results.get("rollback")
    if not rollback:
        return None
    commit = (
        rollback.get("commit")
        or (rollback.get("plan") or rollback).get("new_sha")
        or results.get("release_commit", {}).get("commit")
    )
    return str(commit) if commit else None


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


#: What the delivery step's error says of a channel whose outcome is unknown.
MAYBE_DELIVERED = "may have been delivered"


def run_announce_send(inp: StepInput) -> StepResult:
    """Deliver the announcements (exactly once per channel, via the store's delivery ledger)."""
    from castoff.release.announce.service import send_notes
    from castoff.release.announce.settings import load_settings

    plan = inp.plan
    if inp.ledger is None:
        raise StoreError("the delivery step needs the store's delivery ledger")
    notes = dataclasses.replace(_notes(inp), tag=plan.tag)
    settings = load_settings(inp.config, plan.package)
    report = send_notes(
        notes,
        settings,
        list(settings.channels),
        ledger=inp.ledger(plan.tag),
        confirm=not plan.dry_run,
    )
    data = to_data(report)
    failed = [r for r in report.results if r.status == "failed"]
    unknown = [r for r in report.results if r.status == "unknown"]
    if failed or unknown:
        parts = []
        if failed:
            parts.append(
                "delivery failed for "
                + ", ".join(f"{r.channel} ({r.detail})" if r.detail else r.channel for r in failed)
                + " (`castoff release resume` retries only these)"
            )
        if unknown:
            names = ", ".join(r.channel for r in unknown)
            mark = " ".join(f"--mark-sent {r.channel}" for r in unknown)
            force = " ".join(f"--force-channel {r.channel}" for r in unknown)
            parts.append(
                f"{names} {MAYBE_DELIVERED} (the answer was lost); check: if it arrived, "
                f"record it with `castoff announce send --tag {plan.tag} {mark} --yes`, if not, "
                f"resend it with `castoff announce send --tag {plan.tag} {force} --yes`; then "
                "`castoff release resume --yes` finishes the release"
            )
        raise StepFailed("; ".join(parts), StepResult("failed", data))
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
