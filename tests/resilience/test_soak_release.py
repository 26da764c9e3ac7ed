"""Release soak: `castoff release prepare` SIGKILLed at random moments, then resumed.

Each iteration takes a fresh copy of the light sample repository and runs the
real ``castoff release prepare --yes --json`` in a subprocess, in one of four
variants (plain, ``--push`` to a local bare origin, ``--announce`` to a
webhook sink on 127.0.0.1, both). The process is SIGKILLed at a random moment
of its run: one in five while it starts (before its graph is planned), the
others uniformly between the planning and 1.15 × the end of a whole run of
that variant (measured first, so some runs finish before the kill). In some
iterations the first ``release resume`` is killed too, the same way. Then
``release resume --yes`` runs until the release is done, the way a maintainer
would: ``release prepare`` again when the kill came before anything was
planned, and, for a webhook whose answer was lost (the release partial, "may
have been delivered"), one of the two documented ways out after checking the
sink: ``castoff announce send --mark-sent webhook`` when it got the request,
``--force-channel webhook`` when it did not. Every iteration ends released.
Then:

- one release commit, one tag on it (and on origin, with the branch, for
  ``--push``), one CHANGELOG section, a clean tree, one worktree, every step
  completed with one set of artifacts, the root completed with its report
  (``workflow_sample.assert_released_once``);
- the sink got exactly one delivery (none without ``--announce``);
- each task's ``task.*`` events replay to its status, one claim event per attempt;
- ``orchestrator maintenance-coordinator --action validate_structure
  --validation-level full`` finds nothing, and ``scan_cleanup`` finds nothing
  left to clean (the resumed run already removed the killed run's scratch): no
  ``castoff-validate-*`` directory or rollback worktree is left in $TMPDIR.

Knobs (environment):

``CASTOFF_SOAK_RELEASE_SQLITE``  iterations on SQLite (default 50, about 3.5 min)
``CASTOFF_SOAK_RELEASE_POSTGRES``  iterations on PostgreSQL (default 20, about 1.5 min)
``CASTOFF_SOAK_RELEASE_KILL_RESUME``  share of iterations whose first resume is killed too (0.3)
``CASTOFF_SOAK_SINK_DELAY``  the sink answers after up to this many seconds (0.3),
  which widens the window in which a delivery arrives and its answer is lost
``CASTOFF_SOAK_SEED``  the seed; ``CASTOFF_SOAK_FIRST`` the first iteration's number
  (with the seed and an iteration count of 1, one iteration's choices again)
"""

from __future__ import annotations

import http.server
import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from soak_helpers import (
    SEED,
    Verdict,
    all_events,
    all_tasks,
    castoff_cmd,
    castoff_json,
    count,
    knob,
    rng,
    run_killed,
    say,
    scan_cleanup,
    structure_findings,
    transition_problems,
)
from workflow_sample import DEFAULT_STEPS, TAG, assert_released_once, git, set_config

from castoff.orchestrator.service import Orchestrator

ITERATIONS = {
    "sqlite": count("CASTOFF_SOAK_RELEASE_SQLITE", 50),
    "postgresql": count("CASTOFF_SOAK_RELEASE_POSTGRES", 20),
}
FIRST = count("CASTOFF_SOAK_FIRST", 0)
KILL_RESUME = knob("CASTOFF_SOAK_RELEASE_KILL_RESUME", 0.3)
SINK_DELAY = knob("CASTOFF_SOAK_SINK_DELAY", 0.3)
VARIANTS = {
    "plain": (),
    "push": ("--push",),
    "announce": ("--announce",),
    "push+announce": ("--push", "--announce"),
}
LOST = "may have been delivered"


def _timeout(store: str) -> pytest.MarkDecorator:
    return pytest.mark.timeout(300 + 60 * ITERATIONS[store])


# -- the webhook sink ---------------------------------------------------------------


class Sink(http.server.ThreadingHTTPServer):
    """A loopback webhook receiver: every POST's path, answered after a random delay."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.random = random.Random(SEED)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        sink = self.server
        assert isinstance(sink, Sink)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with sink.lock:
            sink.hits[self.path] += 1
            delay = sink.random.uniform(0, SINK_DELAY)
        time.sleep(delay)
        try:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the sender was killed while waiting for the answer
            pass

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- one iteration --------------------------------------------------------------------


@dataclass
class Iteration:
    """One repository's release, killed and finished."""

    number: int
    variant: str
    repo: Path
    tmpdir: Path
    env: dict[str, str]
    hook: str
    origin: Path | None
    notes: list[str] = field(default_factory=list)

    @property
    def flags(self) -> tuple[str, ...]:
        return VARIANTS[self.variant]

    @property
    def steps(self) -> tuple[str, ...]:
        optional = (("push", "--push"), ("announce_send", "--announce"))
        return (*DEFAULT_STEPS, *(step for step, flag in optional if flag in self.flags))


