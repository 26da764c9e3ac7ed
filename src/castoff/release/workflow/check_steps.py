"""The executors of the checks a release must pass before its tag, and what they record.

``validate`` runs the pre-flight checks on HEAD (the release commit) and
``rollback`` plans the rollback to the previous release and verifies it; each
records the commit it checked. :func:`validated_commit` and
:func:`rollback_commit` read those commits back from the runner's results: the
tag step and the runner's guard before it (:mod:`.tag_guards`) tag only that
commit.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from castoff.release.workflow.contract import StepFailed, StepInput, StepResult

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
