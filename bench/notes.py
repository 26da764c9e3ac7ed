"""Release notes over a whole history: castoff vs the git-log floor, commitizen, git-cliff.

Builds (and caches under bench/.work/) synthetic repositories of 10,000 and
100,000 conventional commits with a release tag every 500 commits, then times,
side by side on the same repository:

- floor:      ``git log -z --format=<castoff's format>`` to /dev/null
- castoff:    ``castoff notes --full --format json`` (every release section)
- commitizen: ``cz changelog --dry-run``
- git-cliff:  ``git-cliff`` (the PyPI package ships the binary)

Each tool runs ``REPEAT`` times; the best wall and CPU times are kept (CPU =
user + system of the whole process tree, a steadier figure on a busy machine).
Peak RSS is the largest single process (``wait4``); "tree sum" adds up the
process tree sampled every 20 ms (forked workers' shared pages count twice).
Tools that are not installed print "not available".
Usage: ``python bench/notes.py [N ...]`` (default 10000 100000).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _synth import synth_repo  # bench/ is not a package: found through sys.path
from castoff.release.git import LOG_FORMAT

REPEAT = 3
SLOW = 20.0  # seconds: tools slower than this run once
BIN = Path(sys.executable).parent


@dataclass
class Result:
    wall: float
    cpu: float  # user + system seconds of the whole process tree
    rss_mb: float
    tree_mb: float
    code: int
    error: str = ""


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sample_tree(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.02):
        todo, total = [pid], 0
        while todo:
            p = todo.pop()
            total += _rss_kb(p)
            todo += _children(p)
        peak[0] = max(peak[0], total)


def run(cmd: list[str], cwd: Path) -> Result:
    """Run ``cmd`` with stdout to /dev/null; wall time, peak RSS (process and tree)."""
    with open(os.devnull, "wb") as sink:  # noqa: PTH123
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.PIPE)
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        err = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    message = err.decode(errors="replace").strip().splitlines()
    return Result(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        max(peak[0], usage.ru_maxrss) / 1024,
        proc.returncode,
        message[-1] if message and proc.returncode else "",
    )


def tools() -> dict[str, list[str] | None]:
    cz = shutil.which("cz", path=str(BIN)) or shutil.which("cz")
    cliff = shutil.which("git-cliff", path=str(BIN)) or shutil.which("git-cliff")
    return {
        "git log (floor)": ["git", "log", "-z", f"--format={LOG_FORMAT}", "HEAD"],
        "castoff": [sys.executable, "-m", "castoff", "notes", "--full", "--format", "json"],
        "commitizen": [cz, "changelog", "--dry-run"] if cz else None,
        "git-cliff": [cliff] if cliff else None,
    }


def bench(n: int) -> dict[str, Result | None]:
    repo = synth_repo(n)
    print(f"\n{n:,} commits, {n // 500} release tags ({repo})", flush=True)
    results: dict[str, Result | None] = {}
    for name, cmd in tools().items():
        if cmd is None:
            results[name] = None
            print(f"  {name:16} not available", flush=True)
            continue
        best: Result | None = None
        for _ in range(REPEAT):
            res = run(cmd, repo)
            if res.code != 0:
                best = res
                break
            if res.wall > SLOW:  # one run of a slow tool says enough
                best = res
                break
            if best is None:
                best = res
            best = Result(
                min(res.wall, best.wall),
                min(res.cpu, best.cpu),
                max(res.rss_mb, best.rss_mb),
                max(res.tree_mb, best.tree_mb),
                0,
            )
        results[name] = best
        assert best is not None
        if best.code != 0:
            print(f"  {name:16} failed (exit {best.code}): {best.error}", flush=True)
            continue
        floor = results["git log (floor)"]
        ratio = best.wall / floor.wall if floor else 1.0
        cpu_ratio = best.cpu / floor.cpu if floor and floor.cpu else 1.0
        print(
            f"  {name:16} {best.wall:8.3f} s {ratio:7.2f}x floor | cpu {best.cpu:7.2f} s "
            f"{cpu_ratio:6.2f}x | peak RSS {best.rss_mb:6.1f} MB (tree sum {best.tree_mb:6.1f} MB)",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "sizes", nargs="*", type=int, help="commits per repository (default: 10000 100000)"
    )
    sizes = parser.parse_args().sizes or [10_000, 100_000]
    print(f"bench/notes.py: best of {REPEAT} runs; {os.cpu_count()} CPUs")
    table = {n: bench(n) for n in sizes}
    castoff = [(n, r["castoff"]) for n, r in table.items() if r.get("castoff")]
    if len(castoff) >= 2:
        (n1, r1), (n2, r2) = castoff[0], castoff[-1]
        assert r1 is not None
        assert r2 is not None
        growth = (r2.wall / r1.wall) / (n2 / n1)
        print(f"\ncastoff cost growth {n1:,} -> {n2:,} commits: {growth:.2f}x linear")
    return 0


if __name__ == "__main__":
    sys.exit(main())
