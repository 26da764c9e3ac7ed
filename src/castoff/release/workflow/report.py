"""The release report: one document (Markdown + JSON) from every step's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from castoff.release.workflow.contract import ReleasePlan
from castoff.serialize import to_data

if TYPE_CHECKING:
    from castoff.orchestrator.models import SynthesisResult, Task


def release_report(
    plan: ReleasePlan,
    steps: list[Task],
    results: Mapping[str, Mapping[str, Any]],
    synthesis: SynthesisResult,
) -> tuple[str, dict[str, Any]]:
    """(Markdown, JSON data) of the finished release."""
    by_key = {str(t.context.get("step") if isinstance(t.context, dict) else ""): t for t in steps}
    data: dict[str, Any] = {
        "outcome": "dry_run" if plan.dry_run else "released",
        "version": plan.version,
        "tag": plan.tag,
        "previous": plan.current,
        "previous_tag": plan.previous_tag,
        "bump": plan.bump,
        "scheme": plan.scheme,
        "steps": [
            {
                "key": key,
                "title": t.title,
                "status": str(t.status),
                "summary": t.summary,
                "attempts": t.attempts,
                "artifacts": [{"name": a.name, "sha256": a.sha256} for a in t.artifacts],
            }
            for key, t in by_key.items()
        ],
        "notes": results.get("notes", {}).get("notes"),
        "validation": validation_report(results),
        "rollback": rollback_plan(results),
        "announcements": results.get("announce_draft"),
        "synthesis": to_data(synthesis),
    }
    return _markdown(plan, by_key, results), data


def _markdown(
    plan: ReleasePlan, by_key: Mapping[str, Task], results: Mapping[str, Mapping[str, Any]]
) -> str:
    head = "Dry run of release" if plan.dry_run else "Release"
    out = [f"# {head} {plan.tag}", ""]
    out.append(
        f"{plan.current or 'first release'} → **{plan.version}** "
        f"({plan.bump or 'manual'} bump, {plan.scheme})"
    )
    out += ["", "## Steps", "", "| step | status | summary |", "| --- | --- | --- |"]
    for task in by_key.values():
        summary = (task.summary or task.error or "").replace("|", "\\|").replace("\n", " ")
        out.append(f"| {task.title} | {task.status} | {summary} |")
    notes = results.get("notes", {}).get("text")
    if notes:
        out += ["", "## Release notes", "", "```text", str(notes).rstrip(), "```"]
    validation = validation_report(results)
    if validation:
        out += ["", "## Pre-flight checks", ""]
        for check in validation.get("checks", []):
            out.append(f"- **{check.get('status')}** {check.get('title')}: {check.get('message')}")
    rollback = rollback_plan(results)
    if rollback:
        out += ["", "## Rollback plan", ""]
        target = rollback.get("previous_tag") or "none (first release)"
        verification = (rollback.get("verification") or {}).get("status", "not run")
        out.append(f"Target: {target}; verification: {verification}.")
        for risk in rollback.get("risks", []):
            out.append(f"- risk ({risk.get('severity')}): {risk.get('title') or risk.get('kind')}")
        for i, step in enumerate(rollback.get("steps", []), 1):
            out.append(
                f"{i}. {step.get('title')}"
                + (f": `{step['command']}`" if step.get("command") else "")
            )
    drafts = results.get("announce_draft")
    if drafts:
        out += ["", "## Announcement drafts", "", ", ".join(drafts.get("channels", []))]
    highlights = results.get("highlights", {}).get("highlights")
    if highlights:
        out += ["", "## Highlights", "", str(highlights)]
    return "\n".join(out) + "\n"


def validation_report(results: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The pre-flight report of the validate step (older results were the report itself)."""
    validate = results.get("validate")
    if not validate:
        return None
    report = validate.get("report")
    return report if isinstance(report, Mapping) else validate


def rollback_plan(results: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The rollback plan of the rollback step (older results were the plan itself)."""
    rollback = results.get("rollback")
    if not rollback:
        return None
    plan = rollback.get("plan")
    return plan if isinstance(plan, Mapping) else rollback
