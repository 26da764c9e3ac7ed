"""Orchestrator overhead on a release preparation (``make bench``; not a timed test).

The same release preparation on the same repository, run many times:

  (a) direct  — the engines called in order (the workflow's executors, results
                passed in memory, no store);
  (b) castoff — ``castoff.release.workflow.runner.prepare``: the orchestrator
                plans the graph and runs every step through execute_task →
                executor → complete_task (leases, artifacts, events).

Runs are paired: each round runs (a) and (b) back to back, each on its own
fresh clone of the sample repository (cloning is outside the timings), in
alternating order, and the difference (b) - (a) of the pair is what is
reported (median and minimum). Pairing cancels most machine drift; the
minimum is the least disturbed pair.

A second figure needs no pairing at all: castoff's own cost, measured inside
one run. Every executor is timed where it is called; what a run spends
outside its executors is the orchestration (plus planning the version, which
the direct path does too: its own time outside the executors is subtracted).
The executors' work is the same in both paths, so this isolates what castoff
adds, free of the executors' run-to-run noise (builds, tests, git).

Two graphs: the full one (tests, build, twine check, install smoke test,
rollback build) and a light one without build/test/install steps, where the
orchestrator's share is largest. Store: ``warm`` (the store exists: castoff
was used in this checkout before) or ``cold`` (first use: the schema is made).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from castoff.config import load_config
from castoff.demo import build_sample_repository
from castoff.release.workflow import contract, executors
from castoff.release.workflow.decision import ReleaseOptions
from castoff.release.workflow.runner import prepare

ORDER = ("version", "notes", "release_commit", "validate", "rollback", "announce_draft", "tag")
LIGHT = """
[tool.castoff.validate]
skip = ["build", "twine-check", "smoke", "tests"]

[tool.castoff.rollback]
build_command = "true"
"""


class ExecutorClock:
    """Wraps every executor so the time spent inside executors is known per run."""

    def __init__(self) -> None:
        self.inside = 0.0
        self._real = dict(executors.EXECUTORS)
        for key, fn in self._real.items():
            executors.EXECUTORS[key] = self._timed(fn)

    def _timed(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(inp: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(inp)
            finally:
                self.inside += time.perf_counter() - start

        return run

    def reset(self) -> None:
        self.inside = 0.0


CLOCK = ExecutorClock()


@dataclass
class Run:
    total: float  # seconds, the whole preparation
    own: float  # seconds outside the executors


def sample(base: Path, light: bool) -> Path:
    repo = build_sample_repository(base / ("light" if light else "full"))
    if light:
        with (repo / "pyproject.toml").open("a") as fh:
            fh.write(LIGHT)
        text = (repo / "pyproject.toml").read_text()
        # the light config replaces the demo's [validate] / [rollback] tables
        text = text.replace(
            '[tool.castoff.validate]\ntest_command = "python -m unittest discover -s tests -q"\n\n',
            "",
        ).replace(
            '[tool.castoff.rollback]\nbuild_command = "python -m compileall -q src"\n'
            'deploy_command = "skyline-deploy --version {previous}"\n\n',
            "",
        )
        (repo / "pyproject.toml").write_text(text)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-qam", "chore: light bench config"], check=True
        )
    return repo


def clone(src: Path, into: Path) -> Path:
    dest = into / "repo"
    subprocess.run(["git", "clone", "-q", str(src), str(dest)], check=True)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com")):
        subprocess.run(["git", "-C", str(dest), "config", key, value], check=True)
    subprocess.run(["git", "-C", str(dest), "fetch", "-q", "--tags"], check=True)
    return dest


def run_direct(repo: Path) -> Run:
    """The engines in order, results in memory."""
    from castoff.release import git
    from castoff.release.next_version import compute_next

    CLOCK.reset()
    start = time.perf_counter()
    config = load_config(repo)
    nxt = compute_next(repo, config)
    plan = contract.ReleasePlan.of(nxt, git.head_sha(repo))
    results: dict[str, dict[str, object]] = {}
    for key in ORDER:
        inp = contract.StepInput(root=repo, config=config, plan=plan, results=results)
        results[key] = executors.EXECUTORS[key](inp).data
    total = time.perf_counter() - start
    return Run(total, total - CLOCK.inside)


def run_castoff(repo: Path) -> Run:
    CLOCK.reset()
    start = time.perf_counter()
    outcome = prepare(repo, ReleaseOptions(yes=True))
    total = time.perf_counter() - start
    assert outcome.outcome == "released", outcome.message
    return Run(total, total - CLOCK.inside)


def measure(src: Path, rounds: int, *, warm: bool) -> list[tuple[Run, Run]]:
    """``rounds`` pairs (direct, castoff), each side on a fresh clone, order alternating."""
    from castoff.orchestrator.service import Orchestrator

    pairs: list[tuple[Run, Run]] = []
    for i in range(rounds):
        got: dict[str, Run] = {}
        sides = [("direct", run_direct), ("castoff", run_castoff)]
        for name, fn in sides if i % 2 == 0 else reversed(sides):
            with tempfile.TemporaryDirectory(prefix="castoff-overhead-") as tmp:
                repo = clone(src, Path(tmp))
                if warm:
                    Orchestrator.open(repo).close()
                got[name] = fn(repo)
        pairs.append((got["direct"], got["castoff"]))
    return pairs


def report(name: str, store: str, pairs: list[tuple[Run, Run]]) -> None:
    direct = statistics.median(d.total for d, _ in pairs)
    through = statistics.median(c.total for _, c in pairs)
    diffs = [c.total - d.total for d, c in pairs]
    own = [c.own - d.own for d, c in pairs]  # castoff's own cost, per pair
    tasks = len(ORDER) + 1  # the steps and the root
    med, low, own_med = statistics.median(diffs), min(diffs), statistics.median(own)
    print(
        f"{name:<6} {store:<5} {len(pairs):>5} {direct:>8.3f} {through:>8.3f} "
        f"{med * 1000:>8.1f} {low * 1000:>8.1f} {med / direct * 100:>7.1f}% "
        f"{own_med * 1000:>8.1f} {min(own) * 1000:>8.1f} {own_med / direct * 100:>6.1f}% "
        f"{own_med / tasks * 1000:>6.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="pairs per light-graph case")
    parser.add_argument("--full-rounds", type=int, default=3, help="pairs, full graph (0: skip)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="castoff-overhead-src-"))
    try:
        print(
            f"{'graph':<6} {'store':<5} {'pairs':>5} {'direct':>8} {'castoff':>8} "
            f"{'diff med':>8} {'diff min':>8} {'ovh med':>8} "
            f"{'own med':>8} {'own min':>8} {'own %':>7} {'ms/task':>6}"
        )
        cases = [(True, True, args.rounds), (True, False, args.rounds)]
        if args.full_rounds:
            cases.append((False, True, args.full_rounds))
        sources = {light: sample(base, light) for light in {light for light, _, _ in cases}}
        for src in sources.values():
            measure(src, 1, warm=True)  # warm caches (imports, pip's wheel cache)
        for light, warm, rounds in cases:
            pairs = measure(sources[light], rounds, warm=warm)
            report("light" if light else "full", "warm" if warm else "cold", pairs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        "direct, castoff: medians (s); diff: castoff - direct of each pair (ms), median and min;\n"
        "ovh med: median diff / direct median; own: castoff's time outside the executors minus\n"
        "the direct path's (ms, per pair), own %: of the direct median; ms/task: own / 8 tasks\n"
        "warm: the store exists (castoff used in this checkout before); cold: first use"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
