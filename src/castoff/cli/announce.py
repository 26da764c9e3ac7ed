"""`castoff announce draft | send`: announcement drafts, and delivery that never posts twice."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from castoff.cli.options import JsonOpt, WorkdirOpt, YesOpt

if TYPE_CHECKING:
    from rich.console import Console

    from castoff.release.announce.delivery import SendReport
    from castoff.release.announce.service import DraftResult

ChannelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--channel",
        "-c",
        metavar="CHANNEL",
        help="A channel (repeatable): github, gitlab, gitea, email, slack, discord, teams, "
        "mattermost, webhook, social, blog.",
        show_default=False,
    ),
]
TagOpt = Annotated[
    str | None,
    typer.Option(
        "--tag",
        metavar="TAG",
        help="Announce this tagged release (default: the latest).",
        show_default=False,
    ),
]
PackageOpt = Annotated[
    str | None,
    typer.Option(
        "--package",
        help="The monorepo package (version.packages); default: the one --tag names.",
        show_default=False,
    ),
]

_MARKS = {
    "sent": "✓",
    "already_sent": "✓",
    "would_send": "·",
    "skipped": "-",
    "failed": "✗",
    "unknown": "?",
    "marked_sent": "✓",
    "would_mark_sent": "·",
}


def _root(workdir: Path | None) -> Path:
    from castoff.workspace import find_root

    return find_root(workdir)


def _draft_data(result: DraftResult) -> dict[str, Any]:
    from castoff.serialize import to_data

    data: dict[str, Any] = to_data(result)
    return data


def _print_drafts(result: DraftResult, out: Console) -> None:
    from rich.rule import Rule

    for draft in result.drafts.values():
        size = f"{draft.length}/{draft.limit}" if draft.limit else str(draft.length)
        cut = ", truncated" if draft.truncated else ""
        out.print(Rule(f"{draft.channel} ({draft.format}, {size}{cut})"))
        out.file.flush()
        if draft.subject is not None:
            typer.echo(f"Subject: {draft.subject}\n")
        typer.echo(draft.content, nl=False)
    for path in result.written:
        out.print(f"wrote {path}", markup=False)


def _send_data(report: SendReport) -> dict[str, Any]:
    from castoff.serialize import to_data

    return {"ok": report.ok, **to_data(report)}


def _print_report(report: SendReport, out: Console) -> None:
    if not report.results:
        out.print(
            "nothing to send: no channels configured ([tool.castoff.announce] channels)",
            markup=False,
        )
        return
    for r in report.results:
        where = f" {r.url}" if r.url else ""
        out.print(
            f"{_MARKS.get(r.status, '?')} {r.channel}: {r.status} — {r.detail}{where}", markup=False
        )
    if report.dry_run and any(r.status == "would_mark_sent" for r in report.results):
        out.print(
            f"dry run for {report.tag}: nothing was recorded; rerun with --yes to record",
            markup=False,
        )
    elif report.dry_run:
        out.print(
            f"dry run for {report.tag}: nothing was sent; rerun with --yes to send", markup=False
        )


def _ask_to_mark(preview: SendReport, *, as_json: bool) -> bool:
    """Show what --mark-sent would record and ask (on a terminal)."""
    from castoff.cli.output import confirm, console

    if not as_json:
        out = console()
        for r in preview.results:
            out.print(f"{_MARKS['would_mark_sent']} {r.channel}: {r.detail}", markup=False)
    names = ", ".join(r.channel for r in preview.results)
    return confirm(
        f"Record {names} of {preview.tag} as sent (you checked it arrived; nothing is sent)?",
        assume_yes=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    announce = typer.Typer(
        name="announce",
        help="Draft release announcements for every channel, and deliver them once.",
        no_args_is_help=True,
    )

    @announce.command("draft")
    def draft(
        *,
        channel: ChannelOpt = None,
        version: Annotated[
            str | None,
            typer.Option(
                "--version",
                metavar="VERSION",
                help="Draft for this upcoming version.",
                show_default=False,
            ),
        ] = None,
        tag: TagOpt = None,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                metavar="DIR",
                help="Write the drafts into this folder.",
                show_default=False,
            ),
        ] = None,
        package: PackageOpt = None,
        as_json: JsonOpt = False,
        workdir: WorkdirOpt = None,
    ) -> None:
        """Draft the announcement of the upcoming (or a tagged) release."""
        from castoff.cli.output import emit
        from castoff.release.announce.service import announce_draft

        result = announce_draft(
            _root(workdir),
            channels=channel,
            version=version,
            tag=tag,
            output=output,
            package=package,
        )
        emit(_draft_data(result), as_json=as_json, human=lambda out: _print_drafts(result, out))

    @announce.command("send")
    def send(
        *,
        channel: ChannelOpt = None,
        yes: YesOpt = False,
        force_channel: Annotated[
            list[str] | None,
            typer.Option(
                "--force-channel",
                metavar="CHANNEL",
                help="Resend this channel even if the ledger says it was (or may have been) sent.",
                show_default=False,
            ),
        ] = None,
        mark_sent: Annotated[
            list[str] | None,
            typer.Option(
                "--mark-sent",
                metavar="CHANNEL",
                help="Send nothing: record this channel, whose delivery is unknown, as sent "
                "(you checked it arrived); in your name, as an event. Repeatable.",
                show_default=False,
            ),
        ] = None,
        tag: TagOpt = None,
        package: PackageOpt = None,
        as_json: JsonOpt = False,
        workdir: WorkdirOpt = None,
    ) -> None:
        """Deliver the announcement (dry run unless --yes); exit 1 if any channel failed.

        With --mark-sent nothing is sent: a delivery recorded as unknown (the answer was
        lost) that you checked did arrive is recorded as sent, in your name.
        """
        from castoff.cli.output import emit, interactive
        from castoff.release.workflow.deliveries import announce_send

        root = _root(workdir)

        def run(confirm: bool) -> SendReport:
            return announce_send(
                root,
                channels=channel,
                confirm=confirm,
                force=force_channel or (),
                tag=tag,
                package=package,
                mark_sent=mark_sent or (),
            )

        if mark_sent and not yes and interactive():  # a write: --yes, or asked on a terminal
            preview = run(False)
            if not _ask_to_mark(preview, as_json=as_json):  # an answer, not a failure: exit 0
                emit(
                    _send_data(preview),
                    as_json=as_json,
                    human=lambda out: out.print(
                        f"nothing recorded for {preview.tag}: declined", markup=False
                    ),
                )
                return
            yes = True
        report = run(yes)
        emit(_send_data(report), as_json=as_json, human=lambda out: _print_report(report, out))
        if not report.ok:
            raise typer.Exit(1)

    app.add_typer(announce, name="announce")
