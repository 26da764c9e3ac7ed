"""Wall time of the full pre-flight on the sample project: sequential vs concurrent.

Builds the validation tests' sample project (a real hatchling package with a
console script, a test command and a CHANGELOG) and runs every pre-flight
check — git gates, tests, isolated ``python -m build``, ``twine check``, the
fresh-venv smoke test — with one worker, then with the default four,
alternating, ``--runs`` times each. Prints the median and the spread.

    python bench/validate.py [--runs 3] [--no-isolation] [--test-seconds S]

``--test-seconds S`` replaces the sample's instant test script by one that
keeps a CPU busy for S seconds, like a real test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "release" / "validate"))

from validate_sample import write_sample  # noqa: E402

from castoff.config import load_config  # noqa: E402
from castoff.release.validate import run_preflight  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-isolation", action="store_true", help="build with --no-isolation")
    parser.add_argument("--test-seconds", type=float, default=0.0, help="CPU-bound test run")
    args = parser.parse_args()
    extra = "build_isolation = false" if args.no_isolation else ""
    tests = None
    if args.test_seconds:
        busy = f"import time\nend = time.process_time() + {args.test_seconds}\n"
        tests = [sys.executable, "-c", busy + "while time.process_time() < end: pass"]
    with tempfile.TemporaryDirectory(prefix="castoff-bench-validate-") as tmp:
        root = write_sample(Path(tmp) / "sample", validate=extra, test_command=tests)
        config = load_config(root)
        times: dict[int, list[float]] = {1: [], 4: []}
        run_preflight(root, config, version="1.2.0", tag="v1.2.0")  # warm caches (pip, build)
        for _ in range(args.runs):
            for workers in (1, 4):
                start = time.perf_counter()
                report = run_preflight(
                    root, config, version="1.2.0", tag="v1.2.0", concurrency=workers
                )
                times[workers].append(time.perf_counter() - start)
                if not report.ok:
                    print(f"pre-flight failed: {[c.id for c in report.failures]}", file=sys.stderr)
                    return 1
        per_check = {c.id: c.duration_seconds for c in report.checks}
    mode = "no-isolation" if args.no_isolation else "isolated"
    tests = f", {args.test_seconds:g}s CPU-bound tests" if args.test_seconds else ""
    print(f"full pre-flight on the sample project ({mode} build{tests}, {args.runs} runs each)")
    for workers, label in ((1, "sequential (1 worker) "), (4, "concurrent (4 workers)")):
        values = times[workers]
        print(
            f"  {label}: median {statistics.median(values):5.2f}s"
            f"  (min {min(values):.2f}s, max {max(values):.2f}s)"
        )
    speedup = statistics.median(times[1]) / statistics.median(times[4])
    print(f"  speed-up: {speedup:.2f}x")
    print("  per check (last concurrent run): " + ", ".join(
        f"{k} {v:.2f}s" for k, v in per_check.items() if v >= 0.05
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
