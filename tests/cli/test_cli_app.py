"""The CLI root: one command table, fast help, one error boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from castoff.cli.app import COMMANDS, build_app, overview

ROOT = Path(__file__).resolve().parents[2]


def test_every_table_entry_registers_its_command() -> None:
    """Each COMMANDS entry's module registers a command of that name."""
    for name in COMMANDS:
        group = typer.main.get_command(build_app(name))
        assert name in group.list_commands(None), name  # type: ignore[attr-defined,arg-type]


def test_help_lists_every_command(run_castoff) -> None:
    """`castoff --help` names every command of the table."""
    out = run_castoff("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert f"  {name} " in out.stdout


def test_no_arguments_prints_the_overview(run_castoff) -> None:
    """`castoff` alone prints the overview and succeeds."""
    out = run_castoff()
    assert out.returncode == 0
    assert out.stdout == overview()


def test_version_flag(run_castoff) -> None:
    """`castoff --version` prints the package version."""
    from castoff import __version__

    out = run_castoff("--version")
    assert out.stdout.strip() == f"castoff {__version__}"


def test_unknown_command_is_bad_input_with_a_suggestion(run_castoff) -> None:
    """A typo exits 2 with one line that suggests the command meant."""
    out = run_castoff("relase")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "castoff: no such command 'relase' (did you mean 'release'?); see `castoff --help`"
    ]


def test_bad_option_is_exit_2_without_traceback(run_castoff) -> None:
    """Click's usage errors keep exit code 2 and print no traceback."""
    out = run_castoff("release", "prepare", "--no-such-flag")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_help_imports_no_framework() -> None:
    """`castoff --help` imports neither typer, rich, sqlalchemy nor jinja2."""
    code = (
        "import sys; from castoff.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "names = ('typer', 'rich', 'sqlalchemy', 'jinja2', 'mcp')\n"
        "print('HEAVY:' + ','.join(m for m in names if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_cli_reference_is_up_to_date() -> None:
    """docs/cli.md matches the CLI (regenerate with scripts/gen-cli-docs)."""
    script = ROOT / "scripts" / "gen-cli-docs"
    namespace: dict[str, object] = {"__name__": "gen_cli_docs", "__file__": str(script)}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    render = namespace["render"]
    assert callable(render)
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run scripts/gen-cli-docs"


def test_usage_errors_are_one_line_naming_the_command(run_castoff) -> None:
    """Click's usage errors become one stderr line `<command path>: <problem>`, exit 2."""
    out = run_castoff("release", "prepare", "--no-such-flag")
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("castoff release prepare: no such option: --no-such-flag")
    assert lines[0].endswith("(see `castoff release prepare --help`)")


def test_group_without_command_still_prints_its_help(run_castoff) -> None:
    """`castoff orchestrator` alone shows the group's help (exit 2, as click does)."""
    out = run_castoff("orchestrator")
    assert out.returncode == 2
    assert "plan-task" in out.stderr + out.stdout
