"""`castoff orchestrator <tool>` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from castoff.store.migrate import HEAD


def _env(db_url: str) -> dict[str, str]:
    return {"CASTOFF_DATABASE_URL": db_url} if db_url.startswith("postgresql") else {}


def _runner(run_castoff: Any, project: Path, db_url: str) -> Any:
    (project / ".castoff").mkdir(exist_ok=True)

    def run(*args: str, expect: int = 0) -> Any:
        out = run_castoff("orchestrator", *args, cwd=project, env=_env(db_url))
        assert out.returncode == expect, out.stderr
        if "--json" in args and expect == 0:
            return json.loads(out.stdout)
        return out

    return run


@pytest.fixture
def cli(run_castoff: Any, tmp_path: Path) -> Any:
    """Run `castoff orchestrator ARGS` on the embedded store; parse --json output."""
    return _runner(run_castoff, tmp_path, "")


@pytest.fixture
def cli_any(run_castoff: Any, tmp_path: Path, db_url: str) -> Any:
    """Like ``cli``, on SQLite and on PostgreSQL (CASTOFF_DATABASE_URL)."""
    return _runner(run_castoff, tmp_path, db_url)


def test_plan_execute_complete_round_trip(cli_any: Any, tmp_path: Path) -> None:
    """A task goes through its lifecycle by CLI, with a file artifact."""
    cli = cli_any
    task = cli("plan-task", "Write notes", "--specialist-type", "release_notes", "--json")
    assert task["status"] == "pending"
    ctx = cli("execute-task", task["id"], "--json")
    assert ctx["role"]["specialist_type"] == "release_notes"
    assert ctx["task"]["status"] == "in_progress"
    (tmp_path / "NOTES.md").write_text("# notes\n")
    done = cli(
        "complete-task",
        task["id"],
        "--summary",
        "written",
        "--file-paths",
        "NOTES.md",
        "--artifact-type",
        "documentation",
        "--json",
    )
    assert done["status"] == "completed"
    assert done["artifacts"][0]["path"] == "NOTES.md"


def test_plan_task_json_fields_are_stable(cli: Any) -> None:
    """--json prints every DESIGN.md task field."""
    task = cli("plan-task", "x", "--context", '{"a": 1}', "--due-date", "2030-01-01", "--json")
    for name in (
        "id",
        "session_id",
        "parent_task_id",
        "title",
        "description",
        "task_type",
        "specialist_type",
        "complexity",
        "status",
        "dependencies",
        "estimated_effort",
        "due_date",
        "context",
        "summary",
        "detailed_work",
        "next_action",
        "artifacts",
        "lease_owner",
        "lease_expires_at",
        "attempts",
        "created_at",
        "updated_at",
        "completed_at",
    ):
        assert name in task
    assert task["context"] == {"a": 1}
    assert task["due_date"].startswith("2030-01-01")


def test_query_tasks_repeatable_status(cli: Any) -> None:
    """--status repeats; --dependencies links tasks."""
    a = cli("plan-task", "a", "--json")
    b = cli("plan-task", "b", "--dependencies", a["id"], "--json")
    cli("update-task", b["id"], "--status", "blocked", "--json")
    page = cli("query-tasks", "--status", "pending", "--status", "blocked", "--json")
    assert page["total"] == 2
    page = cli("query-tasks", "--status", "blocked", "--json")
    assert [t["id"] for t in page["tasks"]] == [b["id"]]
    assert page["tasks"][0]["dependencies"] == [a["id"]]


def test_bad_value_exits_2_with_one_line(cli: Any) -> None:
    """A malformed value prints one line on stderr and exits 2."""
    out = cli("plan-task", "x", "--complexity", "huge", expect=2)
    assert out.stderr.count("\n") == 1
    assert "complexity must be one of" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_task_exits_2(cli: Any) -> None:
    """An unknown id is exit 2."""
    cli("initialize-session", "--json")
    out = cli("execute-task", "nope", expect=2)
    assert "no task with id nope" in out.stderr


def test_dependency_cycle_exits_2(cli: Any) -> None:
    """A dependency cycle is refused with exit 2."""
    a = cli("plan-task", "a", "--json")
    b = cli("plan-task", "b", "--dependencies", a["id"], "--json")
    out = cli("update-task", a["id"], "--dependencies", b["id"], expect=2)
    assert "cycle" in out.stderr


def test_lease_conflict_exits_3(cli_any: Any) -> None:
    """Claiming a task another worker holds is exit 3."""
    cli = cli_any
    a = cli("plan-task", "a", "--json")
    cli("execute-task", a["id"], "--worker", "w1", "--json")
    out = cli("execute-task", a["id"], "--worker", "w2", expect=3)
    assert "leased by w1" in out.stderr


def test_delete_with_children_needs_force(cli: Any) -> None:
    """Deleting a parent without --force is exit 3; with --force it goes."""
    p = cli("plan-task", "p", "--json")
    cli("plan-task", "c", "--parent-task-id", p["id"], "--json")
    cli("delete-task", p["id"], expect=3)
    assert len(cli("delete-task", p["id"], "--force", "--json")["deleted"]) == 2


def test_cancel_and_synthesize(cli: Any) -> None:
    """cancel-task and synthesize-results work by CLI."""
    p = cli("plan-task", "p", "--json")
    c = cli("plan-task", "c", "--parent-task-id", p["id"], "--json")
    cli("execute-task", c["id"], "--json")
    cli("complete-task", c["id"], "--summary", "ok", "--json")
    result = cli("synthesize-results", p["id"], "--json")
    assert result["counts"] == {"completed": 1}
    cancelled = cli("cancel-task", p["id"], "--reason", "done", "--json")
    assert cancelled["cancelled"] == [p["id"]]


def test_status_health_and_restart_json(cli_any: Any) -> None:
    """get-status, health-check and restart-status print their documented fields."""
    cli = cli_any
    cli("plan-task", "a", "--json")
    status = cli("get-status", "--json")
    assert status["counts"]["pending"] == 1
    health = cli("health-check", "--include-database-status", "--json")
    assert health["healthy"] is True
    assert health["database"]["migration_version"] == health["database"]["migration_head"]
    assert set(cli("restart-status", "--json")) >= {"reclaimed", "interrupted", "expired_now"}


def test_sessions_commands(cli: Any, tmp_path: Path) -> None:
    """initialize-session, list-sessions, session-status, cleanup-sessions --dry-run."""
    session = cli("initialize-session", "--name", "demo", "--json")
    assert session["name"] == "demo"
    assert any(s["id"] == session["id"] for s in cli("list-sessions", "--json"))
    assert cli("session-status", "--json")["session"]["id"] == session["id"]
    assert cli("resume-session", "--json")["session"]["id"] == session["id"]
    assert cli("cleanup-sessions", "--dry-run", "--json")["dry_run"] is True


def test_maintenance_writes_handover(cli: Any, tmp_path: Path) -> None:
    """prepare_handover writes .castoff/handover.md; validate_structure finds nothing."""
    cli("plan-task", "a", "--json")
    report = cli("maintenance-coordinator", "--action", "prepare_handover", "--json")
    assert Path(report["path"]) == tmp_path / ".castoff" / "handover.md"
    assert "# Handover" in (tmp_path / ".castoff" / "handover.md").read_text()
    assert (
        cli("maintenance-coordinator", "--action", "validate_structure", "--json")["findings"] == []
    )


def test_human_output_is_a_table(cli: Any) -> None:
    """Without --json, query-tasks prints a table."""
    cli("plan-task", "visible", "--json")
    out = cli("query-tasks")
    assert "visible" in out.stdout
    assert "1–1 of 1" in out.stdout


def test_option_forms_match_the_mcp_parameter_names(cli: Any) -> None:
    """--title, --task-id and --parent-task-id work as well as the positional forms."""
    parent = cli("plan-task", "--title", "Parent", "--json")
    child = cli("plan-task", "--title", "Child", "--parent-task-id", parent["id"], "--json")
    assert (parent["title"], child["parent_task_id"]) == ("Parent", parent["id"])
    cli("execute-task", "--task-id", child["id"], "--json")
    cli("complete-task", "--task-id", child["id"], "--summary", "ok", "--json")
    result = cli("synthesize-results", "--parent-task-id", parent["id"], "--json")
    assert result["parent_task_id"] == parent["id"]
    assert cli("update-task", "--task-id", parent["id"], "--title", "P", "--json")["title"] == "P"


def test_usage_errors_are_one_line(cli: Any) -> None:
    """Missing or unknown options print one line naming the command, exit 2."""
    out = cli("plan-task", expect=2)
    assert out.stderr.splitlines() == [
        "castoff orchestrator plan-task: missing option --title "
        "(see `castoff orchestrator plan-task --help`)"
    ]
    out = cli("query-tasks", "--no-such-flag", expect=2)
    assert len(out.stderr.splitlines()) == 1
    assert out.stderr.startswith("castoff orchestrator query-tasks: no such option: --no-such-flag")
    out = cli("plan-task", "a", "--title", "b", expect=2)
    assert "give --title once" in out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_include_children_without_parent_is_refused(cli: Any) -> None:
    """--include-children needs --parent-task-id."""
    cli("plan-task", "a", "--json")
    out = cli("query-tasks", "--include-children", expect=2)
    assert "include_children needs parent_task_id" in out.stderr


def test_read_only_commands_create_nothing(
    run_castoff: Any, tmp_path_factory: pytest.TempPathFactory, db_url: str
) -> None:
    """In a directory without a session: exit 2 with one line; no store, no session row."""
    empty = tmp_path_factory.mktemp("no-session")
    for args in (
        ["get-status"],
        ["query-tasks"],
        ["session-status"],
        ["restart-status"],
        ["events"],
        ["maintenance-coordinator", "--action", "validate_structure"],
    ):
        out = run_castoff("orchestrator", *args, "--json", cwd=empty, env=_env(db_url))
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr == (
            f"castoff: no castoff session in {empty} "
            "(run `castoff orchestrator initialize-session`)\n"
        )
    health = run_castoff("orchestrator", "health-check", "--json", cwd=empty, env=_env(db_url))
    # health-check checks the store: a PostgreSQL server exists without a session
    assert health.returncode == (0 if db_url.startswith("postgresql") else 2), health.stderr
    listed = run_castoff("orchestrator", "list-sessions", "--json", cwd=empty, env=_env(db_url))
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    assert list(empty.iterdir()) == []


def test_complete_task_enforces_the_lease(cli_any: Any) -> None:
    """Another worker's live lease refuses complete/fail/update --status (exit 3)."""
    cli = cli_any
    task = cli("plan-task", "L", "--json")
    cli("execute-task", task["id"], "--worker", "alice", "--lease-seconds", "120", "--json")
    assert "leased by alice" in cli("complete-task", task["id"], "--summary", "x", expect=3).stderr
    assert "leased by alice" in cli("fail-task", task["id"], "--error", "x", expect=3).stderr
    assert (
        "leased by alice" in cli("update-task", task["id"], "--status", "pending", expect=3).stderr
    )
    done = cli("complete-task", task["id"], "--summary", "x", "--worker", "alice", "--json")
    assert done["status"] == "completed"


