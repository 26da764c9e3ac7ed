"""CLI start-up, as whole processes (``make bench``; not a timed test).

Budgets (issue #3 / #5): ``castoff --help`` and commands that touch no store
< 100 ms; ``castoff version next`` < 0.2 s on a 100k-commit repository
(bench/version.py measures that one on the big repository). Printed beside
the floor of any Python command, ``python -c pass``, and ``git --version``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from castoff.demo import build_sample_repository

CASTOFF = [sys.executable, "-m", "castoff"]
RUNS = 15


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="castoff-startup-") as tmp:
        repo = build_sample_repository(Path(tmp) / "skyline")
        cases = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "git --version": ["git", "--version"],
            "castoff --help": [*CASTOFF, "--help"],
            "castoff --version": [*CASTOFF, "--version"],
            "castoff version next": [*CASTOFF, "version", "next"],
            "castoff version next --json": [*CASTOFF, "version", "next", "--json"],
            "castoff release --help": [*CASTOFF, "release", "--help"],
            "castoff notes --format json": [*CASTOFF, "notes", "--format", "json"],
            "castoff orchestrator get-status --json": [
                *CASTOFF,
                "orchestrator",
                "get-status",
                "--json",
            ],
        }
        for argv in cases.values():  # warm the bytecode and page caches
            timed(argv, repo)
        floor = None
        print(f"{'command':<42} {'p50 ms':>8} {'min ms':>8} {'vs floor':>9}")
        for name, argv in cases.items():
            samples = [timed(argv, repo) for _ in range(RUNS)]
            p50 = statistics.median(samples) * 1000
            floor = floor or p50
            print(f"{name:<42} {p50:>8.1f} {min(samples) * 1000:>8.1f} {p50 / floor:>8.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
