"""Pure risk analysis of the diff between two releases."""

from __future__ import annotations

from castoff.release.model import Change
from castoff.release.rollback.manifests import manifest_delta
from castoff.release.rollback.model import FileChange, Severity
from castoff.release.rollback.risks import (
    analyze_risks,
    is_migration,
    migration_downgrade,
    paths_needing_content,
)

ALEMBIC_OK = """
revision = "0002"
def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer()))
def downgrade():
    op.drop_column("users", "age")
"""
ALEMBIC_PASS = '''
def upgrade():
    op.drop_column("users", "age")
def downgrade():
    """Nothing."""
    pass
'''
ALEMBIC_RAISE = """
def upgrade():
    op.drop_table("t")
def downgrade():
    raise NotImplementedError("irreversible")
"""
DJANGO_RUNPYTHON = """
from django.db import migrations
class Migration(migrations.Migration):
    operations = [migrations.RunPython(forwards)]
"""
DJANGO_REVERSIBLE = """
from django.db import migrations
class Migration(migrations.Migration):
    operations = [
        migrations.AddField("a", "b", None),
        migrations.RunPython(f, migrations.RunPython.noop),
    ]
"""


def kinds(risks: list) -> list[str]:
    return [r.kind for r in risks]


def test_alembic_downgrade_with_body_counts_as_reversible() -> None:
    """An alembic downgrade() doing work is a downgrade."""
    assert migration_downgrade("alembic/versions/0002.py", ALEMBIC_OK) is True


def test_alembic_downgrade_pass_is_irreversible() -> None:
    """A downgrade() holding only a docstring and pass is no downgrade."""
    assert migration_downgrade("alembic/versions/0002.py", ALEMBIC_PASS) is False


def test_alembic_downgrade_raising_is_irreversible() -> None:
    """A downgrade() that only raises is no downgrade."""
    assert migration_downgrade("alembic/versions/0002.py", ALEMBIC_RAISE) is False


def test_django_runpython_without_reverse_is_irreversible() -> None:
    """Django RunPython without reverse_code cannot be unapplied."""
    assert migration_downgrade("app/migrations/0002_x.py", DJANGO_RUNPYTHON) is False
    assert migration_downgrade("app/migrations/0003_y.py", DJANGO_REVERSIBLE) is True


def test_sql_migration_with_down_file_is_reversible() -> None:
    """An up.sql next to a down.sql has a downgrade; alone it has none."""
    tree = frozenset({"migrations/2024_a/up.sql", "migrations/2024_a/down.sql"})
    assert migration_downgrade("migrations/2024_a/up.sql", "CREATE TABLE a();", tree) is True
    assert migration_downgrade("db/001.sql", "CREATE TABLE a();", frozenset()) is False


def test_sql_migration_with_inline_down_marker_is_reversible() -> None:
    """goose / dbmate style Down sections count as a downgrade."""
    text = "-- migrate:up\nCREATE TABLE a();\n-- migrate:down\nDROP TABLE a;\n"
    assert migration_downgrade("db/migrations/1_a.sql", text) is True


def test_down_files_and_package_markers_are_not_migrations() -> None:
    """down.sql and __init__.py are not migrations themselves."""
    assert not is_migration("migrations/2024_a/down.sql")
    assert not is_migration("app/migrations/__init__.py")
    assert is_migration("app/migrations/0002_x.py")
    assert is_migration("schema/patch.sql")


def test_added_irreversible_migration_is_high() -> None:
    """A migration added without a downgrade is a high risk naming its file."""
    changed = [FileChange("A", "alembic/versions/0002.py")]
    risks = analyze_risks(changed, [], new_texts={"alembic/versions/0002.py": ALEMBIC_PASS})
    assert kinds(risks) == ["migration"]
    assert risks[0].severity is Severity.HIGH
    assert risks[0].paths == ("alembic/versions/0002.py",)


def test_added_reversible_migration_is_medium() -> None:
    """A migration with a downgrade is a medium risk (run the downgrade first)."""
    changed = [FileChange("A", "alembic/versions/0002.py")]
    risks = analyze_risks(changed, [], new_texts={"alembic/versions/0002.py": ALEMBIC_OK})
    assert risks[0].severity is Severity.MEDIUM
    assert "downgrade" in risks[0].advice


def test_edited_migration_is_high() -> None:
    """Editing an already-released migration is flagged high."""
    risks = analyze_risks([FileChange("M", "app/migrations/0001_initial.py")], [])
    assert risks[0].severity is Severity.HIGH
    assert "edited" in risks[0].title


def test_lockfile_change_is_flagged() -> None:
    """A changed lockfile is a medium 'lockfile' risk."""
    risks = analyze_risks([FileChange("M", "poetry.lock"), FileChange("M", "web/yarn.lock")], [])
    assert kinds(risks) == ["lockfile"]
    assert risks[0].paths == ("poetry.lock", "web/yarn.lock")


