"""One worker of the store soak (test_soak_store.py), run as its own process.

    python soak_store_worker.py ROOT DATABASE_URL SEED SECONDS LOG

(DATABASE_URL empty: ROOT's embedded SQLite store.)

Opens the Orchestrator on ROOT's session (``process_bound``, as ``castoff
worker`` and the release runner do) and, until SECONDS have passed or it is
SIGKILLed, does random operations on the session's tasks: plan (with parents
and dependencies), execute (short and long leases), complete, complete and
claim, fail, cancel, update (status, dependencies, parent, fields), heartbeat,
reclaim dead workers, reopen. Refusals the API documents (UsageError and its
kinds, ConflictError) are expected and counted; anything else is written to
LOG as ``{"unexpected": ...}`` with its traceback and the worker goes on.
Every 50 operations it appends its counts to LOG.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from castoff.errors import ConflictError, UsageError
from castoff.orchestrator.models import Task
from castoff.orchestrator.service import Orchestrator

LEASES = (1, 2, 5, 30, 300)


class Worker:
    def __init__(self, root: Path, url: str | None, seed: str, log: Path) -> None:
        self.root = root
        self.url = url
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log.open("a", buffering=1)
        self.counts: Counter[str] = Counter()
        self.made = 0
        self.orch = self._open()

    def _open(self) -> Orchestrator:
        return Orchestrator.open(self.root, database_url=self.url, actor="soak", process_bound=True)

    def write(self, record: dict[str, Any]) -> None:
        self.log.write(json.dumps(record) + "\n")

    # -- picking tasks ----------------------------------------------------------------
    def some(self, *statuses: str, n: int = 1) -> list[Task]:
        """Up to ``n`` random tasks with one of ``statuses`` (any status when none)."""
        total = self.orch.query_tasks(status=list(statuses) or None, limit=1).total
        if total == 0:
            return []
        offset = self.rng.randrange(max(1, total - 20))
        page = self.orch.query_tasks(status=list(statuses) or None, limit=20, offset=offset)
        return self.rng.sample(page.tasks, min(n, len(page.tasks)))

    def one(self, *statuses: str) -> Task | None:
        found = self.some(*statuses)
        return found[0] if found else None

    def mine(self) -> Task | None:
        """A task this worker holds (or any in progress, now and then)."""
        running = self.orch.query_tasks(status=["in_progress"], limit=200).tasks
        own = [t for t in running if t.lease_owner == self.orch.worker]
        pool = own if own and self.rng.random() < 0.9 else running
        return self.rng.choice(pool) if pool else None

    # -- operations -------------------------------------------------------------------
    def plan(self) -> None:
        self.made += 1
        parent = self.one() if self.rng.random() < 0.6 else None
        deps = self.some(n=self.rng.choice((0, 0, 1, 2, 3)))
        self.orch.plan_task(
            f"{self.seed}-{self.made}",
            parent_task_id=parent.id if parent else None,
            dependencies=[d.id for d in deps],
            context={"by": self.seed},
        )

    def execute(self) -> None:
        task = self.one("pending") or self.one("in_progress")
        if task:
            self.orch.execute_task(task.id, lease_seconds=self.rng.choice(LEASES))

    def complete(self) -> None:
        task = self.mine()
        if task is None:
            return
        if self.rng.random() < 0.3:
            nxt = self.one("pending")
            if nxt is not None and nxt.id != task.id:
                self.orch.complete_and_claim(
                    task.id, "done and next", next_task_id=nxt.id, detailed_work="details"
                )
                return
        self.orch.complete_task(task.id, "done", detailed_work=self.rng.choice((None, "work")))

    def fail(self) -> None:
        task = self.mine()
        if task:
            self.orch.fail_task(task.id, "it broke")

    def cancel(self) -> None:
        task = self.one("pending", "in_progress", "blocked", "failed")
        if task:
            self.orch.cancel_task(task.id, reason="soak", preserve_work=self.rng.random() < 0.5)

    def update(self) -> None:
        task = self.one()
        if task is None:
            return
        what = self.rng.choice(("status", "status", "dependencies", "parent", "fields"))
        if what == "status":
            self.orch.update_task(
                task.id,
                status=self.rng.choice(("pending", "pending", "blocked", "archived")),
                force=self.rng.random() < 0.5,
            )
        elif what == "dependencies":
            deps = self.some(n=self.rng.choice((0, 1, 2, 3)))
            self.orch.update_task(task.id, dependencies=[d.id for d in deps if d.id != task.id])
        elif what == "parent":
            parent = self.one()
            self.orch.update_task(task.id, parent_task_id=parent.id if parent else "")
        else:
            self.orch.update_task(task.id, next_action="go on", description="changed")

    def heartbeat(self) -> None:
        task = self.mine()
        if task:
            self.orch.heartbeat(task.id, lease_seconds=self.rng.choice(LEASES))

    def reclaim(self) -> None:
        self.orch.reclaim_dead_workers()

    def reopen(self) -> None:
        self.orch.close()
        self.orch = self._open()

    def run(self, seconds: float) -> None:
        ops: dict[str, tuple[int, Callable[[], None]]] = {
            "plan": (20, self.plan),
            "execute": (22, self.execute),
            "complete": (18, self.complete),
            "fail": (4, self.fail),
            "cancel": (4, self.cancel),
            "update": (18, self.update),
            "heartbeat": (6, self.heartbeat),
            "reclaim": (3, self.reclaim),
            "reopen": (1, self.reopen),
        }
        names = list(ops)
        weights = [ops[n][0] for n in names]
        deadline = time.monotonic() + seconds
        done = 0
        while time.monotonic() < deadline:
            name = self.rng.choices(names, weights)[0]
            try:
                ops[name][1]()
                self.counts[f"{name}.ok"] += 1
            except (UsageError, ConflictError) as exc:
                self.counts[f"{name}.{type(exc).__name__}"] += 1
            except Exception as exc:
                self.counts[f"{name}.unexpected"] += 1
                self.write(
                    {
                        "unexpected": f"{name}: {type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc(),
                    }
                )
            done += 1
            if done % 50 == 0:
                self.write({"counts": dict(self.counts)})
                self.counts.clear()
        self.write({"counts": dict(self.counts), "finished": True})


def main() -> None:
    root, url, seed, seconds, log = sys.argv[1:6]
    Worker(Path(root), url or None, seed, Path(log)).run(float(seconds))


if __name__ == "__main__":
    main()