def test_complete_task_refuses_files_outside(cli: Any, tmp_path: Path) -> None:
    """--file-paths /etc/passwd is refused (exit 2) and nothing is stored."""
    task = cli("plan-task", "a", "--json")
    cli("execute-task", task["id"], "--json")
    out = cli(
        "complete-task", task["id"], "--summary", "x", "--file-paths", "/etc/passwd", expect=2
    )
    assert "outside the working directory" in out.stderr
    assert cli("query-tasks", "--status", "in_progress", "--json")["total"] == 1


@pytest.mark.parametrize(
    ("url", "expected", "code"),
    [
        ("not a url", "castoff: malformed database URL 'not a url': use sqlite", 2),
        (
            "postgresql://me:secret@127.0.0.1:1/castoff",
            "castoff: cannot connect to the store at postgresql://me:***@127.0.0.1:1/castoff: ",
            1,
        ),
    ],
)
def test_store_opening_errors_are_one_line(
    run_castoff: Any, tmp_path: Path, url: str, expected: str, code: int
) -> None:
    """A bad or unreachable store URL is one line on stderr, no traceback."""
    out = run_castoff(
        "orchestrator", "plan-task", "x", cwd=tmp_path, env={"CASTOFF_DATABASE_URL": url}
    )
    assert out.returncode == code
    assert out.stderr.startswith(expected)
    assert len(out.stderr.splitlines()) == 1
    assert "secret" not in out.stderr


