"""plan_rollback on real repositories: target, steps, risks, rendering."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from test_rollback_scenario import castoff_toml, released_project, three_releases

from castoff.config import load_config
from castoff.errors import ConfigError, NotFound, UsageError
from castoff.release.rollback.model import Layer, Severity, plan_from_data
from castoff.release.rollback.plan import plan_documents, render_json, render_markdown
from castoff.release.rollback.repo import changed_files, plan_rollback, resolve_new_release


def plan_for(repo: Any, **kwargs: Any) -> Any:
    config = load_config(repo.path)
    kwargs.setdefault("new_version", "1.1.0")
    kwargs.setdefault("new_tag", "v1.1.0")
    kwargs.setdefault("new_ref", "v1.1.0")
    return plan_rollback(repo.path, config, **kwargs)


def test_plan_targets_the_previous_release(make_repo: Any) -> None:
    """Without --to, the target is the highest release tag below the new one."""
    repo = released_project(make_repo)
    plan = plan_for(repo)
    assert plan.previous_tag == "v1.0.0"
    assert plan.previous_sha == repo.git("rev-parse", "v1.0.0^{commit}")
    assert plan.new_sha == repo.git("rev-parse", "v1.1.0^{commit}")
    assert plan.commit_count == 4
    assert plan.project == "shipit"


def test_plan_flags_migration_lockfile_and_breaking_commit(make_repo: Any) -> None:
    """The new release's irreversible migration, lockfile change and breaking commit are flagged."""
    repo = released_project(make_repo)
    risks = {r.kind: r for r in plan_for(repo).risks}
    assert set(risks) == {"migration", "lockfile", "breaking_change"}
    assert risks["migration"].severity is Severity.HIGH
    assert risks["migration"].paths == ("alembic/versions/0002_age.py",)
    assert risks["lockfile"].paths == ("poetry.lock",)
    assert "/v1 is gone" in risks["breaking_change"].title


def test_plan_steps_are_ordered_by_layer(make_repo: Any) -> None:
    """Steps run git, then package index, then deployment, then announcement."""
    plan = plan_for(released_project(make_repo))
    layers = [s.layer for s in plan.steps]
    assert layers == sorted(layers, key=list(Layer).index)
    assert [s.key for s in plan.steps if s.layer is Layer.GIT] == [
        "git.delete-local-tag",
        "git.revert-release",
        "git.delete-remote-tag",
        "git.push-revert",
    ]


def test_plan_git_commands_are_concrete(make_repo: Any) -> None:
    """Git steps name the tag, the remote and the release commit's sha."""
    repo = released_project(make_repo)
    steps = {s.key: s for s in plan_for(repo).steps}
    sha = repo.git("rev-parse", "v1.1.0^{commit}")
    assert steps["git.delete-local-tag"].command == "git tag -d v1.1.0"
    assert steps["git.delete-remote-tag"].command == "git push origin :refs/tags/v1.1.0"
    assert f"git revert --no-commit {sha}" in (steps["git.revert-release"].command or "")
    assert f"Castoff-Rollback-Of: {sha}" in (steps["git.revert-release"].command or "")
    assert steps["git.push-revert"].command == "git push origin HEAD:refs/heads/main"


def test_pypi_yank_is_an_instruction_without_a_command(make_repo: Any) -> None:
    """PyPI has no CLI yank: the step points at the release's manage page."""
    steps = {s.key: s for s in plan_for(released_project(make_repo)).steps}
    yank = steps["package.yank-pypi-shipit"]
    assert not yank.runnable
    assert "https://pypi.org/manage/project/shipit/release/1.1.0/" in yank.instructions


def test_configured_commands_are_filled_and_runnable(make_repo: Any) -> None:
    """deploy_command / yank_command templates get the versions, shell-quoted."""
    repo = released_project(make_repo)
    repo.write(
        "castoff.toml",
        castoff_toml(
            'deploy_command = "deploy --version {previous} --from {tag}"\n'
            'yank_command = "my-yank {name} {version}"\n'
        ),
    )
    steps = {s.key: s for s in plan_for(repo).steps}
    assert steps["deploy.redeploy"].command == "deploy --version 1.0.0 --from v1.1.0"
    assert steps["deploy.redeploy"].runnable
    assert steps["package.yank"].command == "my-yank shipit 1.1.0"


def test_unknown_template_placeholder_is_a_config_error(make_repo: Any) -> None:
    """A typo in a command template is refused with the allowed names."""
    repo = released_project(make_repo)
    repo.write("castoff.toml", castoff_toml('deploy_command = "deploy {prev}"\n'))
    with pytest.raises(ConfigError, match=r"unknown placeholder \{prev\}"):
        plan_for(repo)


