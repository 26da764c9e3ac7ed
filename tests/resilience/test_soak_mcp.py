"""MCP soak: the real stdio server, SIGKILLed and restarted while a client works through it.

The SDK's client starts ``castoff mcp -C PROJECT`` (``--tools core``) and
works through M cycles: plan a task, execute it (2 s leases), complete it.
Each server lives a random time after its first answer (uniform up to
``CASTOFF_SOAK_MCP_KILL_WITHIN`` seconds; one in five instead within a second
of its handshake, while it opens the store) and is then SIGKILLed, whatever it
is doing; the client starts a new one and carries on the way an agent would
have to: it looks its cycle's task up (by its unique title) to learn what the
killed server did with the call it never answered, re-sends a completion that
was cut off (a naive retry, which must never complete a task twice), and goes
on. A connection's lease holder is bound to its server process
(``mcp:<client>#<n>:<pid>.<start>@<host>``), and a server reclaims the claims
of dead ones when its store opens, so the task a killed server held is pending
again before the next server answers anything: there is never a lease to wait
out, and a refused claim or completion of the cycle's task fails the soak.
Half the restarts keep the client's name, half take a new one (the holder
differs either way). Afterwards:

- exactly M tasks, each completed, each with one ``task.completed`` event;
  a successful ``complete_task`` answer at most once per task;
- each task's ``task.*`` events replay to its status, one claim per attempt;
- the status counters equal the real counts; no task in progress;
- ``orchestrator maintenance-coordinator --action validate_structure
  --validation-level full`` finds nothing.

Knobs (environment):

``CASTOFF_SOAK_MCP_SQLITE``  cycles on the embedded SQLite store (default 600, about 1.7 min;
  cycles are quicker there, so it takes more of them for as many kills)
``CASTOFF_SOAK_MCP_POSTGRES``  cycles on PostgreSQL (default 200, about 1 min)
``CASTOFF_SOAK_MCP_KILL_WITHIN``  a server is killed within this many seconds of its
  first answer (default 0.3: a few cycles per server)
``CASTOFF_SOAK_SEED``  the seed (printed)
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult, Implementation
from soak_helpers import (
    SEED,
    Verdict,
    all_events,
    all_tasks,
    count,
    counter_problems,
    knob,
    lease_problems,
    rng,
    say,
    structure_findings,
    transition_problems,
)

from castoff.orchestrator.service import Orchestrator
from mcp import ClientSession, StdioServerParameters, stdio_client

CYCLES = {
    "sqlite": count("CASTOFF_SOAK_MCP_SQLITE", 600),
    "postgresql": count("CASTOFF_SOAK_MCP_POSTGRES", 200),
}
KILL_WITHIN = knob("CASTOFF_SOAK_MCP_KILL_WITHIN", 0.3)
LEASE = 2
CALL_TIMEOUT = 30


def _timeout(store: str) -> pytest.MarkDecorator:
    return pytest.mark.timeout(300 + 2 * CYCLES[store])


@dataclass
class Cycle:
    """What the client knows of one cycle's task."""

    number: int
    task_id: str | None = None
    inflight: str | None = None  # the call a kill cut off, if any
    completions: int = 0  # successful complete_task answers

    @property
    def title(self) -> str:
        return f"soak cycle {self.number:05d}"


@dataclass
class Run:
    """The client's side of the soak."""

    project: Path
    env: dict[str, str]
    errlog: Path
    cycles: list[Cycle]
    done: int = 0
    servers: int = 0
    kills: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def _server_pid(project: Path) -> int:
    """The pid of this process's ``castoff mcp -C project`` child."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"mcp" in argv and str(project).encode() in argv:
            return int(entry.name)
    raise AssertionError("the MCP server process was not found")


@asynccontextmanager
async def _session(run: Run, client: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "castoff", "mcp", "--tools", "core", "-C", str(run.project)],
        env={**os.environ, **run.env},
    )
    with run.errlog.open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, client_info=Implementation(name=client, version="1")) as s,
        ):
            with anyio.fail_after(CALL_TIMEOUT):
                await s.initialize()
            yield s


async def _call(s: ClientSession, tool: str, args: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(CALL_TIMEOUT):
        return await s.call_tool(tool, args)


def _error(result: CallToolResult) -> str:
    return str(getattr(result.content[0], "text", result.content)) if result.content else ""


async def _find(s: ClientSession, cycle: Cycle) -> dict[str, Any] | None:
    """The cycle's task as the server sees it (by its title: a plan may have been cut off)."""
    result = await _call(s, "orchestrator_query_tasks", {"search_text": cycle.title})
    assert not result.is_error, _error(result)
    assert result.structured_content is not None
    found = [t for t in result.structured_content["tasks"] if t["title"] == cycle.title]
    assert len(found) <= 1, f"{cycle.title} was planned {len(found)} times"
    return found[0] if found else None


async def _complete(run: Run, s: ClientSession, cycle: Cycle) -> CallToolResult:
    cycle.inflight = "complete"
    result = await _call(
        s,
        "orchestrator_complete_task",
        {"task_id": cycle.task_id, "summary": f"cycle {cycle.number} done"},
    )
    cycle.inflight = None
    if not result.is_error:
        cycle.completions += 1
        if cycle.completions > 1:
            run.problems.append(f"{cycle.title}: complete_task succeeded twice")
    return result


