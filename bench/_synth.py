"""Synthetic git repositories for the benchmarks, built with ``git fast-import``.

``synth_repo(n)`` returns a repository of ``n`` conventional commits (with
scopes, bodies, issue references, co-authors, breaking changes, reverts and a
few non-conventional messages) and an annotated release tag every
``tag_every`` commits. Built repositories are cached under ``bench/.work/``
(gitignored); the content is deterministic (a seeded RNG, fixed dates).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

WORK = Path(__file__).parent / ".work"
START = 1_600_000_000

_TYPES = ["feat"] * 5 + ["fix"] * 5 + ["docs", "chore", "refactor", "perf", "test", "ci", "build"]
_SCOPES = [None, None, "api", "cli", "core", "parser", "ui", "db", "auth", "docs"]
_WORDS = [
    *("add", "remove", "handle", "support", "improve", "parse", "render", "cache", "retry"),
    *("validate", "stream", "config", "timeout", "encoding", "unicode", "merge", "branch"),
    *("tag", "release", "notes", "changelog", "token", "session", "worker", "queue", "lease"),
    *("index", "schema", "migration", "endpoint", "option", "flag", "default", "error"),
]
_NAMES = [f"Dev {i:02d}" for i in range(60)]


def _message(rng: random.Random) -> str:
    roll = rng.random()
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9)))
    if roll < 0.05:
        return f"Update {words}\n"
    ctype = rng.choice(_TYPES)
    scope = rng.choice(_SCOPES)
    bang = "!" if rng.random() < 0.01 else ""
    head = f"{ctype}({scope}){bang}: {words}" if scope else f"{ctype}{bang}: {words}"
    if rng.random() < 0.3:
        head += f" (#{rng.randint(1, 5000)})"
    lines = [head]
    if rng.random() < 0.4:
        body = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 60)))
        lines += ["", body]
    footers = []
    if rng.random() < 0.1:
        footers.append(f"Closes #{rng.randint(1, 5000)}")
    if rng.random() < 0.005:
        footers.append(f"BREAKING CHANGE: {words} changed")
    if rng.random() < 0.05:
        n = rng.randrange(len(_NAMES))
        footers.append(f"Co-authored-by: {_NAMES[n]} <dev{n:02d}@example.com>")
    if footers:
        lines += ["", *footers]
    return "\n".join(lines) + "\n"


def _stream(n: int, tag_every: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for i in range(n):
        stamp = START + i * 600
        n_author = min(int(rng.expovariate(1 / 12)), len(_NAMES) - 1)
        who = f"{_NAMES[n_author]} <dev{n_author:02d}@example.com> {stamp} +0000"
        content = f"change {i}\n".encode()
        msg = _message(rng).encode()
        parts = [
            b"blob\nmark :%d\ndata %d\n%s\n" % (2 * i + 1, len(content), content),
            b"commit refs/heads/main\nmark :%d\n" % (2 * i + 2),
            f"author {who}\ncommitter {who}\n".encode(),
            b"data %d\n%s\n" % (len(msg), msg),
        ]
        if i:
            parts.append(b"from :%d\n" % (2 * i))
        parts.append(b"M 100644 :%d src/file%d.txt\n\n" % (2 * i + 1, i % 50))
        if (i + 1) % tag_every == 0:
            version = f"0.{(i + 1) // tag_every}.0"
            tagger = f"Release Bot <bot@example.com> {stamp + 1} +0000"
            text = f"Release {version}\n".encode()
            parts.append(
                f"tag v{version}\nfrom :{2 * i + 2}\ntagger {tagger}\n".encode()
                + b"data %d\n%s\n" % (len(text), text)
            )
        yield b"".join(parts)


def synth_repo(n: int, *, tag_every: int = 500, seed: int = 4) -> Path:
    """A cached repository of ``n`` commits with a tag every ``tag_every`` (built on first use)."""
    path = WORK / f"synth-{n}-{tag_every}-{seed}"
    if (path / ".git" / "castoff-synth-done").exists():
        return path
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    for chunk in _stream(n, tag_every, seed):
        proc.stdin.write(chunk)
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "reset", "-q", "--hard", "main"], check=True)
    (path / ".cz.toml").write_text(
        '[tool.commitizen]\nname = "cz_conventional_commits"\ntag_format = "v$version"\n'
        'version_scheme = "semver"\nversion = "0.0.0"\n'
    )
    (path / ".git" / "info" / "exclude").write_text(".cz.toml\n")
    (path / ".git" / "castoff-synth-done").write_text("ok\n")
    return path


if __name__ == "__main__":
    import sys

    print(synth_repo(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
