"""The ``castoff`` entry point: a thin dispatcher and the one error boundary.

:data:`COMMANDS` is the single table of top-level commands: name → (module,
one-line help). ``castoff --help`` and ``castoff --version`` are answered from
it without importing typer; ``castoff <name> ...`` imports only that command's
module, registers it on a small Typer app and runs it. Each command module has
``register(app)`` and imports only typer and the standard library at module
level (engines, SQLAlchemy, Jinja2 and Rich load inside the commands).

Every expected error is a :class:`castoff.errors.CastoffError`; :func:`main`
prints it as one line on stderr and exits with its code (DESIGN.md). Usage
errors found by click (a missing or unknown option, a bad value) are one line
too, naming the command: ``castoff orchestrator plan-task: missing option --title
(see `castoff orchestrator plan-task --help`)``, exit 2.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from castoff import __version__
from castoff.errors import CastoffError

if TYPE_CHECKING:
    import typer

HELP = "Prepare software releases as a durable, resumable graph of tasks."

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("castoff.cli.demo", "A sample repository with a real history, released end to end."),
    "init": ("castoff.cli.init", "Write a [tool.castoff] (or castoff.toml) skeleton."),
    "release": ("castoff.cli.release", "Prepare, resume and inspect a release (the whole graph)."),
    "notes": ("castoff.cli.notes", "Release notes from git history; update CHANGELOG.md."),
    "version": ("castoff.cli.version", "The next version; update version files and tag."),
    "validate": ("castoff.cli.validate", "Pre-flight gates and post-deploy checks."),
    "rollback": ("castoff.cli.rollback", "Plan, verify and run a rollback to a previous release."),
    "announce": ("castoff.cli.announce", "Draft and deliver release announcements."),
    "orchestrator": ("castoff.cli.orchestrator", "The task orchestrator: sessions, tasks, leases."),
    "mcp": ("castoff.cli.serve", "Run the MCP server for AI agents (stdio or HTTP)."),
    "serve": ("castoff.cli.serve", "Serve MCP over streamable HTTP, and the read-only dashboard."),
    "worker": ("castoff.cli.worker", "Run the ready steps of a release from the (shared) store."),
}

#: Commands whose module answers common invocations without typer (``fast_path(argv)``
#: returns the exit code, or None to fall through to the typer command).
FAST_PATHS = {
    "version": "castoff.cli.version",
    "notes": "castoff.cli.notes",
    "orchestrator": "castoff.cli.orchestrator",
}


def overview() -> str:
    """The top-level help text (click's layout, built from :data:`COMMANDS`)."""
    width = max(len(name) for name in COMMANDS)
    lines = [
        "Usage: castoff [OPTIONS] COMMAND [ARGS]...",
        "",
        f"  {HELP}",
        "",
        "Options:",
        "  --version   Show the version.",
        "  -h, --help  Show this message and exit.",
        "",
        "Commands:",
    ]
    lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def build_app(name: str | None = None, subcommand: str | None = None) -> typer.Typer:
    """A Typer app with command ``name`` registered (every command when None).

    A module whose ``register`` takes ``command`` (``castoff orchestrator``)
    registers only ``subcommand`` when it knows it, which keeps start-up short.
    """
    import inspect
    from importlib import import_module

    import typer

    app = typer.Typer(
        name="castoff",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root() -> None:
        """Prepare software releases as a durable, resumable graph of tasks."""

    modules = [COMMANDS[name][0]] if name else list(dict.fromkeys(m for m, _ in COMMANDS.values()))
    for module in modules:
        register = import_module(module).register
        if subcommand and "command" in inspect.signature(register).parameters:
            register(app, command=subcommand)
        else:
            register(app)
    return app


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(overview())
        return 0
    if argv[0] == "--version":
        sys.stdout.write(f"castoff {__version__}\n")
        return 0
    if argv[0] not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        sys.stderr.write(f"castoff: no such command '{argv[0]}'{hint}; see `castoff --help`\n")
        return 2
    if argv[0] in FAST_PATHS:
        from importlib import import_module

        code = import_module(FAST_PATHS[argv[0]]).fast_path(argv)
        if code is not None:
            return int(code)
    import typer
    from typer.main import get_command

    command = get_command(build_app(argv[0], argv[1] if len(argv) > 1 else None))
    try:
        code = command.main(args=argv, prog_name="castoff", standalone_mode=False)
    except typer.TyperException as exc:  # click's usage errors (bad or missing options)
        return _usage_error(exc)
    except typer.Abort:
        sys.stderr.write("castoff: aborted\n")
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code if isinstance(code, int) else 0


def _usage_error(exc: typer.TyperException) -> int:
    """Print a usage error as ONE line, ``<command path>: <problem>``; its exit code (2)."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run without a command: its help
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code
    sys.stderr.write(f"{usage_line(exc.format_message(), ctx.command_path if ctx else None)}\n")
    return exc.exit_code


def usage_line(message: str, command_path: str | None) -> str:
    """``castoff orchestrator plan-task: missing option --title`` from click's wording."""
    text = " ".join(message.split()).rstrip(".")
    text = re.sub(r"'(-{1,2}[\w-]+)'", r"\1", text)
    if text[:1].isupper() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    where = command_path or "castoff"
    hint = f" (see `{where} --help`)" if command_path else ""
    return f"{where}: {text}{hint}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map castoff errors to one stderr line and their exit code."""
    try:
        code = _dispatch(sys.argv[1:] if argv is None else argv)
    except CastoffError as exc:
        sys.stderr.write(f"castoff: {exc.message}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("castoff: interrupted\n")
        code = 130
    sys.exit(code)
