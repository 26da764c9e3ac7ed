"""Orchestrator overhead on a release preparation (``make bench``; not a timed test).

The same release preparation on the same repository, run many times,
interleaved:

  (a) direct  — the engines called in order (the workflow's executors, results
                passed in memory, no store);
  (b) castoff — ``castoff.release.workflow.runner.prepare``: the orchestrator
                plans the graph and runs every step through execute_task →
                executor → complete_task (leases, artifacts, events).

Two graphs: the full one (tests, build, twine check, install smoke test,
rollback build) and a light one without build/test/install steps, where the
orchestrator's share is largest. Each run gets a fresh clone of the sample
repository (cloning is outside the timings). Prints the median of each, the
median overhead in percent, and the orchestrator's own cost per task in ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from castoff.config import load_config
from castoff.demo import build_sample_repository
from castoff.release.workflow import executors
from castoff.release.workflow.runner import ReleaseOptions, prepare

ORDER = ("version", "notes", "release_commit", "validate", "rollback", "announce_draft", "tag")
LIGHT = """
[tool.castoff.validate]
skip = ["build", "twine-check", "smoke", "tests"]

[tool.castoff.rollback]
build_command = "true"
"""


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


def run_direct(repo: Path) -> float:
    """The engines in order, results in memory; returns seconds."""
    from castoff.release import git
    from castoff.release.tagging import compute_next

    start = time.perf_counter()
    config = load_config(repo)
    nxt = compute_next(repo, config)
    assert nxt.next
    assert nxt.tag
    plan = executors.ReleasePlan(
        version=nxt.next,
        tag=nxt.tag,
        current=nxt.current,
        previous_tag=nxt.previous_tag,
        since_tag=nxt.since_tag,
        bump=nxt.bump,
        scheme=nxt.scheme,
        package=nxt.package,
        head_sha=git.head_sha(repo),
    )
    results: dict[str, dict[str, object]] = {}
    for key in ORDER:
        inp = executors.StepInput(root=repo, config=config, plan=plan, results=results)
        results[key] = executors.EXECUTORS[key](inp).data
    return time.perf_counter() - start


def run_castoff(repo: Path) -> float:
    start = time.perf_counter()
    outcome = prepare(repo, ReleaseOptions(yes=True))
    elapsed = time.perf_counter() - start
    assert outcome.outcome == "released", outcome.message
    return elapsed


def measure(src: Path, rounds: int, *, warm: bool) -> tuple[list[float], list[float]]:
    """Interleaved runs; ``warm``: the store exists already (castoff was used here before)."""
    from castoff.orchestrator.service import Orchestrator

    direct: list[float] = []
    through: list[float] = []
    for i in range(rounds):
        order = (("direct", run_direct), ("castoff", run_castoff))
        for name, fn in order if i % 2 == 0 else tuple(reversed(order)):
            with tempfile.TemporaryDirectory(prefix="castoff-overhead-") as tmp:
                repo = clone(src, Path(tmp))
                if warm:
                    Orchestrator.open(repo).close()
                (direct if name == "direct" else through).append(fn(repo))
    return direct, through


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="runs of each side per graph")
    parser.add_argument("--full-rounds", type=int, default=3, help="runs per side, full graph")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="castoff-overhead-src-"))
    try:
        head = f"{'graph':<7} {'store':<5} {'runs':>4} {'direct (s)':>11} {'castoff (s)':>12}"
        print(f"{head} {'overhead':>9} {'per task':>9}")
        cases = (
            (True, True, args.rounds),
            (True, False, args.rounds),
            (False, True, args.full_rounds),
        )
        sources = {light: sample(base, light) for light in (True, False)}
        for src in sources.values():
            measure(src, 1, warm=True)  # warm caches (imports, pip's wheel cache)
        for light, warm, rounds in cases:
            direct, through = measure(sources[light], rounds, warm=warm)
            d, c = statistics.median(direct), statistics.median(through)
            tasks = len(ORDER) + 1  # the steps and the root
            print(
                f"{'light' if light else 'full':<7} {'warm' if warm else 'cold':<5} {rounds:>4} "
                f"{d:>11.3f} {c:>12.3f} {(c - d) / d * 100:>8.1f}% {(c - d) / tasks * 1000:>7.1f}ms"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("overhead = (castoff - direct) / direct, medians; per task = (castoff - direct) / tasks")
    print("warm: the store exists (castoff used in this checkout before); cold: first use")
    return 0


if __name__ == "__main__":
    sys.exit(main())