def test_version_only_manifest_change_is_not_a_dependency_risk() -> None:
    """A pyproject.toml whose only change is the version number raises nothing."""
    old = '[project]\nname = "x"\nversion = "1.0.0"\ndependencies = ["httpx>=0.27"]\n'
    new = old.replace("1.0.0", "1.1.0")
    risks = analyze_risks(
        [FileChange("M", "pyproject.toml")],
        [],
        new_texts={"pyproject.toml": new},
        old_texts={"pyproject.toml": old},
    )
    assert risks == []


def test_dependency_change_in_pyproject_is_flagged_with_detail() -> None:
    """Added and removed requirements are listed in the risk title."""
    old = '[project]\nname = "x"\ndependencies = ["requests>=2"]\n'
    new = '[project]\nname = "x"\ndependencies = ["httpx>=0.27"]\n'
    risks = analyze_risks(
        [FileChange("M", "pyproject.toml")],
        [],
        new_texts={"pyproject.toml": new},
        old_texts={"pyproject.toml": old},
    )
    assert kinds(risks) == ["dependencies"]
    assert "+dependencies: httpx>=0.27" in risks[0].title
    assert "-dependencies: requests>=2" in risks[0].title


def test_removed_entry_point_is_flagged() -> None:
    """A console script dropped from package.json bin is an entry-point risk."""
    old = '{"name": "x", "bin": {"x": "cli.js", "x-old": "old.js"}}'
    new = '{"name": "x", "bin": {"x": "cli.js"}}'
    delta = manifest_delta("package.json", old, new)
    assert delta is not None
    assert delta.entry_points_removed == ("bin x-old",)
    risks = analyze_risks(
        [FileChange("M", "package.json")],
        [],
        new_texts={"package.json": new},
        old_texts={"package.json": old},
    )
    assert kinds(risks) == ["entry_points"]


def test_unparseable_manifest_counts_as_dependency_change() -> None:
    """When a manifest cannot be read, assume its dependencies changed."""
    risks = analyze_risks(
        [FileChange("M", "pyproject.toml")],
        [],
        new_texts={"pyproject.toml": "[[broken"},
        old_texts={"pyproject.toml": "[project]\n"},
    )
    assert kinds(risks) == ["dependencies"]


def test_config_and_env_changes_are_flagged() -> None:
    """.env files and config/ changes are a config risk; tox.ini is not."""
    changed = [FileChange("A", ".env.production"), FileChange("M", "config/app.yaml")]
    changed.append(FileChange("M", "tox.ini"))
    risks = analyze_risks(changed, [])
    assert kinds(risks) == ["config"]
    assert risks[0].paths == (".env.production", "config/app.yaml")


def test_removed_public_files_are_low_and_tests_are_ignored() -> None:
    """Deleted or renamed source files are a low risk; deleted tests are not."""
    changed = [
        FileChange("D", "src/pkg/legacy.py"),
        FileChange("R", "src/pkg/new.py", old_path="src/pkg/old.py"),
        FileChange("D", "tests/test_legacy.py"),
    ]
    risks = analyze_risks(changed, [])
    assert kinds(risks) == ["removed_files"]
    assert risks[0].severity is Severity.LOW
    assert risks[0].paths == ("src/pkg/legacy.py", "src/pkg/old.py")


def test_breaking_commits_are_high_and_name_the_commit() -> None:
    """Breaking changes give one high risk listing their commits."""
    changes = [
        Change(sha="a" * 40, type="feat", description="new api", breaking=True),
        Change(sha="b" * 40, type="fix", description="typo"),
    ]
    risks = analyze_risks([], changes)
    assert kinds(risks) == ["breaking_change"]
    assert risks[0].severity is Severity.HIGH
    assert risks[0].commits == ("a" * 40,)


def test_risks_are_sorted_highest_first() -> None:
    """High risks come before medium and low ones."""
    changed = [FileChange("D", "src/a.py"), FileChange("M", "uv.lock")]
    changes = [Change(sha="c" * 40, type="feat", description="x", breaking=True)]
    risks = analyze_risks(changed, changes)
    assert [r.severity for r in risks] == [Severity.HIGH, Severity.MEDIUM, Severity.LOW]


def test_paths_needing_content_names_migrations_and_manifests() -> None:
    """Only migration texts (new side) and manifest texts (both sides) are read."""
    changed = [
        FileChange("A", "alembic/versions/0002.py"),
        FileChange("M", "pyproject.toml"),
        FileChange("A", "package.json"),
        FileChange("M", "src/app.py"),
    ]
    new_side, old_side = paths_needing_content(changed)
    assert new_side == ["alembic/versions/0002.py", "pyproject.toml", "package.json"]
    assert old_side == ["pyproject.toml"]


def test_custom_migration_patterns_are_honoured() -> None:
    """Configured migration_paths replace the defaults."""
    changed = [FileChange("A", "schema/changes/001.py")]
    assert analyze_risks(changed, []) == []
    risks = analyze_risks(changed, [], migration_patterns=("schema/changes/*",))
    assert kinds(risks) == ["migration"]