def _templates(light_template: Path, tmp: Path) -> dict[str, Path]:
    """The light sample repository, with a webhook channel for the --announce variants."""
    plain = Path(shutil.copytree(light_template, tmp / "plain" / "skyline", symlinks=True))
    hooked = Path(shutil.copytree(light_template, tmp / "hooked" / "skyline", symlinks=True))
    set_config(
        hooked,
        'project_name = "Skyline"\n',
        'project_name = "Skyline"\nchannels = ["webhook"]\n\n'
        '[tool.castoff.announce.webhook]\nwebhook_env = "SOAK_WEBHOOK_URL"\n',
        "chore: announce on a webhook",
    )
    return {v: hooked if "--announce" in f else plain for v, f in VARIANTS.items()}


def _prepare_iteration(
    number: int, variant: str, template: Path, tmp: Path, url: str | None, sink: Sink
) -> Iteration:
    top = tmp / f"it{number}"
    repo = Path(shutil.copytree(template, top / "skyline", symlinks=True))
    tmpdir = top / "tmp"
    tmpdir.mkdir()
    hook = f"/hook/{number}"
    env = {"TMPDIR": str(tmpdir), "SOAK_WEBHOOK_URL": sink.url(hook)}
    if url:
        env["CASTOFF_DATABASE_URL"] = url
    origin = None
    if "--push" in VARIANTS[variant]:
        origin = top / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
        git(repo, "remote", "set-url", "origin", str(origin))
    return Iteration(number, variant, repo, tmpdir, env, hook, origin)


def _where(it: Iteration, url: str | None) -> str:
    """Where a kill landed: the step(s) in progress, or why none is."""
    try:
        with Orchestrator.open(it.repo, database_url=url, actor="soak-check", create=False) as orch:
            tasks = orch.query_tasks(limit=100).tasks
    except Exception:  # no store or no session yet
        return "before planning"
    if not tasks:
        return "before planning"
    if all(str(t.status) == "completed" for t in tasks):
        return "after the last step"
    running = [t for t in tasks if str(t.status) == "in_progress"]
    steps = [
        str(t.context["step"])
        for t in running
        if isinstance(t.context, dict) and t.context.get("step")
    ]
    return ",".join(steps) or "between steps"


def _finish(it: Iteration, sink: Sink) -> str:
    """Resume until the release is released; a lost answer is settled as above. How it
    ended: ``resumed``, or ``resumed after --mark-sent`` / ``--force-channel``."""
    how = "resumed"
    for _ in range(6):
        code, data, err = castoff_json("release", "resume", "--yes", "-C", str(it.repo), env=it.env)
        if code == 2 and "no release in progress" in err:
            it.notes.append("prepare again")
            code, data, err = castoff_json(
                "release", "prepare", "--yes", *it.flags, "-C", str(it.repo), env=it.env
            )
        message = (data or {}).get("message", "")
        if code == 0 and data and data["outcome"] in ("released", "nothing_to_release"):
            return how
        if code == 4 and LOST in message:
            way = "--mark-sent" if sink.hits[it.hook] else "--force-channel"
            assert f"{way} webhook" in message, message
            it.notes.append(f"{way} (the sink got {sink.hits[it.hook]})")
            code, data, err = castoff_json(
                "announce", "send", "--tag", TAG, way, "webhook", "--yes",
                "-C", str(it.repo), env=it.env,
            )  # fmt: skip
            assert code == 0, (f"announce send {way}", code, data, err[-1500:])
            how = f"resumed after {way}"
            continue
        raise AssertionError(f"resume: exit {code}, {message or err[-1500:]}")
    raise AssertionError("the release was not done after 6 resumes")


def _check(it: Iteration, url: str | None, sink: Sink) -> None:
    """The end state of one released iteration (AssertionError naming what is wrong)."""
    assert_released_once(it.repo, it.steps, url)
    if it.origin is not None:
        head = git(it.repo, "rev-parse", "HEAD")
        assert git(it.origin, "rev-parse", "refs/heads/main") == head
        assert git(it.origin, "tag", "--list").split() == [TAG]
        assert git(it.origin, "rev-parse", f"{TAG}^{{commit}}") == head
    hits = sink.hits[it.hook]
    assert hits == (1 if "--announce" in it.flags else 0), hits
    with Orchestrator.open(it.repo, database_url=url, actor="soak-check") as orch:
        problems = transition_problems(all_tasks(orch), all_events(orch))
    assert not problems, [str(p) for p in problems]
    assert structure_findings(it.repo, it.env) == []
    cleaned = scan_cleanup(it.repo, it.env)
    assert cleaned == [], cleaned
    left = sorted(p.name for p in it.tmpdir.iterdir() if p.name.startswith("castoff-"))
    assert left == [], left
    assert git(it.repo, "worktree", "list", "--porcelain").count("worktree ") == 1


