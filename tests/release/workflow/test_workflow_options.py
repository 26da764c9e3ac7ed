"""`release prepare --push | --announce | --agent`: the optional steps, end to end."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from workflow_sample import (
    DEFAULT_STEPS,
    TAG,
    assert_released_once,
    castoff_json,
    events,
    git,
    prepare,
    release_tasks,
    resume,
    set_config,
)

from castoff.orchestrator.service import Orchestrator

# -- push -------------------------------------------------------------------------------


def test_push_sends_commit_and_tag_to_origin(light_repo: Path, tmp_path: Path) -> None:
    """--push against a local bare origin: the release commit and the tag arrive there."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(light_repo, "remote", "set-url", "origin", str(origin))
    run = prepare(light_repo, "--push", "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert_released_once(light_repo, (*DEFAULT_STEPS, "push"))
    head = git(light_repo, "rev-parse", "HEAD")
    assert git(origin, "rev-parse", "refs/heads/main") == head
    assert git(origin, "rev-parse", f"{TAG}^{{commit}}") == head
    assert git(origin, "cat-file", "-t", TAG) == "tag"


def test_push_without_a_remote_is_refused_before_anything_is_written(light_repo: Path) -> None:
    """--push with no `origin`: exit 2 up front; no release commit, no tag."""
    git(light_repo, "remote", "remove", "origin")
    head = git(light_repo, "rev-parse", "HEAD")
    run = prepare(light_repo, "--push", "--yes")
    assert run.code == 2, (run.data, run.stderr)
    assert git(light_repo, "rev-parse", "HEAD") == head
    assert git(light_repo, "tag", "--list", TAG) == ""
    assert git(light_repo, "status", "--porcelain") == ""


# -- announce ---------------------------------------------------------------------------


class _Sink(http.server.ThreadingHTTPServer):
    hits: list[tuple[str, str]]
    failing: set[str]  # paths answered with HTTP 500
    kill_on_post: int | None  # a process to SIGKILL once its request has arrived


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        assert isinstance(self.server, _Sink)
        self.server.hits.append((self.path, self.headers.get("Idempotency-Key", "")))
        victim, self.server.kill_on_post = self.server.kill_on_post, None
        if victim is not None:  # delivered; the sender dies before it can read the answer
            os.kill(victim, signal.SIGKILL)
            time.sleep(0.5)
            return
        self.send_response(500 if self.path in self.server.failing else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def sink() -> Iterator[_Sink]:
    """A loopback webhook receiver recording every POST."""
    server = _Sink(("127.0.0.1", 0), _Hook)
    server.hits = []
    server.failing = set()
    server.kill_on_post = None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _slack_repo(repo: Path, sink: _Sink) -> dict[str, str]:
    set_config(
        repo,
        'project_name = "Skyline"\n',
        'project_name = "Skyline"\nchannels = ["slack"]\n\n'
        '[tool.castoff.announce.slack]\nwebhook_env = "SKYLINE_SLACK_HOOK"\n',
        "chore: announce on slack",
    )
    return {"SKYLINE_SLACK_HOOK": f"http://127.0.0.1:{sink.server_address[1]}/hook"}


def test_announce_delivers_once_after_the_tag(light_repo: Path, sink: _Sink) -> None:
    """--announce: nothing is sent before the tag; resume --yes sends once; reruns send nothing."""
    env = _slack_repo(light_repo, sink)
    stopped = prepare(light_repo, "--announce", env=env)
    assert stopped.code == 4
    assert sink.hits == []
    run = resume(light_repo, "--yes", env=env)
    assert run.code == 0, (run.data.get("message"), run.stderr)
    assert_released_once(light_repo, (*DEFAULT_STEPS, "announce_send"))
    assert len(sink.hits) == 1
    assert sink.hits[0][0] == "/hook"
    again = prepare(light_repo, "--announce", "--yes", env=env)
    assert again.data["outcome"] == "nothing_to_release"
    assert len(sink.hits) == 1


def test_announce_crash_after_sending_never_resends(light_repo: Path, sink: _Sink) -> None:
    """Killed after delivering but before the step completed: resume records it, sends nothing."""
    env = _slack_repo(light_repo, sink)
    crashed = prepare(
        light_repo, "--announce", "--yes", env={**env, "CASTOFF_CRASH_AT": "announce_send:after"}
    )
    assert crashed.code == -9
    assert len(sink.hits) == 1
    run = resume(light_repo, "--yes", env=env)
    assert run.code == 0, (run.data.get("message"), run.stderr)
    state = assert_released_once(light_repo, (*DEFAULT_STEPS, "announce_send"))
    assert "already" in (state.steps["announce_send"].summary or "")
    assert len(sink.hits) == 1


def test_announce_killed_mid_delivery_is_not_resent_by_another_checkout(
    light_repo: Path, sink: _Sink, db_url: str, tmp_path: Path
) -> None:
    """The run dies once the webhook has the request (intent recorded, no result); a clone
    sharing the store (same path, so the same session) resumes: unknown, never resent."""
    env = {**_slack_repo(light_repo, sink), "CASTOFF_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "castoff", "release", "prepare", "--announce", "--yes"]
    run = subprocess.Popen(
        [*command, "--json", "-C", str(light_repo)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sink.kill_on_post = run.pid
    assert run.wait(timeout=300) == -signal.SIGKILL
    assert len(sink.hits) == 1
    with Orchestrator.open(light_repo, database_url=db_url, actor="test") as orch:
        record = orch.get_record(f"announce/{TAG}")
    assert record is not None
    assert record.data["channels"]["slack"]["status"] == "sending"

    light_repo.rename(tmp_path / "machine-a")  # its own checkout, where another machine's is
    subprocess.run(["git", "clone", "-q", str(tmp_path / "machine-a"), str(light_repo)], check=True)
    stopped = resume(light_repo, "--yes", env=env)
    assert stopped.code == 4, (stopped.data.get("message"), stopped.stderr)
    assert "slack may have been delivered" in stopped.data["message"]
    assert len(sink.hits) == 1  # never posted twice
    forced = castoff_json(
        "announce", "send", "--tag", TAG, "--force-channel", "slack", "--yes",
        "-C", str(light_repo), env=env,
    )  # fmt: skip
    assert forced.code == 0, forced.stderr
    assert len(sink.hits) == 2
    done = resume(light_repo, "--yes", env=env)
    assert done.code == 0, (done.data.get("message"), done.stderr)
    state = assert_released_once(light_repo, (*DEFAULT_STEPS, "announce_send"), db_url)
    assert "already" in (state.steps["announce_send"].summary or "")
    assert len(sink.hits) == 2
    kinds = [e.kind for e in events(light_repo, state.steps["announce_send"].id, db_url)]
    assert [k for k in kinds if k.startswith("announce.")] == [
        "announce.sending",
        "announce.unknown",
    ]  # the two runs of the step; the forced resend was `announce send`'s own


def test_a_delivery_checked_by_hand_is_marked_sent_and_the_release_finishes(
    light_repo: Path, sink: _Sink
) -> None:
    """Killed once the webhook has the request: resume is partial (exit 4) naming both ways
    out; `announce send --mark-sent slack --yes` records it; resume releases, nothing resent."""
    env = _slack_repo(light_repo, sink)
    command = [sys.executable, "-m", "castoff", "release", "prepare", "--announce", "--yes"]
    run = subprocess.Popen(
        [*command, "--json", "-C", str(light_repo)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sink.kill_on_post = run.pid
    assert run.wait(timeout=300) == -signal.SIGKILL
    assert len(sink.hits) == 1

    stopped = resume(light_repo, "--yes", env=env)
    assert stopped.code == 4, (stopped.data.get("message"), stopped.stderr)
    assert stopped.data["outcome"] == "partial"
    message = stopped.data["message"]
    assert "slack may have been delivered" in message
    assert f"castoff announce send --tag {TAG} --mark-sent slack --yes" in message
    assert f"castoff announce send --tag {TAG} --force-channel slack --yes" in message
    assert "--mark-sent" in stopped.data["next_action"]
    assert len(sink.hits) == 1

    marked = castoff_json(
        "announce", "send", "--tag", TAG, "--mark-sent", "slack", "--yes",
        "-C", str(light_repo), env=env,
    )  # fmt: skip
    assert marked.code == 0, marked.stderr
    assert [r["status"] for r in marked.data["results"]] == ["marked_sent"]
    done = resume(light_repo, "--yes", env=env)
    assert done.code == 0, (done.data.get("message"), done.stderr)
    assert done.data["outcome"] == "released"
    state = assert_released_once(light_repo, (*DEFAULT_STEPS, "announce_send"))
    assert "slack: already_sent" in (state.steps["announce_send"].summary or "")
    assert len(sink.hits) == 1
    with Orchestrator.open(light_repo, actor="test") as orch:
        logged = [e for e in reversed(orch.events(limit=1000)) if e.kind.startswith("announce.")]
    step = state.steps["announce_send"].id
    assert [(e.kind, e.task_id == step) for e in logged] == [
        ("announce.sending", True),  # the killed run's step
        ("announce.unknown", True),  # the resumed step found the intent
        ("announce.marked_sent", False),  # `announce send --mark-sent`'s own
    ]
    assert logged[-1].data["by"].endswith(" (cli)")


def test_delivery_failure_after_the_tag_is_partial_and_resume_retries_it(
    light_repo: Path, sink: _Sink
) -> None:
    """Tagged, one channel down: partial (exit 4), not failed; resume sends only that channel."""
    set_config(
        light_repo,
        'project_name = "Skyline"\n',
        'project_name = "Skyline"\nchannels = ["slack", "mattermost"]\nretries = 0\n\n'
        '[tool.castoff.announce.slack]\nwebhook_env = "SKYLINE_SLACK_HOOK"\n\n'
        '[tool.castoff.announce.mattermost]\nwebhook_env = "SKYLINE_MM_HOOK"\n',
        "chore: announce on slack and mattermost",
    )
    base = f"http://127.0.0.1:{sink.server_address[1]}"
    env = {"SKYLINE_SLACK_HOOK": f"{base}/slack", "SKYLINE_MM_HOOK": f"{base}/mm"}
    sink.failing.add("/mm")
    run = prepare(light_repo, "--announce", "--yes", env=env)
    assert run.code == 4, (run.data.get("message"), run.stderr)
    assert run.data["outcome"] == "partial"
    assert run.data["message"].startswith(f"tagged {TAG}; delivery failed for mattermost")
    assert "castoff release resume" in run.data["next_action"]
    assert git(light_repo, "tag", "--list").split() == ["v1.0.0", TAG]
    assert [path for path, _ in sink.hits] == ["/slack", "/mm"]
    status = castoff_json("release", "status", "-C", str(light_repo))
    assert status.data["outcome"] == "partial"
    assert status.data["exit_code"] == 4

    sink.failing.clear()
    done = resume(light_repo, "--yes", env=env)
    assert done.code == 0, (done.data.get("message"), done.stderr)
    assert [path for path, _ in sink.hits] == ["/slack", "/mm", "/mm"]
    assert_released_once(light_repo, (*DEFAULT_STEPS, "announce_send"))


# -- agent ------------------------------------------------------------------------------


def _complete_draft(repo: Path, paragraph: str) -> str:
    """Do the agent's part through the Orchestrator API; the draft task's id."""
    with Orchestrator.open(repo, actor="agent") as orch:
        pending = orch.query_tasks(status=["pending"], specialist_type=["release_notes"]).tasks
        draft = next(t for t in pending if t.context["step"] == "highlights_draft")  # type: ignore[index]
        ctx = orch.execute_task(draft.id, worker="agent-1")
        assert {"notes.md", "notes.json"} <= {a.name for a in ctx.dependency_artifacts}
        orch.complete_task(draft.id, paragraph, worker="agent-1")
        return draft.id


def _real_sha(repo: Path) -> str:
    return git(repo, "log", "--format=%h", "-1", "--grep", "Celsius everywhere")


def test_agent_mode_waits_for_the_highlights(light_repo: Path) -> None:
    """--agent: partial, exit 4, the message names the draft task; nothing tagged."""
    run = prepare(light_repo, "--agent", "--yes")
    assert run.code == 4, run.stderr
    assert run.data["outcome"] == "partial"
    state = release_tasks(light_repo)
    draft = state.steps["highlights_draft"]
    assert draft.status == "pending"
    assert f"Write the highlights paragraph ({draft.id})" in run.data["message"]
    assert "Tag the release" not in run.data["message"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"


def test_agent_highlights_citing_real_entries_are_accepted(light_repo: Path) -> None:
    """A summary citing a real short sha is accepted on resume and the release finishes."""
    assert prepare(light_repo, "--agent", "--yes").code == 4
    _complete_draft(
        light_repo, f"Forecasts now use Celsius everywhere (`{_real_sha(light_repo)}`)."
    )
    run = resume(light_repo, "--yes")
    assert run.code == 0, (run.data.get("message"), run.stderr)
    steps = (*DEFAULT_STEPS[:-1], "highlights_draft", "highlights", "tag")
    state = assert_released_once(light_repo, steps)
    assert "highlights.md" in {a.name for a in state.steps["highlights"].artifacts}


def test_agent_highlights_citing_unknown_sha_are_refused(light_repo: Path) -> None:
    """An unknown sha: refused, a new draft task is planned, the release stays partial."""
    assert prepare(light_repo, "--agent", "--yes").code == 4
    first = _complete_draft(light_repo, "Everything is faster now (`abcdef1`).")
    run = resume(light_repo, "--yes")
    assert run.code == 4, (run.data.get("message"), run.stderr)
    assert run.data["outcome"] == "partial"
    assert "abcdef1" in run.data["message"]
    state = release_tasks(light_repo)
    again = state.steps["highlights_draft"]
    assert again.id != first
    assert again.status == "pending"
    assert [t.id for t in state.archived] == [first]
    assert state.steps["highlights"].status == "pending"
    assert state.steps["highlights"].dependencies == [again.id]
    assert f"({again.id})" in run.data["message"]
    assert git(light_repo, "tag", "--list") == "v1.0.0"

    _complete_draft(light_repo, f"Celsius everywhere (`{_real_sha(light_repo)}`).")
    done = resume(light_repo, "--yes")
    assert done.code == 0, (done.data.get("message"), done.stderr)
    assert git(light_repo, "tag", "--list").split() == ["v1.0.0", TAG]
