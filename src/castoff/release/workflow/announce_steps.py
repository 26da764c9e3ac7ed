"""The executors of the announcement steps: drafts, the agent's highlights, delivery.

``announce_draft`` drafts every channel's announcement; ``highlights``
(``--agent`` only) accepts the paragraph an agent wrote, short, safe and citing
only real entries of the notes; ``announce_send`` delivers the announcements
after the tag, exactly once per channel through the store's delivery ledger
(:mod:`.deliveries`).
"""

from __future__ import annotations

import dataclasses
import re

from castoff.errors import CheckFailed, StoreError
from castoff.release.workflow.contract import StepFailed, StepInput, StepResult
from castoff.release.workflow.git_steps import notes_for
from castoff.serialize import to_data


def run_announce_draft(inp: StepInput) -> StepResult:
    """Drafts for every announcement channel."""
    from castoff.release.announce.drafts import draft_all
    from castoff.release.announce.settings import load_settings

    notes = dataclasses.replace(notes_for(inp), tag=inp.plan.tag)
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


#: What the delivery step's error says of a channel whose outcome is unknown.
MAYBE_DELIVERED = "may have been delivered"


def run_announce_send(inp: StepInput) -> StepResult:
    """Deliver the announcements (exactly once per channel, via the store's delivery ledger)."""
    from castoff.release.announce.service import send_notes
    from castoff.release.announce.settings import load_settings

    plan = inp.plan
    if inp.ledger is None:
        raise StoreError("the delivery step needs the store's delivery ledger")
    notes = dataclasses.replace(notes_for(inp), tag=plan.tag)
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
