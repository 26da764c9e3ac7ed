"""release.version: parsing, ordering, bump rules and next-version planning."""

from __future__ import annotations

import pytest

from castoff.errors import VersionError
from castoff.release.model import Change
from castoff.release.version import BumpRules, bump, bump_level, parse, plan_next


def change(type_: str, *, breaking: bool = False, conventional: bool = True) -> Change:
    return Change(
        sha=f"{type_}0000",
        type=type_,
        description="x",
        breaking=breaking,
        conventional=conventional,
    )


def plan(
    current: str | None,
    changes: list[Change],
    scheme: str = "semver",
    *,
    last_final: str | None = "same",
    rules: BumpRules | None = None,
    **kw: object,
):
    cur = parse(current, scheme) if current else None
    final = cur if last_final == "same" else (parse(last_final, scheme) if last_final else None)
    return plan_next(
        scheme=scheme,
        current=cur,
        last_final=final,
        changes=changes,
        rules=rules or BumpRules(),
        **kw,
    )  # type: ignore[arg-type]


def test_semver_parse_accepts_leading_v() -> None:
    """A leading v is dropped."""
    assert parse("v1.2.3", "semver").text == "1.2.3"


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3.4", "x", "1.2.3-"])
def test_semver_parse_rejects_malformed(bad: str) -> None:
    """Malformed SemVer raises VersionError."""
    with pytest.raises(VersionError):
        parse(bad, "semver")


def test_pep440_parse_rejects_malformed() -> None:
    """Malformed PEP 440 raises VersionError."""
    with pytest.raises(VersionError):
        parse("1.2.x", "pep440")


def test_semver_precedence_follows_the_spec() -> None:
    """Prereleases sort before the release; numeric identifiers compare numerically."""
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    parsed = [parse(v, "semver") for v in order]
    shuffled = [parsed[i] for i in (3, 6, 0, 5, 1, 4, 2)]
    assert sorted(shuffled) == parsed


def test_pep440_ordering_uses_packaging() -> None:
    """1.0.0rc1 < 1.0.0 < 1.0.0.post1 under PEP 440."""
    assert parse("1.0.0rc1", "pep440") < parse("1.0.0", "pep440") < parse("1.0.0.post1", "pep440")


def test_mixed_scheme_comparison_is_refused() -> None:
    """Comparing a SemVer with a PEP 440 version raises."""
    with pytest.raises(VersionError):
        _ = parse("1.0.0", "semver") < parse("1.0.0", "pep440")


@pytest.mark.parametrize(
    ("types", "level"),
    [
        (["feat", "fix"], "minor"),
        (["fix"], "patch"),
        (["perf"], "patch"),
        (["docs", "chore"], None),
        (["fix", "feat!"], "major"),
    ],
)
def test_bump_level_from_types(types: list[str], level: str | None) -> None:
    """breaking → major, feat → minor, fix/perf → patch, others → nothing."""
    changes = [change(t.rstrip("!"), breaking=t.endswith("!")) for t in types]
    assert bump_level(changes, BumpRules())[0] == level


def test_bump_level_ignores_non_conventional_commits() -> None:
    """A non-conventional 'fix' is not releasable."""
    assert bump_level([change("other", conventional=False)], BumpRules())[0] is None


def test_reasons_are_the_changes_at_the_chosen_level() -> None:
    """Reasons list the commits that drove the bump."""
    level, reasons = bump_level([change("fix"), change("feat")], BumpRules())
    assert (level, [c.type for c in reasons]) == ("minor", ["feat"])


def test_configured_patch_types_are_used() -> None:
    """refactor bumps patch when patch_types includes it."""
    rules = BumpRules(patch_types=("fix", "refactor"))
    assert bump_level([change("refactor")], rules)[0] == "patch"


def test_major_version_zero_makes_breaking_minor() -> None:
    """On 0.x with major_version_zero, breaking → minor."""
    p = plan("0.3.1", [change("feat", breaking=True)], rules=BumpRules(major_version_zero=True))
    assert str(p.next) == "0.4.0"


def test_breaking_on_zero_goes_to_one_by_default() -> None:
    """Without major_version_zero, breaking on 0.x → 1.0.0."""
    assert str(plan("0.3.1", [change("feat", breaking=True)]).next) == "1.0.0"


def test_major_version_zero_does_not_apply_from_one() -> None:
    """From 1.x, breaking is major even with major_version_zero."""
    p = plan("1.3.1", [change("fix", breaking=True)], rules=BumpRules(major_version_zero=True))
    assert str(p.next) == "2.0.0"


