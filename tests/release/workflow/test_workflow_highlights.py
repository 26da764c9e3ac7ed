"""The --agent highlights check: real citations only, short, and no markup that could inject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from workflow_sample import git, prepare, release_tasks, resume

from castoff.config import Config
from castoff.errors import CheckFailed
from castoff.orchestrator.service import Orchestrator
from castoff.release.workflow.announce_steps import clean_highlights, run_highlights
from castoff.release.workflow.contract import ReleasePlan, StepInput, StepResult

HERE = Path(__file__).parent  # the check reads no file: any directory does
FULL = "79bcadac53cd654affcb488f7a2f5bdf4ef36078"
OTHER = "4338f39458ed574de17468ffc75938cededc6195"


def _check(paragraph: str) -> StepResult:
    notes = {"groups": [{"entries": [{"hash": FULL}, {"hash": OTHER}]}]}
    plan = ReleasePlan("2.0.0", "v2.0.0", "1.0.0", "v1.0.0", "v1.0.0", "major", "semver", None, "0")
    inp = StepInput(
        root=HERE,
        config=Config(HERE),
        plan=plan,
        results={"notes": {"notes": notes}},
        agent_work={"highlights": paragraph},
    )
    return run_highlights(inp)


def test_citations_in_backticks_or_parentheses_count() -> None:
    """`79bcada` and (4338f39458) cite entries; a longer prefix is matched as a prefix."""
    result = _check(f"Celsius everywhere (`{FULL[:7]}`); nameless stations work ({OTHER[:10]}).")
    assert result.data["cited"] == [OTHER[:10], FULL[:7]]


def test_hex_words_in_prose_are_not_hashes() -> None:
    """A plain word made of hex letters ("defaced", "facade") is prose, not a citation."""
    result = _check(f"The defaced facade is gone (`{FULL[:7]}`).")
    assert result.data["cited"] == [FULL[:7]]


@pytest.mark.parametrize(
    ("paragraph", "why"),
    [
        ("A great release with many improvements.", "cite no entry"),
        ("Faster (`abcdef1`) and better.", "not in the notes: abcdef1"),
        (f"Short ids are too short (`{FULL[:6]}`).", "cite no entry"),
        ("word " * 300 + f"(`{FULL[:7]}`).", "characters long"),
        (" ".join(f"Sentence {i}." for i in range(9)) + f" (`{FULL[:7]}`)", "sentences"),
        ("", "without a paragraph"),
    ],
)
def test_refused_paragraphs(paragraph: str, why: str) -> None:
    """No citation, an unknown one, too short a hash, too long, too many sentences: refused."""
    with pytest.raises(CheckFailed, match=why):
        _check(paragraph)


def test_markup_is_stripped_to_one_safe_paragraph() -> None:
    """Raw HTML, images, non-http links and block structure do not survive."""
    raw = (
        f"# Big news\n\n<script>alert(1)</script>Celsius <b>everywhere</b> (`{FULL[:7]}`). "
        "![pixel](https://evil.example/p.gif) [click](javascript:alert(1)) "
        "[docs](https://skyline.example/docs) 1 < 2 > 0"
    )
    text = clean_highlights(raw)
    assert "<" not in text
    assert ">" not in text
    assert "\n" not in text
    assert "script" not in text.replace("alert(1)", "")
    assert "evil.example" not in text
    assert "javascript:" not in text
    assert "[docs](https://skyline.example/docs)" in text
    assert "1 &lt; 2 &gt; 0" in text
    assert _check(raw).data["highlights"] == text


# -- end to end -------------------------------------------------------------------------


def _complete_draft(repo: Path, paragraph: str) -> str:
    with Orchestrator.open(repo, actor="agent") as orch:
        pending = orch.query_tasks(status=["pending"], specialist_type=["release_notes"]).tasks
        draft = next(t for t in pending if t.context["step"] == "highlights_draft")  # type: ignore[index]
        orch.execute_task(draft.id, worker="agent-1")
        orch.complete_task(draft.id, paragraph, worker="agent-1")
        return draft.id


def test_a_huge_uncited_paragraph_is_refused(light_repo: Path) -> None:
    """The audit's 21 KB paragraph with <script> and no citation: refused, asked again."""
    assert prepare(light_repo, "--agent", "--yes").code == 4
    first = _complete_draft(light_repo, "<script>x()</script>" + "lorem ipsum " * 1800)
    run = resume(light_repo, "--yes")
    assert run.code == 4, run.data
    assert "characters long" in run.data["message"]
    state = release_tasks(light_repo)
    assert first in {t.id for t in state.archived}
    assert "characters long" in state.steps["highlights_draft"].description
    assert git(light_repo, "tag", "--list") == "v1.0.0"


def test_accepted_highlights_are_stored_clean(light_repo: Path) -> None:
    """Accepted highlights are stored (highlights.md) without the raw HTML, and reported."""
    assert prepare(light_repo, "--agent", "--yes").code == 4
    sha = git(light_repo, "log", "--format=%h", "-1", "--grep", "Celsius everywhere")
    _complete_draft(light_repo, f"Celsius <em>everywhere</em> (`{sha}`).")
    run = resume(light_repo, "--yes")
    assert run.code == 0, run.data.get("message")
    state = release_tasks(light_repo)
    art = next(a for a in state.steps["highlights"].artifacts if a.name == "highlights.md")
    report = next(a for a in state.root.artifacts if a.name == "release-report.md")
    with Orchestrator.open(light_repo, actor="test") as orch:
        stored: Any = orch.read_artifact(art.sha256).decode()
        markdown = orch.read_artifact(report.sha256).decode()
    assert stored == f"Celsius everywhere (`{sha}`).\n"
    assert f"## Highlights\n\nCelsius everywhere (`{sha}`)." in markdown
