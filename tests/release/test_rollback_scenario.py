"""A released project for the rollback tests, and checks of the scenario itself.

``released_project`` builds a real repository: v1.0.0, then a migration
without a downgrade, a lockfile change, a breaking commit and a release commit
tagged v1.1.0. Other rollback test modules import it by module name.
"""

from __future__ import annotations

import sys
from typing import Any

IRREVERSIBLE = '''"""add age"""
revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer()))


def downgrade():
    pass
'''
INITIAL = '''"""init"""
revision = "0001"


def upgrade():
    op.create_table("users")


def downgrade():
    op.drop_table("users")
'''


def pyproject(version: str) -> str:
    return f'[project]\nname = "shipit"\nversion = "{version}"\ndependencies = ["httpx>=0.27"]\n'


def castoff_toml(extra: str = "") -> str:
    return f'[rollback]\nbuild_command = "{sys.executable} build.py"\n{extra}'


def released_project(make_repo: Any, *, broken_v1: bool = False, name: str = "proj") -> Any:
    """A repo with tags v1.0.0 and v1.1.0 (the new release: migration, lock, breaking)."""
    repo = make_repo(name)
    broken = "raise SystemExit('cannot build: missing module')\n"
    build = broken if broken_v1 else "print('built')\n"
    repo.commit(
        "chore: initial import",
        {
            "castoff.toml": castoff_toml(),
            ".gitignore": ".castoff/\n",
            "pyproject.toml": pyproject("1.0.0"),
            "poetry.lock": "httpx 0.27.0\n",
            "build.py": build,
            "src/shipit/__init__.py": "",
            "src/shipit/legacy.py": "OLD = 1\n",
            "alembic/versions/0001_init.py": INITIAL,
        },
    )
    repo.tag("v1.0.0")
    repo.commit("feat(db): store the user's age", {"alembic/versions/0002_age.py": IRREVERSIBLE})
    repo.commit("build(deps): lock httpx 0.28", {"poetry.lock": "httpx 0.28.1\n"})
    repo.commit(
        "feat(api)!: remove the v1 endpoints\n\nBREAKING CHANGE: /v1 is gone, use /v2",
        {"src/shipit/api.py": "V = 2\n", "build.py": "print('built v2')\n"},
    )
    repo.commit("chore(release): 1.1.0", {"pyproject.toml": pyproject("1.1.0")})
    repo.tag("v1.1.0")
    return repo


def test_scenario_has_two_release_tags(make_repo: Any) -> None:
    """The scenario repository carries v1.0.0 and v1.1.0."""
    repo = released_project(make_repo)
    assert repo.git("tag", "--list").split() == ["v1.0.0", "v1.1.0"]


def three_releases(make_repo: Any, *, prerelease: bool = False) -> Any:
    """``released_project`` plus a fix released as v1.2.0 (and v1.2.0-rc.1 first, if asked)."""
    repo = released_project(make_repo)
    repo.commit("fix(api): handle empty bodies", {"src/shipit/api.py": "V = 3\n"})
    if prerelease:
        repo.commit("chore(release): 1.2.0-rc.1", {"pyproject.toml": pyproject("1.2.0-rc.1")})
        repo.tag("v1.2.0-rc.1")
    repo.commit("chore(release): 1.2.0", {"pyproject.toml": pyproject("1.2.0")})
    repo.tag("v1.2.0")
    return repo