def test_no_releasable_change_means_no_release() -> None:
    """Only chores → next is None with a plain message."""
    p = plan("1.0.0", [change("chore")])
    assert p.next is None
    assert "no releasable change" in p.message


def test_first_release_bumps_from_zero() -> None:
    """Without any tag, feat → 0.1.0."""
    assert str(plan(None, [change("feat")], last_final=None).next) == "0.1.0"


def test_prerelease_starts_at_one_semver() -> None:
    """--prerelease rc from 1.1.0 with a feat → 1.2.0-rc.1."""
    assert str(plan("1.1.0", [change("feat")], prerelease="rc").next) == "1.2.0-rc.1"


def test_prerelease_increments_on_repeat_semver() -> None:
    """1.2.0-rc.1 → 1.2.0-rc.2 on another --prerelease rc."""
    p = plan("1.2.0-rc.1", [change("feat")], last_final="1.1.0", prerelease="rc")
    assert str(p.next) == "1.2.0-rc.2"


def test_prerelease_increments_on_repeat_pep440() -> None:
    """An rc aiming higher than the commits ask keeps its release: rc1 → rc2."""
    p = plan("1.2.0rc1", [change("fix")], "pep440", last_final="1.1.9", prerelease="rc")
    assert str(p.next) == "1.2.0rc2"


def test_prerelease_pep440_same_target_increments() -> None:
    """PEP 440 rc1 → rc2 when the target release is unchanged."""
    p = plan("1.2.0rc1", [change("feat")], "pep440", last_final="1.1.0", prerelease="rc")
    assert str(p.next) == "1.2.0rc2"


def test_prerelease_alpha_spelling_pep440() -> None:
    """alpha is spelled a in PEP 440."""
    p = plan("1.1.0", [change("feat")], "pep440", prerelease="alpha")
    assert str(p.next) == "1.2.0a1"


def test_prerelease_moves_up_a_label() -> None:
    """beta.3 → rc.1 for the same release."""
    p = plan("1.2.0-beta.3", [change("feat")], last_final="1.1.0", prerelease="rc")
    assert str(p.next) == "1.2.0-rc.1"


def test_prerelease_refuses_to_go_back_a_label() -> None:
    """rc → beta for the same release is refused."""
    with pytest.raises(VersionError):
        plan("1.2.0-rc.1", [change("feat")], last_final="1.1.0", prerelease="beta")


def test_prerelease_restarts_when_target_grows() -> None:
    """A breaking change after 1.2.0-rc.2 starts 2.0.0-rc.1."""
    changes = [change("feat"), change("fix", breaking=True)]
    p = plan("1.2.0-rc.2", changes, last_final="1.1.0", prerelease="rc")
    assert str(p.next) == "2.0.0-rc.1"


def test_finalize_prerelease() -> None:
    """Without --prerelease, 1.2.0-rc.2 finalizes to 1.2.0."""
    assert str(plan("1.2.0-rc.2", [change("feat")], last_final="1.1.0").next) == "1.2.0"


def test_finalize_manual_prerelease_without_releasable_changes() -> None:
    """A prerelease with only chores since the last final still finalizes."""
    assert str(plan("1.2.0-rc.1", [change("chore")], last_final="1.1.0").next) == "1.2.0"


def test_prerelease_start_is_configurable() -> None:
    """prerelease_start=0 gives rc0 (commitizen's numbering)."""
    p = plan("1.1.0", [change("feat")], "pep440", prerelease="rc", prerelease_start=0)
    assert str(p.next) == "1.2.0rc0"


def test_manual_bump_overrides_commits() -> None:
    """--bump major ignores the commit types."""
    p = plan("1.1.0", [change("chore")], bump_override="major")
    assert (str(p.next), p.bump) == ("2.0.0", "major")


def test_manual_version_must_be_greater() -> None:
    """--version not greater than current raises VersionError (exit 2)."""
    with pytest.raises(VersionError) as info:
        plan("1.1.0", [], version_override="1.0.9")
    assert info.value.exit_code == 2


def test_manual_version_malformed_is_refused() -> None:
    """A malformed --version raises VersionError."""
    with pytest.raises(VersionError):
        plan("1.1.0", [], version_override="one.two")


def test_manual_version_is_used() -> None:
    """A greater --version is taken as is."""
    assert str(plan("1.1.0", [], version_override="3.0.0").next) == "3.0.0"


def test_unknown_prerelease_label_is_refused() -> None:
    """--prerelease gamma raises VersionError."""
    with pytest.raises(VersionError):
        plan("1.1.0", [change("feat")], prerelease="gamma")


