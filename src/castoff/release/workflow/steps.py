"""The release graph: its steps, their roles and their dependencies.

::

    version ──► notes ──► release_commit ──► validate ──┐
                  │               └────────► rollback ──┤
                  └──► announce_draft ──────────────────┴──► tag ──► push ──► announce_send
                  └──► highlights_draft ──► highlights ─────────┘   (--agent only)

Nothing is tagged before validation passed and a rollback plan was verified;
``push`` and ``announce_send`` exist only when asked for, and come after the tag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One task of the release graph."""

    key: str
    title: str
    specialist: str
    task_type: str
    depends_on: tuple[str, ...]
    description: str
    writes_repository: bool = False
    agent: bool = False  # left for an MCP client in --agent mode


VERSION = StepSpec(
    "version",
    "Compute the next version",
    "version_tagging",
    "research",
    (),
    "Read the release tags and the commits since the last release; decide the next version.",
)
NOTES = StepSpec(
    "notes",
    "Write the release notes",
    "release_notes",
    "documentation",
    ("version",),
    "Parse the commits of the release into grouped notes (Markdown, GitHub body, JSON).",
)
RELEASE_COMMIT = StepSpec(
    "release_commit",
    "Update version files and CHANGELOG; commit",
    "version_tagging",
    "implementation",
    ("notes",),
    "Write the new version into every version file and the notes into CHANGELOG.md, then "
    "make the release commit.",
    writes_repository=True,
)
VALIDATE = StepSpec(
    "validate",
    "Pre-flight validation",
    "deployment_validation",
    "testing",
    ("release_commit",),
    "Prove the release commit shippable: clean tree, versions agree, tests, build, install "
    "smoke test, custom checks.",
)
ROLLBACK = StepSpec(
    "rollback",
    "Plan and verify the rollback",
    "rollback_planning",
    "review",
    ("release_commit",),
    "Plan the way back to the previous release, flag risks, and prove the previous release "
    "builds in a scratch worktree.",
)
ANNOUNCE_DRAFT = StepSpec(
    "announce_draft",
    "Draft the announcements",
    "announcement",
    "documentation",
    ("notes",),
    "Draft the release body, e-mail, chat payloads, social post and blog skeleton.",
)
HIGHLIGHTS_DRAFT = StepSpec(
    "highlights_draft",
    "Write the highlights paragraph",
    "release_notes",
    "documentation",
    ("notes",),
    "Write a short highlights paragraph (2-4 sentences; at most 8 sentences and 1,200 "
    "characters) for the release notes in this task's dependency artifacts (notes.md / "
    "notes.json). Cite at least one entry, and only entries that are in the notes, each by "
    "its short hash (7 or more hex digits of the entry's hash) in backticks, e.g. `abc1234`, "
    "or in parentheses, e.g. (abc1234). Plain text or Markdown inline formatting only: "
    "HTML tags, images and line breaks are removed. Complete the task with the paragraph as "
    "the summary (or an artifact named highlights.md).",
    agent=True,
)
HIGHLIGHTS = StepSpec(
    "highlights",
    "Check the highlights",
    "reviewer",
    "review",
    ("highlights_draft",),
    "Accept the agent's highlights only if they cite at least one entry, every entry they "
    "cite is in the notes, and they are short; store them without raw HTML.",
)
TAG = StepSpec(
    "tag",
    "Tag the release",
    "version_tagging",
    "deployment",
    ("validate", "rollback", "announce_draft"),
    "Create the annotated tag on the release commit, its message the release notes.",
    writes_repository=True,
)
PUSH = StepSpec(
    "push",
    "Push the release commit and tag",
    "devops",
    "deployment",
    ("tag",),
    "Push the branch and the tag together (git push --atomic).",
    writes_repository=True,
)
ANNOUNCE_SEND = StepSpec(
    "announce_send",
    "Deliver the announcements",
    "announcement",
    "deployment",
    ("tag",),
    "Deliver the drafted announcements to the configured channels, each exactly once.",
)


def release_steps(*, push: bool, announce: bool, agent: bool) -> list[StepSpec]:
    """The steps of a release with these options, in a valid execution order."""
    steps = [VERSION, NOTES, RELEASE_COMMIT, VALIDATE, ROLLBACK, ANNOUNCE_DRAFT]
    tag = TAG
    if agent:
        steps += [HIGHLIGHTS_DRAFT, HIGHLIGHTS]
        tag = replace(TAG, depends_on=(*TAG.depends_on, "highlights"))
    steps.append(tag)
    if push:
        steps.append(PUSH)
    if announce:
        deps = ("push",) if push else ("tag",)
        steps.append(replace(ANNOUNCE_SEND, depends_on=deps))
    return steps