def test_first_release_gives_a_plan_saying_so(make_repo: Any) -> None:
    """With no previous release the plan says so and has no git steps."""
    repo = make_repo()
    repo.commit("feat: first", {"castoff.toml": castoff_toml()})
    repo.tag("v1.0.0")
    plan = plan_for(repo, new_version="1.0.0", new_tag="v1.0.0", new_ref="v1.0.0")
    assert plan.first_release
    assert "No previous release" in plan.notes[0]
    assert not [s for s in plan.steps if s.layer is Layer.GIT]
    assert plan.risks == ()


def test_unknown_target_tag_is_not_found(make_repo: Any) -> None:
    """--to naming no tag raises NotFound (exit 2)."""
    repo = released_project(make_repo)
    with pytest.raises(NotFound, match=r"unknown tag: v0\.9\.0"):
        plan_for(repo, target_tag="v0.9.0")
    assert NotFound.exit_code == 2


def test_explicit_target_tag_is_used(make_repo: Any) -> None:
    """--to picks an older release than the immediately previous one."""
    repo = released_project(make_repo)
    repo.commit("fix: later", None)
    repo.tag("v1.1.1")
    plan = plan_for(
        repo, new_version="1.1.1", new_tag="v1.1.1", new_ref="v1.1.1", target_tag="v1.0.0"
    )
    assert plan.previous_tag == "v1.0.0"
    assert plan.commit_count == 5


def test_planning_before_the_tag_exists_uses_head(make_repo: Any) -> None:
    """Inside the release workflow the new side is HEAD and the version is an input."""
    repo = released_project(make_repo)
    repo.commit("fix: after 1.1.0", None)
    plan = plan_for(repo, new_version="1.1.1", new_tag="v1.1.1", new_ref="HEAD")
    assert plan.previous_tag == "v1.1.0"
    assert plan.new_sha == repo.head()
    assert resolve_new_release(repo.path, load_config(repo.path), "1.1.1") == (
        "1.1.1",
        "v1.1.1",
        "HEAD",
    )


def test_renames_are_read_from_the_diff(make_repo: Any) -> None:
    """git diff -M reports renames with their old path."""
    repo = released_project(make_repo)
    repo.git("mv", "src/shipit/legacy.py", "src/shipit/old_api.py")
    sha = repo.commit("refactor: rename", {})
    changes = changed_files(repo.path, "v1.1.0", sha)
    assert [(c.status, c.path, c.old_path) for c in changes] == [
        ("R", "src/shipit/old_api.py", "src/shipit/legacy.py")
    ]


def test_markdown_lists_risks_steps_and_verification_state(make_repo: Any) -> None:
    """The Markdown artifact names the risks, numbered steps and 'not verified yet'."""
    text = render_markdown(plan_for(released_project(make_repo)))
    assert text.startswith("# Rollback plan: shipit v1.1.0 → v1.0.0")
    assert "**HIGH** (migration)" in text
    assert "1. Delete the tag v1.1.0 locally" in text
    assert "```sh\n   git tag -d v1.1.0\n   ```" in text
    assert "Not verified yet" in text


def test_json_round_trips_to_the_same_plan(make_repo: Any) -> None:
    """The JSON artifact loads back into an equal RollbackPlan."""
    plan = plan_for(released_project(make_repo))
    data = json.loads(render_json(plan))
    assert data["highest_severity"] == "high"
    assert data["verified"] is False
    assert plan_from_data(data) == plan
    names = [name for name, _, _ in plan_documents(plan)]
    assert names == ["rollback-plan-v1.1.0.md", "rollback-plan-v1.1.0.json"]


@pytest.mark.parametrize("target", ["v1.1.0", "v1.2.0"])
def test_target_not_older_than_the_release_is_refused(make_repo: Any, target: str) -> None:
    """--to the release itself (or a newer one) is bad input, not a v1.1.0 → v1.1.0 plan."""
    repo = released_project(make_repo)
    repo.commit("fix: later", None)
    repo.tag("v1.2.0")
    with pytest.raises(UsageError, match=f"--to {target} .*not older than v1.1.0|is the release"):
        plan_for(repo, target_tag=target)
    assert UsageError.exit_code == 2