def test_bump_from_prerelease_uses_its_release() -> None:
    """bump(1.2.0-rc.1, patch) → 1.2.1."""
    assert str(bump(parse("1.2.0-rc.1", "semver"), "patch")) == "1.2.1"


@pytest.mark.parametrize(
    ("label", "expected"),
    [("rc", "1.2.0-rc0"), ("alpha", "1.2.0-a0"), ("beta", "1.2.0-b0")],
)
def test_compact_prerelease_style(label: str, expected: str) -> None:
    """prerelease_style="compact" spells prereleases as commitizen's semver scheme does."""
    p = plan(
        "1.1.0",
        [change("feat")],
        prerelease=label,
        prerelease_start=0,
        prerelease_style="compact",
    )
    assert str(p.next) == expected


def test_compact_prerelease_continues() -> None:
    """1.2.0-rc0 → 1.2.0-rc1 in the compact style."""
    p = plan(
        "1.2.0-rc0",
        [change("feat")],
        last_final="1.1.0",
        prerelease="rc",
        prerelease_style="compact",
    )
    assert str(p.next) == "1.2.0-rc1"


def test_compact_and_dotted_prereleases_interleave() -> None:
    """rc0 < rc.1 < rc2 < 1.2.0, and a0 < alpha.1 < b0 < rc0: one order for both spellings."""
    order = ["1.2.0-a0", "1.2.0-alpha.1", "1.2.0-b0", "1.2.0-rc0", "1.2.0-rc.1", "1.2.0-rc2"]
    parsed = [parse(v, "semver") for v in [*order, "1.2.0"]]
    assert sorted([parsed[i] for i in (3, 6, 0, 5, 1, 4, 2)]) == parsed
    assert parse("1.2.0-rc1", "semver") == parse("1.2.0-rc.1", "semver")
    assert len({parse("1.2.0-rc1", "semver"), parse("1.2.0-rc.1", "semver")}) == 1


def test_allow_zero_version_false_makes_the_first_release_one() -> None:
    """allow_zero_version = false (PSR 10): a fix from 0.0.0 is 1.0.0."""
    rules = BumpRules(allow_zero_version=False)
    p = plan("0.0.0", [change("fix")], rules=rules)
    assert (str(p.next), p.bump) == ("1.0.0", "major")
    assert "allow_zero_version" in p.message


def test_allow_zero_version_false_releases_without_releasable_change() -> None:
    """As python-semantic-release does: 0.x with allow_zero_version = false moves to 1.0.0."""
    p = plan("0.3.0", [change("docs")], rules=BumpRules(allow_zero_version=False))
    assert str(p.next) == "1.0.0"


def test_allow_zero_version_false_continues_a_one_prerelease() -> None:
    """1.0.0-rc.1 after 0.x: --prerelease rc continues it (the rc is no zero version)."""
    rules = BumpRules(allow_zero_version=False)
    p = plan("1.0.0-rc.1", [change("fix")], last_final=None, rules=rules, prerelease="rc")
    assert str(p.next) == "1.0.0-rc.2"
    nothing = plan("1.0.0-rc.1", [change("docs")], last_final=None, rules=rules, prerelease="rc")
    assert nothing.next is None


def test_allow_zero_version_false_leaves_one_alone() -> None:
    """From 1.x the setting changes nothing."""
    p = plan("1.2.0", [change("fix")], rules=BumpRules(allow_zero_version=False))
    assert str(p.next) == "1.2.1"


def test_a_monorepo_operation_names_its_package_or_a_tag_of_it() -> None:
    """resolve_package: the package given, else the one whose tag format the tag matches;
    a monorepo with neither asks for --package; a single project has none."""
    from pathlib import Path

    from castoff.config import Config
    from castoff.errors import UsageError
    from castoff.release.version import resolve_package

    packages = {
        "pkg-a": {"path": "packages/a"},
        "web": {"path": "web", "tag_format": "web@{version}"},
    }
    mono = Config(root=Path("/nowhere"), data={"version": {"packages": packages}})
    assert resolve_package(mono, "web") == "web"
    assert resolve_package(mono, None, "pkg-a-v1.2.0") == "pkg-a"
    assert resolve_package(mono, None, "web@2.0.0-rc.1") == "web"
    with pytest.raises(UsageError, match=r"choose --package \(pkg-a, web\)"):
        resolve_package(mono, None, "v1.2.0")
    with pytest.raises(UsageError, match="unknown package 'pkg-c'"):
        resolve_package(mono, "pkg-c")
    assert resolve_package(Config(root=Path("/nowhere")), None, "v1.2.0") is None
