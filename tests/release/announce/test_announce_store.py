"""`castoff announce send` with the ledger in a shared store: kills, other checkouts, races.

Each test runs on the embedded SQLite file and on the real PostgreSQL, the
store named by ``CASTOFF_DATABASE_URL`` and lying outside the checkout, so a
second working copy (a ``git clone`` at the same path, as another machine's
checkout would be) shares it — and, since sessions are keyed by the working
directory's path, the session too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from castoff.orchestrator.service import Orchestrator
from castoff.release.announce.ledger import legacy_path
from conftest import TOKEN, FakeGitHub, HttpSink, Recorded

Run = Callable[..., subprocess.CompletedProcess[str]]
SinkFactory = Callable[[Callable[[Recorded], tuple[int, Any]]], HttpSink]
TAG = "v0.2.0"
SECRET = "T000/B000/SECRETPATH123"


@pytest.fixture
def project(repo: Any) -> Any:
    """A repository tagged v0.2.0 that announces on the generic webhook."""
    repo.commit("feat: first feature")
    repo.tag("v0.1.0")
    repo.commit("feat(cli): add the widget command")
    repo.git("remote", "add", "origin", "https://github.com/acme/widget.git")
    repo.commit("chore: announce", {"castoff.toml": '[announce]\nchannels = ["webhook"]\n'})
    repo.tag(TAG)
    return repo


def _popen(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "castoff", "announce", "send", "--yes", "--json", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_and_wait_gone(pid: int) -> None:
    """SIGKILL ``pid`` and wait until it is dead (a zombie: it can do nothing more)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)


def _another_checkout(repo: Any, tmp_path: Path) -> Path:
    """Move this working copy away and clone it to the same path: a checkout of its own
    (no .castoff/), where another machine's would be."""
    first = tmp_path / "machine-a"
    repo.path.rename(first)
    subprocess.run(["git", "clone", "-q", str(first), str(repo.path)], check=True)
    assert not (repo.path / ".castoff").exists()
    return first


def _record(root: Path, db_url: str, tag: str = TAG) -> dict[str, Any]:
    with Orchestrator.open(root, database_url=db_url, actor="test", create=False) as orch:
        record = orch.get_record(f"announce/{tag}")
    assert record is not None
    return record.data


def _events(root: Path, db_url: str) -> list[tuple[str, dict[str, Any]]]:
    with Orchestrator.open(root, database_url=db_url, actor="test", create=False) as orch:
        found = orch.events(limit=1000)
    return [(e.kind, e.data) for e in reversed(found) if e.kind.startswith("announce.")]


def _results(out: subprocess.CompletedProcess[str] | tuple[str, str]) -> dict[str, str]:
    stdout = out[0] if isinstance(out, tuple) else out.stdout
    return {r["channel"]: r["status"] for r in json.loads(stdout)["results"]}


