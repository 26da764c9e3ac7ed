"""Assemble a rollback plan: ordered, copy-pasteable steps per layer, and render it.

Pure: :func:`build_plan` takes what the repository reader found (tags, shas,
packages, risks) and returns a :class:`RollbackPlan`; :func:`render_markdown`
and :func:`render_json` give the two artifact forms.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from castoff.release.model import TagInfo
from castoff.release.rollback.model import (
    Action,
    Layer,
    PackageRef,
    ReleaseRef,
    Risk,
    RollbackPlan,
    RollbackStep,
)
from castoff.release.rollback.settings import RollbackSettings
from castoff.serialize import to_data

TRAILER = "Castoff-Rollback-Of"


def fill_template(template: str, values: dict[str, str]) -> str:
    """Fill a configured command template; every value is shell-quoted."""
    return template.format(**{key: shlex.quote(value) for key, value in values.items()})


def revert_commands(sha: str, new_tag: str, previous_tag: str, *, merge: bool) -> list[list[str]]:
    """The git argument lists that revert the release commit with a castoff trailer."""
    mainline = ["-m", "1"] if merge else []
    return [
        ["revert", "--no-commit", *mainline, sha],
        [
            "commit",
            "--allow-empty",
            "-m",
            f"Revert release {new_tag}",
            "-m",
            f"This reverts commit {sha} (release {new_tag}), rolling back to {previous_tag}.",
            "-m",
            f"{TRAILER}: {sha}",
        ],
    ]


def _git_line(args: list[str]) -> str:
    return shlex.join(["git", *args])


def _git_steps(
    *,
    releases: list[ReleaseRef],
    subjects: dict[str, tuple[str, bool]],
    previous_tag: str,
    previous_sha: str | None,
    remote: str,
    branch: str | None,
    paths: tuple[str, ...] = (),
) -> list[RollbackStep]:
    """Delete every undone tag, revert every release commit (newest first), then the remote.

    ``releases`` are newest first; the first is the plan's new release, whose
    steps keep their plain keys (and no tag/sha). Each release commit is
    reverted once, and not at all when it is the target's commit.
    """

    def suffix(n: int, release: ReleaseRef) -> str:
        return "" if n == 0 else f".{release.tag}"

    def tag(n: int, release: ReleaseRef) -> str | None:
        return None if n == 0 else release.tag

    def sha(n: int, release: ReleaseRef) -> str | None:
        return None if n == 0 else release.sha

    steps: list[RollbackStep] = []
    for n, release in enumerate(releases):
        steps.append(
            RollbackStep(
                key=f"git.delete-local-tag{suffix(n, release)}",
                layer=Layer.GIT,
                title=f"Delete the tag {release.tag} locally",
                action=Action.DELETE_LOCAL_TAG,
                command=_git_line(["tag", "-d", release.tag]),
                local_safe=True,
                runnable=True,
                tag=tag(n, release),
                sha=sha(n, release),
            )
        )
    reverted: list[ReleaseRef] = []
    for n, release in enumerate(releases):
        if release.sha == previous_sha or release.sha in {r.sha for r in reverted}:
            continue
        reverted.append(release)
        short = release.sha[:7]
        subject, merge = subjects.get(release.sha, ("", False))
        whole_tree = (
            "To restore the whole tree of the previous release instead, revert every "
            f"commit since it: `git revert --no-edit {previous_tag}..{releases[0].sha[:7]}`."
        )
        if paths:  # a monorepo package: its files only, never another package's commits
            restore = ["restore", f"--source={previous_tag}", "--staged", "--worktree", "--"]
            whole_tree = (
                "To restore the package's whole tree of the previous release instead: "
                f"`{_git_line([*restore, *paths])}`, then commit."
            )
        steps.append(
            RollbackStep(
                key=f"git.revert-release{suffix(n, release)}",
                layer=Layer.GIT,
                title=f"Revert the release commit {short}"
                + ("" if n == 0 else f" of {release.tag}")
                + f" ({subject})",
                action=Action.REVERT_RELEASE,
                command=" && ".join(
                    _git_line(a)
                    for a in revert_commands(release.sha, release.tag, previous_tag, merge=merge)
                ),
                instructions=whole_tree if n == 0 else "",
                local_safe=True,
                runnable=True,
                tag=tag(n, release),
                sha=sha(n, release),
            )
        )
    for n, release in enumerate(releases):
        steps.append(
            RollbackStep(
                key=f"git.delete-remote-tag{suffix(n, release)}",
                layer=Layer.GIT,
                title=f"Delete the tag {release.tag} on {remote}",
                action=Action.DELETE_REMOTE_TAG,
                command=_git_line(["push", remote, f":refs/tags/{release.tag}"]),
                runnable=True,
                remote=True,
                tag=tag(n, release),
                sha=sha(n, release),
            )
        )
    if reverted:
        target = branch or "<branch>"
        last = reverted[-1]  # its revert is the newest commit: pushing it pushes them all
        steps.append(
            RollbackStep(
                key="git.push-revert",
                layer=Layer.GIT,
                title=f"Push the revert commit{'s' if len(reverted) > 1 else ''} "
                f"to {remote}/{target}",
                action=Action.PUSH_REVERT if branch else Action.MANUAL,
                command=_git_line(["push", remote, f"HEAD:refs/heads/{target}"]),
                runnable=branch is not None,
                remote=True,
                tag=None if last is releases[0] else last.tag,
                sha=None if last is releases[0] else last.sha,
            )
        )
    return steps


def _package_steps(
    packages: list[PackageRef], settings: RollbackSettings, values: dict[str, str], suffix: str
) -> list[RollbackStep]:
    version = values["version"]
    if settings.yank_command:
        return [
            RollbackStep(
                key=f"package.yank{suffix}",
                layer=Layer.PACKAGE,
                title=f"Withdraw {version} from the package index",
                action=Action.RUN_COMMAND,
                command=fill_template(settings.yank_command, values),
                runnable=True,
                remote=True,
            )
        ]
    steps: list[RollbackStep] = []
    for pkg in packages:
        if pkg.index == "pypi":
            url = f"https://pypi.org/manage/project/{pkg.name}/release/{version}/"
            steps.append(
                RollbackStep(
                    key=f"package.yank-pypi-{pkg.name}{suffix}",
                    layer=Layer.PACKAGE,
                    title=f"Yank {pkg.name} {version} on PyPI",
                    action=Action.MANUAL,
                    instructions=(
                        f"PyPI has no command-line yank: open {url} → Options → Yank, and give "
                        "the reason. (Or set [rollback] yank_command.)"
                    ),
                )
            )
        elif pkg.index == "npm":
            message = f"{version} was rolled back; use {values['previous'] or 'an earlier version'}"
            steps.append(
                RollbackStep(
                    key=f"package.deprecate-npm-{pkg.name}{suffix}",
                    layer=Layer.PACKAGE,
                    title=f"Deprecate {pkg.name}@{version} on npm",
                    action=Action.MANUAL,
                    command=shlex.join(["npm", "deprecate", f"{pkg.name}@{version}", message]),
                )
            )
        elif pkg.index == "crates":
            steps.append(
                RollbackStep(
                    key=f"package.yank-crates-{pkg.name}{suffix}",
                    layer=Layer.PACKAGE,
                    title=f"Yank {pkg.name} {version} on crates.io",
                    action=Action.MANUAL,
                    command=shlex.join(["cargo", "yank", "--version", version, pkg.name]),
                )
            )
    return steps


def build_plan(
    *,
    project: str,
    new_version: str,
    new_tag: str,
    new_ref: str,
    new_sha: str,
    previous: TagInfo | None,
    settings: RollbackSettings,
    created_at: str,
    release_subject: str = "",
    release_is_merge: bool = False,
    branch: str | None = None,
    packages: list[PackageRef] | None = None,
    risks: list[Risk] | None = None,
    commit_count: int = 0,
    intermediate: list[TagInfo] | None = None,
    intermediate_subjects: dict[str, tuple[str, bool]] | None = None,
    package: str | None = None,
    paths: tuple[str, ...] = (),
) -> RollbackPlan:
    """The ordered steps that undo ``new_tag`` back to ``previous`` (None: first release).

    ``intermediate``: the releases between ``previous`` and ``new_tag``, newest
    first, undone too (their tags deleted, release commits reverted, versions
    withdrawn); ``intermediate_subjects`` maps their shas to (subject, is merge).
    ``package`` / ``paths``: a monorepo package's release (its files are what a
    whole-tree restore brings back).
    """
    packages = packages or []
    between = [
        ReleaseRef(t.name, t.version, t.sha) for t in (intermediate or ()) if previous is not None
    ]
    values = {
        "previous": previous.version if previous else "",
        "previous_tag": previous.name if previous else "",
        "version": new_version,
        "tag": new_tag,
        "name": project,
        "remote": settings.remote,
    }
    notes: list[str] = []
    steps: list[RollbackStep] = []
    if previous is None:
        notes.append(
            f"No previous release: {new_tag} is the first release, so there is nothing to roll "
            "back to. To withdraw it, delete the tag and withdraw the package."
        )
    else:
        steps += _git_steps(
            releases=[ReleaseRef(new_tag, new_version, new_sha), *between],
            subjects={
                **(intermediate_subjects or {}),
                new_sha: (release_subject, release_is_merge),
            },
            previous_tag=previous.name,
            previous_sha=previous.sha,
            remote=settings.remote,
            branch=branch,
            paths=paths,
        )
        if between:
            notes.append(
                f"Going back to {previous.name} undoes {len(between) + 1} releases: "
                f"{', '.join([new_tag, *(r.tag for r in between)])} (newest first). Each tag "
                "is deleted, each release commit reverted and each version withdrawn."
            )
    steps += _package_steps(packages, settings, values, "")
    for release in between:
        steps += _package_steps(
            packages,
            settings,
            {**values, "version": release.version, "tag": release.tag},
            f".{release.tag}",
        )
    if previous is not None:
        if settings.deploy_command:
            steps.append(
                RollbackStep(
                    key="deploy.redeploy",
                    layer=Layer.DEPLOY,
                    title=f"Redeploy {previous.version}",
                    action=Action.RUN_COMMAND,
                    command=fill_template(settings.deploy_command, values),
                    runnable=True,
                    remote=True,
                )
            )
        else:
            steps.append(
                RollbackStep(
                    key="deploy.redeploy",
                    layer=Layer.DEPLOY,
                    title=f"Redeploy {previous.version}",
                    action=Action.MANUAL,
                    instructions=(
                        f"Deploy {previous.name} ({(previous.sha or '')[:7]}) with your usual "
                        "process (set [rollback] deploy_command to let castoff run it)."
                    ),
                )
            )
    if between:
        versions = [new_version, *(r.version for r in between)]
        withdrawn = f"{', '.join(versions[:-1])} and {versions[-1]} have been withdrawn"
        back_to = f"; {project} is back on {previous.version}" if previous else ""
    else:
        withdrawn = f"{new_version} has been withdrawn"
        back_to = f" and is back on {previous.version}" if previous else ""
    steps.append(
        RollbackStep(
            key="announce.post",
            layer=Layer.ANNOUNCE,
            title="Tell users",
            action=Action.MANUAL,
            instructions=(
                f'Post where {new_version} was announced: "{project} {withdrawn}{back_to}. '
                "Reason: <what went wrong>. If you upgraded, "
                + (f"go back to {previous.version}" if previous else "uninstall it")
                + '; a fixed release will follow."'
            ),
        )
    )
    return RollbackPlan(
        project=project,
        new_version=new_version,
        new_tag=new_tag,
        new_ref=new_ref,
        new_sha=new_sha,
        previous_tag=previous.name if previous else None,
        previous_version=previous.version if previous else None,
        previous_sha=previous.sha if previous else None,
        remote=settings.remote,
        branch=branch,
        created_at=created_at,
        steps=tuple(steps),
        risks=tuple(risks or ()),
        commit_count=commit_count,
        notes=tuple(notes),
        intermediate=tuple(between),
        package=package,
    )


# -- rendering ---------------------------------------------------------------


def plan_data(plan: RollbackPlan) -> dict[str, Any]:
    """The plan as JSON data (its derived flags are fields, so they are included)."""
    data: dict[str, Any] = to_data(plan)
    return data


def render_json(plan: RollbackPlan) -> str:
    """The JSON artifact."""
    return json.dumps(plan_data(plan), indent=2, ensure_ascii=False) + "\n"


_LAYER_TITLES = {
    Layer.GIT: "Git",
    Layer.PACKAGE: "Package index",
    Layer.DEPLOY: "Deployment",
    Layer.ANNOUNCE: "Announcement",
}


def _step_note(step: RollbackStep) -> str:
    if step.runnable and step.local_safe:
        return "run by `castoff rollback run --yes`"
    if step.runnable and step.action in (Action.DELETE_REMOTE_TAG, Action.PUSH_REVERT):
        return "run by `castoff rollback run --yes --push`"
    if step.runnable:
        return "configured command, run by `castoff rollback run --yes`"
    return "by hand"


def render_markdown(plan: RollbackPlan) -> str:
    """The Markdown artifact: summary, risks, steps per layer, verification."""
    target = plan.previous_tag or "nothing (first release)"
    out = [f"# Rollback plan: {plan.project} {plan.new_tag} → {target}", ""]
    out.append(
        f"Created {plan.created_at} from `{plan.new_ref}` ({plan.new_sha[:7]}); "
        f"{plan.commit_count} commit(s) since {plan.previous_tag or 'the beginning'}."
    )
    if plan.package:
        out += [
            "",
            f"Monorepo package `{plan.package}`: its commits and files, and the files shared "
            "by every package, were read for risks; other packages are not touched.",
        ]
    if plan.intermediate:
        out += ["", "Also undoes: " + ", ".join(f"`{r.tag}`" for r in plan.intermediate) + "."]
    out += ["", *(f"> {note}" for note in plan.notes)] if plan.notes else []
    out += ["", "## Risks", ""]
    if not plan.risks:
        out.append("No risks found in the diff.")
    for risk in plan.risks:
        out.append(f"- **{risk.severity.value.upper()}** ({risk.kind}) {risk.title}")
        out.append(f"  - Advice: {risk.advice}")
        if risk.paths:
            out.append("  - Files: " + ", ".join(f"`{p}`" for p in risk.paths[:20]))
        if risk.commits:
            out.append("  - Commits: " + ", ".join(f"`{c[:7]}`" for c in risk.commits))
    out += ["", "## Steps"]
    number = 0
    for layer in Layer:
        steps = [s for s in plan.steps if s.layer is layer]
        if not steps:
            continue
        out += [*([""] if out[-1] else []), f"### {_LAYER_TITLES[layer]}", ""]
        for step in steps:
            number += 1
            out.append(f"{number}. {step.title} — *{_step_note(step)}*")
            if step.command:
                out += ["", "   ```sh", f"   {step.command}", "   ```"]
            if step.instructions:
                out += ["", f"   {step.instructions}"]
            out.append("")
    if not out[-1]:
        out.pop()
    out += _verification_lines(plan)
    return "\n".join(out).rstrip() + "\n"


def _verification_lines(plan: RollbackPlan) -> list[str]:
    out = ["", "## Verification", ""]
    ver = plan.verification
    if ver is None:
        return [*out, "Not verified yet: run `castoff rollback plan --verify`."]
    out.append(f"- Status: **{ver.status}** ({ver.started_at} → {ver.finished_at})")
    if ver.target_tag:
        out.append(f"- Checked out: `{ver.target_tag}` ({(ver.target_sha or '')[:7]})")
    for label, result in (("Build", ver.build), ("Test", ver.test)):
        if result is not None:
            state = "timed out" if result.timed_out else f"exit {result.exit_code}"
            out.append(f"- {label}: `{result.command}` → {state} in {result.duration_seconds:.1f}s")
            if not result.ok and result.output_tail:
                out += [
                    "",
                    "  ```",
                    *(f"  {ln}" for ln in result.output_tail.splitlines()),
                    "  ```",
                ]
    if ver.error:
        out.append(f"- Error: {ver.error}")
    return out


def plan_documents(plan: RollbackPlan) -> list[tuple[str, str, str]]:
    """``(name, content, artifact_type)`` of the two artifacts attached to the release."""
    stem = f"rollback-plan-{plan.new_tag}"
    return [
        (f"{stem}.md", render_markdown(plan), "documentation"),
        (f"{stem}.json", render_json(plan), "analysis"),
    ]