def test_target_several_releases_back_undoes_each_release(make_repo: Any) -> None:
    """Going from v1.2.0 back to v1.0.0 deletes both tags and reverts both release commits."""
    repo = three_releases(make_repo)
    plan = plan_for(
        repo, new_version="1.2.0", new_tag="v1.2.0", new_ref="v1.2.0", target_tag="v1.0.0"
    )
    v110, v120 = (repo.git("rev-parse", f"{t}^{{commit}}") for t in ("v1.1.0", "v1.2.0"))
    assert [(r.tag, r.sha) for r in plan.intermediate] == [("v1.1.0", v110)]
    assert plan.undone == ("v1.2.0", "v1.1.0")
    git_steps = [(s.key, s.tag, s.sha) for s in plan.steps if s.layer is Layer.GIT]
    assert git_steps == [
        ("git.delete-local-tag", None, None),
        ("git.delete-local-tag.v1.1.0", "v1.1.0", v110),
        ("git.revert-release", None, None),
        ("git.revert-release.v1.1.0", "v1.1.0", v110),
        ("git.delete-remote-tag", None, None),
        ("git.delete-remote-tag.v1.1.0", "v1.1.0", v110),
        ("git.push-revert", "v1.1.0", v110),
    ]
    assert plan.new_sha == v120
    yanks = [s.title for s in plan.steps if s.layer is Layer.PACKAGE]
    assert yanks == ["Yank shipit 1.2.0 on PyPI", "Yank shipit 1.1.0 on PyPI"]
    announce = plan.steps[-1].instructions
    assert "shipit 1.2.0 and 1.1.0 have been withdrawn; shipit is back on 1.0.0" in announce
    assert "Also undoes: `v1.1.0`." in render_markdown(plan)
    assert plan_from_data(json.loads(render_json(plan))) == plan


def test_prereleases_between_are_undone_too(make_repo: Any) -> None:
    """Every tag newer than the target goes, prereleases included (the default target too)."""
    repo = three_releases(make_repo, prerelease=True)
    plan = plan_for(repo, new_version="1.2.0", new_tag="v1.2.0", new_ref="v1.2.0")
    assert plan.previous_tag == "v1.1.0"
    assert [r.tag for r in plan.intermediate] == ["v1.2.0-rc.1"]


def test_derived_flags_are_fields_the_mcp_result_carries(make_repo: Any) -> None:
    """first_release, verified and highest_severity serialize through pydantic too."""
    from pydantic import TypeAdapter

    from castoff.release.rollback.model import RollbackPlan

    plan = plan_for(released_project(make_repo))
    data = TypeAdapter(RollbackPlan).dump_python(plan, mode="json")
    assert (data["first_release"], data["verified"], data["highest_severity"]) == (
        False,
        False,
        "high",
    )
    assert replace(plan, risks=()).highest_severity is None


def test_a_package_plan_reads_its_own_and_the_shared_changes_only(make_repo: Any) -> None:
    """--package: releases are its tags; risks come from its files, its commits and the files
    outside every package (uv.lock), never from another package's."""
    repo = make_repo()
    repo.commit(
        "chore: two packages",
        {
            "castoff.toml": '[version.packages.pkg-a]\npath = "packages/a"\n'
            '[version.packages.pkg-b]\npath = "packages/b"\n',
            "packages/a/pyproject.toml": '[project]\nname = "alpha"\nversion = "1.0.0"\n',
            "packages/b/pyproject.toml": '[project]\nname = "beta"\nversion = "1.0.0"\n',
            "uv.lock": "1\n",
            "packages/b/poetry.lock": "1\n",
        },
    )
    repo.tag("pkg-a-v1.0.0")
    repo.tag("v9.0.0")  # another tag format: never a release of pkg-a
    repo.commit("feat(b)!: beta breaks", {"packages/b/poetry.lock": "2\n"})
    repo.commit("feat(a): alpha grows", {"packages/a/migrations/0002_add.sql": "create table t;"})
    repo.commit("chore: shared lock", {"uv.lock": "2\n"})
    plan = plan_rollback(
        repo.path,
        load_config(repo.path),
        new_version="1.1.0",
        new_tag="pkg-a-v1.1.0",
        package="pkg-a",
    )
    assert (plan.package, plan.project, plan.previous_tag) == ("pkg-a", "alpha", "pkg-a-v1.0.0")
    assert plan.commit_count == 1  # only feat(a) touched packages/a
    kinds = {risk.kind: risk.paths for risk in plan.risks}
    assert set(kinds) == {"migration", "lockfile"}
    assert kinds["lockfile"] == ("uv.lock",)
    assert kinds["migration"] == ("packages/a/migrations/0002_add.sql",)