def test_webhook_killed_mid_delivery_is_not_resent_from_another_checkout(
    project: Any, db_url: str, tmp_path: Path, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """The sender dies once the webhook has the request; a clone finds the intent: unknown."""
    victim: dict[str, int] = {}

    def deliver_then_kill(req: Recorded) -> tuple[int, Any]:
        if "pid" in victim:
            _kill_and_wait_gone(victim.pop("pid"))
            return 0, None  # the answer is never read
        return 200, b"ok"

    sink = http_sink(deliver_then_kill)
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/hooks/{SECRET}"}
    proc = _popen(project.path, env)
    victim["pid"] = proc.pid
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert len(sink.requests) == 1
    assert _record(project.path, db_url)["channels"]["webhook"]["status"] == "sending"

    _another_checkout(project, tmp_path)
    again = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert again.returncode == 1, again.stderr
    assert _results(again) == {"webhook": "unknown"}
    assert "--force-channel webhook" in again.stdout
    assert len(sink.requests) == 1  # never posted twice
    assert not legacy_path(project.path, TAG).exists()

    forced = run_castoff(
        "announce", "send", "--yes", "--json", "--force-channel", "webhook",
        cwd=project.path, env=env,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert _results(forced) == {"webhook": "sent"}
    last = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert _results(last) == {"webhook": "already_sent"}
    assert len(sink.requests) == 2
    kinds = [kind for kind, _ in _events(project.path, db_url)]
    assert kinds == ["announce.sending", "announce.unknown", "announce.sending", "announce.sent"]


def test_github_killed_after_creating_is_found_by_tag_from_another_checkout(
    project: Any,
    db_url: str,
    tmp_path: Path,
    run_castoff: Run,
    http_sink: SinkFactory,
) -> None:
    """The release is created, the sender dies: the clone looks it up by tag, POSTs nothing."""
    api = FakeGitHub(tags=(TAG,))
    victim: dict[str, int] = {}

    def create_then_kill(req: Recorded) -> tuple[int, Any]:
        answer = api(req)
        if req.method == "POST" and "pid" in victim:
            _kill_and_wait_gone(victim.pop("pid"))
            return 0, None
        return answer

    sink = http_sink(create_then_kill)
    project.commit(
        "chore: announce on github",
        {
            "castoff.toml": '[announce]\nchannels = ["github"]\n\n[announce.github]\n'
            f'api_url = "{sink.url}"\nrepo = "acme/widget"\ntoken_env = "TEST_GH_TOKEN"\n'
        },
    )
    env = {"CASTOFF_DATABASE_URL": db_url, "TEST_GH_TOKEN": TOKEN}
    proc = _popen(project.path, env, "--tag", TAG)
    victim["pid"] = proc.pid
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert list(api.releases) == [TAG]

    _another_checkout(project, tmp_path)
    again = run_castoff(
        "announce", "send", "--yes", "--json", "--tag", TAG, cwd=project.path, env=env
    )
    assert again.returncode == 0, again.stderr
    assert _results(again) == {"github": "sent"}
    assert len(sink.calls("POST")) == 1
    assert _record(project.path, db_url)["channels"]["github"]["url"] == f"https://gh.test/r/{TAG}"


def test_two_concurrent_sends_deliver_once(
    project: Any, db_url: str, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """While one send is delivering, a second for the same tag exits 3 and sends nothing."""
    hold = threading.Event()

    def slow(req: Recorded) -> tuple[int, Any]:
        hold.wait(60)
        return 200, b"ok"

    sink = http_sink(slow)
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/in"}
    first = _popen(project.path, env)
    try:
        deadline = time.monotonic() + 60
        while not sink.requests:  # the first holds the release's lock, its request in flight
            assert time.monotonic() < deadline, first.stderr.read() if first.stderr else ""
            time.sleep(0.05)
        second = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    finally:
        hold.set()
    out, err = first.communicate(timeout=120)
    assert second.returncode == 3, second.stderr
    assert "another castoff is delivering the announcements of v0.2.0" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, err
    assert _results((out, err)) == {"webhook": "sent"}
    assert len(sink.requests) == 1


def test_standalone_send_writes_events_without_secrets(
    project: Any, db_url: str, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """`announce send` logs its intent and result; `orchestrator events` shows them, redacted."""
    sink = http_sink(lambda req: (200, {"id": "m-1"}))
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/hooks/{SECRET}"}
    sent = run_castoff("announce", "send", "--yes", cwd=project.path, env=env)
    assert sent.returncode == 0, sent.stderr
    shown = run_castoff(
        "orchestrator", "events", "--json", cwd=project.path, env={"CASTOFF_DATABASE_URL": db_url}
    )
    assert shown.returncode == 0, shown.stderr
    logged = [e for e in json.loads(shown.stdout) if e["kind"].startswith("announce.")]
    assert [e["kind"] for e in logged] == ["announce.sent", "announce.sending"]
    result = logged[0]["data"]
    assert (result["channel"], result["status"], result["remote_id"]) == ("webhook", "sent", "m-1")
    assert logged[0]["actor"] == "cli"
    assert "SECRETPATH123" not in shown.stdout
    assert "SECRETPATH123" not in json.dumps(_record(project.path, db_url))


def test_an_older_castoffs_ledger_file_is_honoured_and_imported(
    project: Any, db_url: str, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """A release an older castoff delivered (its .castoff/announce file) is not sent again,
    and the first confirmed send carries that history into the store."""
    sink = http_sink(lambda req: (200, b"ok"))
    path = legacy_path(project.path, TAG)
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "tag": TAG,
                "channels": {
                    "webhook": {
                        "attempts": 1,
                        "channel": "webhook",
                        "detail": "delivered",
                        "finished_at": "2026-01-01T00:00:01+00:00",
                        "key": "k" * 64,
                        "remote_id": None,
                        "started_at": "2026-01-01T00:00:00+00:00",
                        "status": "sent",
                        "url": None,
                    }
                },
            }
        )
    )
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/in"}
    dry = run_castoff("announce", "send", "--json", cwd=project.path, env=env)
    assert _results(dry) == {"webhook": "already_sent"}
    out = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert out.returncode == 0, out.stderr
    assert _results(out) == {"webhook": "already_sent"}
    assert sink.requests == []
    assert _record(project.path, db_url)["channels"]["webhook"]["status"] == "sent"
    imported = [data for kind, data in _events(project.path, db_url) if kind == "announce.imported"]
    assert [data["channels"] for data in imported] == [{"webhook": "sent"}]


def test_a_lost_answer_checked_by_hand_is_marked_sent_and_never_resent(
    project: Any, db_url: str, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """unknown; --mark-sent without --yes (no terminal) is a dry run; with --yes the channel
    is sent in the record, an announce.marked_sent event names who; sends skip it after."""
    sink = http_sink(lambda req: (0, None))  # delivered; the answer is lost
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/in"}
    lost = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert lost.returncode == 1, lost.stderr
    assert _results(lost) == {"webhook": "unknown"}
    assert "--mark-sent webhook" in lost.stdout
    assert "--force-channel webhook" in lost.stdout

    dry = run_castoff("announce", "send", "--mark-sent", "webhook", cwd=project.path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "nothing was recorded; rerun with --yes" in dry.stdout
    assert _record(project.path, db_url)["channels"]["webhook"]["status"] == "unknown"

    marked = run_castoff(
        "announce", "send", "--mark-sent", "webhook", "--yes", "--json",
        cwd=project.path, env=env,
    )  # fmt: skip
    assert marked.returncode == 0, marked.stderr
    assert _results(marked) == {"webhook": "marked_sent"}
    entry = _record(project.path, db_url)["channels"]["webhook"]
    assert entry["status"] == "sent"
    assert entry["marked_by"].endswith(" (cli)")
    kind, data = _events(project.path, db_url)[-1]
    assert kind == "announce.marked_sent"
    assert (data["channel"], data["by"], data["was"]) == ("webhook", entry["marked_by"], "unknown")

    again = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert again.returncode == 0, again.stderr
    assert _results(again) == {"webhook": "already_sent"}
    assert len(sink.requests) == 1
    twice = run_castoff(
        "announce", "send", "--mark-sent", "webhook", "--yes", cwd=project.path, env=env
    )
    assert twice.returncode == 3
    assert "already recorded as marked sent by" in twice.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--mark-sent", "webhook"), 2, "no delivery of webhook is recorded for v0.2.0"),
        (("--mark-sent", "social"), 2, "social is draft-only"),
        (("--mark-sent", "webhook", "--force-channel", "webhook"), 2, "sends nothing"),
        (("--mark-sent", "webhook", "--channel", "webhook"), 2, "sends nothing"),
        (("--mark-sent", "webhook", "--tag", "v9.9.9"), 2, "no tag v9.9.9"),
    ],
)
def test_mark_sent_refusals(
    project: Any,
    db_url: str,
    run_castoff: Run,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    """Nothing recorded, a draft-only channel, mixed with sending, an unknown tag: exit 2."""
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": "http://127.0.0.1:9/in"}
    out = run_castoff("announce", "send", *args, "--yes", cwd=project.path, env=env)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_a_failed_delivery_cannot_be_marked_sent(
    project: Any, db_url: str, run_castoff: Run, http_sink: SinkFactory
) -> None:
    """A channel that refused the delivery was surely not delivered: --mark-sent exits 3."""
    sink = http_sink(lambda req: (400, {"error": "bad payload"}))
    env = {"CASTOFF_DATABASE_URL": db_url, "ANNOUNCE_WEBHOOK_URL": f"{sink.url}/in"}
    failed = run_castoff("announce", "send", "--yes", "--json", cwd=project.path, env=env)
    assert _results(failed) == {"webhook": "failed"}
    out = run_castoff(
        "announce", "send", "--mark-sent", "webhook", "--yes", cwd=project.path, env=env
    )
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "recorded as failed" in out.stderr
    assert _record(project.path, db_url)["channels"]["webhook"]["status"] == "failed"
