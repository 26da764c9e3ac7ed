"""Benchmark: `castoff version next` as a whole process on a 100,000-commit repository.

The repository (bench/_synth.py: a release tag every 500 commits) is cloned
with shared objects and gets 250 more commits, so the command has a realistic
"commits since the last release" to read. The figure is the best of N runs of
``python -m castoff version next --json``, interpreter start-up included,
with bytecode cached as in an installed package. Budget: < 0.2 s.
When python-semantic-release / commitizen are installed (``bench`` extra),
they are timed side by side on the same repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _synth import synth_repo

BUDGET = 0.2
RUNS = 7
EXTRA_COMMITS = 250


def prepared(n: int) -> Path:
    """A shared clone of the synthetic repo with EXTRA_COMMITS unreleased commits."""
    base = synth_repo(n)
    work = Path(tempfile.mkdtemp(prefix="castoff-bench-version-"))
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(base), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "--tags"], check=True)
    shutil.copy(base / ".cz.toml", clone / ".cz.toml")
    (clone / ".git" / "info" / "exclude").write_text(".cz.toml\n")
    stream = []
    stamp = 1_700_000_000
    for i in range(EXTRA_COMMITS):
        msg = (b"feat: bench feature %d\n" if i % 7 == 0 else b"fix: bench fix %d\n") % i
        who = f"Bench <bench@example.com> {stamp + i} +0000\n".encode()
        stream.append(b"commit refs/heads/main\nauthor " + who + b"committer " + who)
        stream.append(b"data %d\n%s\n" % (len(msg), msg))
        if i == 0:
            stream.append(b"from refs/heads/main^0\n")
        stream.append(b"\n")
    subprocess.run(
        ["git", "-C", str(clone), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", "main"], check=True)
    return clone


def best_of(cmd: list[str], cwd: Path, env: dict[str, str], runs: int = RUNS) -> float:
    """The fastest wall time of ``runs`` runs of ``cmd`` (after one warm-up)."""
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr.decode()[-400:]}")
    return min(times)


def main() -> int:
    n = int(os.environ.get("CASTOFF_BENCH_COMMITS", "100000"))
    repo = prepared(n)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(repo.parent / "pycache")
    castoff = [sys.executable, "-m", "castoff", "version", "next", "--json"]
    out = subprocess.run(castoff, cwd=repo, env=env, capture_output=True, text=True, check=False)
    print(out.stdout.splitlines()[1:3], file=sys.stderr)
    took = best_of(castoff, repo, env)
    print(
        f"castoff version next: {took * 1000:.0f} ms on {n} commits (+{EXTRA_COMMITS} unreleased)"
    )
    bindir = Path(sys.executable).parent
    psr = bindir / "semantic-release"
    if psr.exists():
        cmd = [str(psr), "--noop", "version", "--print"]
        print(f"python-semantic-release version --print: {best_of(cmd, repo, env, 3):.2f} s")
    else:
        print("python-semantic-release: not installed (pip install -e '.[bench]')")
    cz = bindir / "cz"
    if cz.exists():
        cmd = [str(cz), "bump", "--dry-run", "--yes"]
        print(f"commitizen bump --dry-run: {best_of(cmd, repo, env, 3):.2f} s")
    shutil.rmtree(repo.parent, ignore_errors=True)
    # A missed target is reported, not a failure: a benchmark is not a timed test.
    print(f"  target castoff version next < {BUDGET} s: {'met' if took < BUDGET else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
