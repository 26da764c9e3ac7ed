"""A release killed mid-step resumes exactly once on PostgreSQL too."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from workflow_sample import assert_released_once, castoff, release_tasks, resume

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("point", ["release_commit:after", "validate:inside"])
def test_crash_then_resume_on_postgres(light_repo: Path, pg_url: str, point: str) -> None:
    """SIGKILL with the step leased in PostgreSQL; resume reclaims it and finishes once."""
    env = {"CASTOFF_DATABASE_URL": pg_url}
    out = castoff(
        "release", "prepare", "--yes", "--json", "-C", str(light_repo),
        env={**env, "CASTOFF_CRASH_AT": point},
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    step = point.partition(":")[0]
    assert release_tasks(light_repo, pg_url).steps[step].status == "in_progress"
    run = resume(light_repo, "--yes", env=env)
    assert run.code == 0, (run.data.get("message"), run.stderr[-2000:])
    state = assert_released_once(light_repo, database_url=pg_url)
    assert state.steps[step].attempts == 2