async def _drive(run: Run, s: ClientSession, cycle: Cycle) -> None:
    """Bring one cycle's task to completed, whatever a killed server left of it."""
    if cycle.inflight == "complete" and cycle.task_id:  # the naive retry of a cut-off call
        result = await _complete(run, s, cycle)
        run.stats["retried completion " + ("accepted" if not result.is_error else "refused")] += 1
    while True:
        task = await _find(s, cycle)
        if task is None:
            cycle.inflight = "plan"
            result = await _call(s, "orchestrator_plan_task", {"title": cycle.title})
            assert not result.is_error, _error(result)
            assert result.structured_content is not None
            cycle.task_id = result.structured_content["id"]
            cycle.inflight = None
            continue
        cycle.task_id = task["id"]
        if task["status"] == "completed":
            return
        if task["status"] == "pending":
            cycle.inflight = "execute"
            result = await _call(
                s, "orchestrator_execute_task", {"task_id": task["id"], "lease_seconds": LEASE}
            )
            cycle.inflight = None
            assert not result.is_error, f"{cycle.title}: pending, execute refused: {_error(result)}"
            continue
        assert task["status"] == "in_progress", (cycle.title, task["status"], task.get("error"))
        result = await _complete(run, s, cycle)
        assert not result.is_error, (
            f"{cycle.title}: in progress (held by {task.get('lease_owner')}), complete refused: "
            f"{_error(result)} (a killed server's claim must be reclaimed when the next opens)"
        )
        return


async def _serve_until_killed(run: Run, client: str, kill_at: float, early: bool) -> None:
    """One server's life: work until it is killed (or every cycle is done).

    The clock runs from the handshake when ``early`` (a kill while the server
    still opens its store), else from its first answer.
    """
    killed = False
    ready = anyio.Event()

    async def killer(pid: int) -> None:
        nonlocal killed
        if not early:
            await ready.wait()
        await anyio.sleep(kill_at)
        killed = True
        os.kill(pid, signal.SIGKILL)
        run.kills += 1

    try:
        async with _session(run, client) as s, anyio.create_task_group() as group:
            run.servers += 1
            group.start_soon(killer, _server_pid(run.project))
            await _call(s, "orchestrator_get_status", {})
            ready.set()
            while run.done < len(run.cycles):
                await _drive(run, s, run.cycles[run.done])
                run.done += 1
            group.cancel_scope.cancel()
    except Exception as exc:
        if not killed or any(isinstance(e, AssertionError) for e in _leaves(exc)):
            raise
        cut = run.cycles[run.done].inflight if run.done < len(run.cycles) else None
        where = "start-up" if not ready.is_set() else cut or "a look-up"
        run.stats[f"killed during {where}"] += 1


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaves(e)]
    return [exc]


async def _soak(run: Run, seed_key: str) -> None:
    r = rng("mcp", seed_key)
    life = 0
    while run.done < len(run.cycles):
        life += 1
        client = "soak" if r.random() < 0.5 else f"soak-{life}"
        early = r.random() < 0.2
        kill_at = r.uniform(0, 1.0 if early else KILL_WITHIN)
        await _serve_until_killed(run, client, kill_at, early)


@pytest.mark.soak
@pytest.mark.parametrize(
    "store",
    [
        pytest.param("sqlite", marks=_timeout("sqlite")),
        pytest.param("postgresql", marks=[pytest.mark.postgres, _timeout("postgresql")]),
    ],
)
def test_mcp_server_killed_at_random_completes_every_task_once(
    store: str, request: pytest.FixtureRequest, repo: Any, tmp_path: Path
) -> None:
    """M plan/execute/complete cycles over stdio, the server SIGKILLed at random: each task
    completed exactly once, the store consistent."""
    repo.commit("feat: first feature")
    project = Path(repo.path)
    url = request.getfixturevalue("pg_url") if store == "postgresql" else None
    env = {"CASTOFF_DATABASE_URL": url} if url else {}
    m = CYCLES[store]
    run = Run(project, env, tmp_path / "mcp-stderr.log", [Cycle(n) for n in range(m)])
    say(
        f"MCP soak on {store}: {m} cycles, each server killed within {KILL_WITHIN:g}s; "
        f"CASTOFF_SOAK_SEED={SEED} repeats these choices"
    )
    try:
        anyio.run(_soak, run, store)
    except BaseException as exc:
        tail = run.errlog.read_text()[-3000:] if run.errlog.exists() else ""
        raise AssertionError(
            f"CASTOFF_SOAK_SEED={SEED}: the client failed at cycle {run.done}: {exc!r}\n"
            f"server stderr:\n{tail}"
        ) from exc
    say(f"{run.servers} servers, {run.kills} killed; {dict(run.stats)}")

    verdict = Verdict(f"MCP soak on {store}, CASTOFF_SOAK_SEED={SEED}")
    verdict.check("client", run.problems)
    with Orchestrator.open(project, database_url=url, actor="soak-check") as orch:
        tasks = all_tasks(orch)
        events = all_events(orch)
        verdict.check("status counters", counter_problems(orch, tasks))
    titles = Counter(t.title for t in tasks)
    verdict.check(
        "tasks",
        [f"{len(tasks)} tasks, {m} cycles"] if len(tasks) != m else [],
    )
    verdict.check("titles planned twice", [t for t, n in titles.items() if n > 1])
    verdict.check(
        "not completed", [f"{t.title}: {t.status}" for t in tasks if str(t.status) != "completed"]
    )
    completed = Counter(e.task_id for e in events if e.kind == "task.completed")
    verdict.check(
        "completion events",
        [f"{t.title}: {completed[t.id]}" for t in tasks if completed[t.id] != 1],
    )
    verdict.check("events", transition_problems(tasks, events))
    verdict.check("leases", lease_problems(tasks))
    verdict.check("validate_structure", structure_findings(project, env))
    attempts = Counter(t.attempts for t in tasks)
    say(f"attempts per task: {dict(sorted(attempts.items()))}")
    verdict.conclude()
