"""Shared fixtures: deterministic git, real repositories, real databases.

- Every test runs with its own HOME and a fixed global git config, so the
  developer's settings never leak in (commitizen's ``tmp_git_project`` habit).
- ``repo`` / ``make_repo`` give real git repositories in ``tmp_path``.
- ``db_url`` runs a test on BOTH embedded SQLite and the real PostgreSQL; each
  PostgreSQL test gets a fresh database, dropped afterwards. PostgreSQL being
  unreachable is a failure, never a skip (``make test`` starts it first).
- ``run_castoff`` runs the real entry point in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "CASTOFF_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def _isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private HOME and global git config for every test."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Maintainer\n\temail = maintainer@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgSign = false\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "CASTOFF_DATABASE_URL", "CASTOFF_TOKEN"):
        monkeypatch.delenv(var, raising=False)


@dataclass
class Repo:
    """A real git repository in a temp dir, with small helpers for tests."""

    path: Path
    _clock: list[int] = field(default_factory=lambda: [1_700_000_000])

    def git(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
        full_env = {**os.environ, **(env or {})}
        out = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, env=full_env, check=False
        )
        if check and out.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def commit(
        self,
        message: str,
        files: dict[str, str] | None = None,
        *,
        author: str = "Test Maintainer <maintainer@example.com>",
    ) -> str:
        """Write ``files`` (or touch a counter file), commit with ``message``, return the sha."""
        if files is None:
            n = len(self.git("rev-list", "--all").split()) if self.has_commits() else 0
            files = {"history.txt": f"change {n}\n"}
        for rel, text in files.items():
            self.write(rel, text)
        self.git("add", "-A")
        self._clock[0] += 60
        stamp = f"{self._clock[0]} +0000"
        name, _, email = author.partition(" <")
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, ref: str = "HEAD", message: str | None = None) -> None:
        self.git("tag", "-a", name, ref, "-m", message or name)

    def has_commits(self) -> bool:
        return self.git("rev-parse", "--verify", "-q", "HEAD", check=False) != ""

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """Factory: ``make_repo("name")`` creates an empty repository on branch main."""

    def factory(name: str = "repo") -> Repo:
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        return Repo(path)

    return factory


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    """An empty git repository on branch main."""
    return make_repo()


def _pg_admin() -> object:
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - environment failure
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); run `make postgres`. "
            "The PostgreSQL half of the suite is never skipped."
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    name = f"castoff_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL: embedded SQLite in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / ".castoff").mkdir(exist_ok=True)
        yield f"sqlite:///{tmp_path / '.castoff' / 'castoff.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def _on_a_terminal(
    cwd: Path, args: list[str], prompt: bytes, answer: bytes, timeout: float = 60
) -> tuple[int, bytes]:
    """Run ``castoff ARGS`` under a pseudo-terminal, answering ``prompt`` once it shows
    (line wraps ignored); the exit code and everything the terminal showed."""
    import pty
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "castoff", *args])
    out, answered = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not answered and prompt in out.replace(b"\r\n", b" ").replace(b"\n", b" "):
            os.write(fd, answer + b"\n")
            answered = True
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    if time.monotonic() >= deadline:  # hung: do not leave it running
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


@pytest.fixture
def on_a_terminal() -> Callable[..., tuple[int, bytes]]:
    """``(cwd, args, prompt, answer)`` → run castoff on a pseudo-terminal and answer it."""
    return _on_a_terminal


@pytest.fixture
def run_castoff() -> object:
    """Run ``castoff ARGS`` through the real entry point; returns CompletedProcess."""

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "castoff", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            input=input,
            timeout=600,
            check=False,
        )

    return run
