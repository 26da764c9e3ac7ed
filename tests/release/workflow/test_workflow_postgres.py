"""The release workflow on PostgreSQL (CASTOFF_DATABASE_URL), not the embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_sample import TAG, assert_released_once, castoff_json, prepare, resume

pytestmark = pytest.mark.postgres


def test_full_prepare_on_postgres(light_repo: Path, pg_url: str) -> None:
    """prepare, stop before the tag, resume --yes: released, the graph kept in PostgreSQL."""
    env = {"CASTOFF_DATABASE_URL": pg_url}
    assert prepare(light_repo, env=env).code == 4
    run = resume(light_repo, "--yes", env=env)
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert run.data["outcome"] == "released"
    state = assert_released_once(light_repo, database_url=pg_url)
    assert state.root.title == f"Release {TAG}"
    assert not (light_repo / ".castoff" / "castoff.db").exists()
    status = castoff_json("release", "status", "-C", str(light_repo), env=env)
    assert status.data["outcome"] == "released"
