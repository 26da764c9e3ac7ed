"""The executors of the steps that read and write the repository.

``version`` (the next version, confirmed), ``notes`` (the release notes in
every format), ``release_commit`` (version files and CHANGELOG, committed),
``tag`` (only on the commit the checks of :mod:`.check_steps` passed on) and
``push``. Run again, the release commit and the tag are found already made
("already committed", "already tagged"), never made twice. :func:`notes_for`,
the release's notes, is also what the announcement steps announce.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from castoff.errors import CheckFailed, ConflictError
from castoff.release.workflow.check_steps import rollback_commit, validated_commit
from castoff.release.workflow.contract import ReleasePlan, StepInput, StepResult
from castoff.serialize import to_data


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


def notes_for(inp: StepInput) -> Any:
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

    notes = notes_for(inp)
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