def test_store_of_a_newer_castoff_is_one_line(cli: Any, tmp_path: Path) -> None:
    """A store at an unknown (newer) revision says to upgrade castoff, exit 2."""
    import sqlite3

    cli("plan-task", "a", "--json")
    with sqlite3.connect(tmp_path / ".castoff" / "castoff.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    out = cli("get-status", expect=2)
    assert out.stderr.splitlines() == [
        f"castoff: the store at sqlite:///{tmp_path}/.castoff/castoff.db is at revision 0099, "
        f"newer than this castoff ({HEAD}); upgrade castoff"
    ]


def test_cleanup_sessions_reports_other_hosts(cli: Any) -> None:
    """cleanup-sessions --json has the skipped list."""
    result = cli("cleanup-sessions", "--dry-run", "--json")
    assert result["skipped"] == []
    assert result["removed"] == 0


def test_status_commands_start_without_typer(cli: Any, tmp_path: Path) -> None:
    """get-status / restart-status / session-status / list-sessions skip typer, same output."""
    cli("plan-task", "a", "--json")
    code = (
        "import sys\n"
        "from castoff.cli.app import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('typer', 'rich') if m in sys.modules))\n"
    )
    for args in (
        ["get-status", "--exclude-completed"],
        ["restart-status"],
        ["session-status"],
        ["list-sessions"],
    ):
        fast = subprocess.run(
            [sys.executable, "-c", code, "orchestrator", *args, "--json", "-C", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        data, loaded = fast.stdout.rsplit("LOADED:", 1)
        assert loaded.strip() == "", args
        via_typer = subprocess.run(
            [sys.executable, "-c", TYPER_RUN, "orchestrator", *args, "--json", "-C", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(data) == json.loads(via_typer.stdout), args


TYPER_RUN = (
    "import sys\n"
    "from typer.main import get_command\n"
    "from castoff.cli.app import build_app\n"
    "get_command(build_app('orchestrator')).main(\n"
    "    args=sys.argv[1:], prog_name='castoff', standalone_mode=False\n"
    ")\n"
)


def test_user_text_prints_verbatim_not_as_rich_markup(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A title like "[bold]x[/] [rollback]", an artifact type in brackets and a working
    directory are printed as they are (Rich markup would eat every [word])."""
    monkeypatch.setenv("COLUMNS", "200")  # tables keep each title on one line
    title = "[bold]x[/] [rollback]"
    planned = cli("plan-task", title)
    assert title in planned.stdout
    task_id = cli("query-tasks", "--json")["tasks"][0]["id"]
    assert title in cli("query-tasks").stdout
    assert title in cli("get-status").stdout
    cli("execute-task", task_id)
    (tmp_path / "notes.md").write_text("# notes\n")
    done = cli(
        "complete-task",
        task_id,
        "--summary",
        "done [fast]",
        "--file-paths",
        "notes.md",
        "--artifact-type",
        "documentation",
    )
    assert "notes.md [documentation]" in done.stdout
    assert "done [fast]" in done.stdout


def test_read_artifact_prints_stored_content(cli: Any) -> None:
    """read-artifact prints the content (kept in the store, not a file) and, with --json,
    the Artifact and its text; an unknown sha256 is exit 2."""
    task = cli("plan-task", "a", "--json")
    cli("execute-task", task["id"])
    done = cli(
        "complete-task", task["id"], "--summary", "s", "--detailed-work", "notes [x]", "--json"
    )
    sha = done["artifacts"][0]["sha256"]
    assert cli("read-artifact", sha).stdout == "notes [x]"
    shown = cli("read-artifact", sha, "--json")
    assert (shown["artifact"]["name"], shown["content"]) == ("detailed_work.md", "notes [x]")
    assert "no artifact with sha256" in cli("read-artifact", "0" * 64, expect=2).stderr