@dataclass(frozen=True)
class Span:
    """A whole run of one variant: when its graph was planned, when it ended (seconds)."""

    planned: float
    total: float

    def kill_delay(self, r: random.Random) -> float:
        """One run in five is killed while it starts (imports, config, version: before any
        task exists); the others anywhere after the graph is planned, some after the end."""
        if r.random() < 0.2:
            return r.uniform(0, self.planned)
        return r.uniform(self.planned, 1.15 * self.total)


def _spans(templates: dict[str, Path], tmp: Path, url: str | None, sink: Sink) -> dict[str, Span]:
    """Each variant released once without a kill: when it planned its graph, when it ended."""
    spans = {}
    for n, variant in enumerate(VARIANTS):
        it = _prepare_iteration(-1 - n, variant, templates[variant], tmp, url, sink)
        started = datetime.now(UTC)
        run = run_killed(
            castoff_cmd("release", "prepare", "--yes", "--json", *it.flags, "-C", str(it.repo)),
            None,
            env=it.env,
        )
        assert run.returncode == 0, (variant, run.stdout[-1500:], run.stderr[-1500:])
        _check(it, url, sink)
        with Orchestrator.open(it.repo, database_url=url, actor="soak-check") as orch:
            planned = min(e.created_at for e in all_events(orch) if e.kind == "task.planned")
        spans[variant] = Span((planned - started).total_seconds(), run.elapsed)
    return spans


@pytest.mark.soak
@pytest.mark.parametrize(
    "store",
    [
        pytest.param("sqlite", marks=_timeout("sqlite")),
        pytest.param("postgresql", marks=[pytest.mark.postgres, _timeout("postgresql")]),
    ],
)
def test_release_killed_at_random_moments_is_released_exactly_once(
    store: str, request: pytest.FixtureRequest, light_template: Path, tmp_path: Path, sink: Sink
) -> None:
    """N releases SIGKILLed at random (and some resumes too), then resumed: each released once."""
    url = request.getfixturevalue("pg_url") if store == "postgresql" else None
    iterations = range(FIRST, FIRST + ITERATIONS[store])
    templates = _templates(light_template, tmp_path / "templates")
    spans = _spans(templates, tmp_path, url, sink)
    say(
        f"release soak on {store}: iterations {iterations.start}..{iterations.stop - 1}; "
        f"CASTOFF_SOAK_SEED={SEED} repeats these choices; whole runs take "
        + ", ".join(f"{v} {s.total:.1f}s (planned at {s.planned:.1f}s)" for v, s in spans.items())
    )
    verdict = Verdict(f"release soak on {store}, CASTOFF_SOAK_SEED={SEED}")
    where: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for number in iterations:
        r = rng("release", store, number)
        variant = r.choice(list(VARIANTS))
        it = _prepare_iteration(number, variant, templates[variant], tmp_path, url, sink)
        delay = spans[variant].kill_delay(r)
        resume_delay = spans[variant].kill_delay(r) if r.random() < KILL_RESUME else None
        repro = (
            f"iteration {number} (CASTOFF_SOAK_SEED={SEED} CASTOFF_SOAK_FIRST={number} "
            f"CASTOFF_SOAK_RELEASE_{store.upper()}=1): {variant}, prepare killed at {delay:.2f}s"
        )
        try:
            first = run_killed(
                castoff_cmd("release", "prepare", "--yes", "--json", *it.flags, "-C", str(it.repo)),
                delay,
                env=it.env,
            )
            hit = _where(it, url) if first.killed else f"finished first (exit {first.returncode})"
            where[hit] += 1
            it.notes.append(hit)
            last = first
            if resume_delay is not None:
                last = second = run_killed(
                    castoff_cmd("release", "resume", "--yes", "--json", "-C", str(it.repo)),
                    resume_delay,
                    env=it.env,
                )
                it.notes.append(
                    f"resume killed at {resume_delay:.2f}s"
                    if second.killed
                    else f"resume finished first (exit {second.returncode})"
                )
            outcome = (
                "released"
                if not last.killed and last.returncode == 0 and '"released"' in last.stdout
                else _finish(it, sink)
            )
            outcomes[outcome] += 1
            _check(it, url, sink)
        except AssertionError as exc:
            verdict.check(repro, [f"{'; '.join(it.notes)}: {exc}"])
            say(f"FAILED {repro}; {'; '.join(it.notes)}: {str(exc)[:500]}")
            if len(verdict.failures) >= 3:
                break
            continue
        say(f"{repro}; {'; '.join(it.notes)} -> {outcome}")
        shutil.rmtree(it.repo.parent, ignore_errors=True)
    say(f"kills landed: {dict(where)}; outcomes: {dict(outcomes)}")
    verdict.conclude()
