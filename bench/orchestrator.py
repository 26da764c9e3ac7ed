"""Orchestrator benchmark: lifecycle throughput and query latency, SQLite and PostgreSQL.

- lifecycle: plan → execute → complete per task, each its own transaction, events
  included, in-process; tasks/s.
- latency: query_tasks (status filter, default page of 50) and get_status p50/p95 on
  a session of 10,000 tasks.
- growth: the cost of one task's lifecycle as the session grows 1,000 → 100,000 tasks.

PostgreSQL runs in a database this script creates and drops
(``CASTOFF_BENCH_PG_ADMIN``, default ``postgresql://postgres@127.0.0.1:5432/postgres``).
Usage: ``python bench/orchestrator.py [--quick] [--sqlite-only]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from castoff.orchestrator.service import Orchestrator
from castoff.store.schema import new_id, tasks, utcnow

PG_ADMIN = os.environ.get("CASTOFF_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
STATUS_MIX = ["completed"] * 6 + ["pending"] * 2 + ["in_progress", "failed"]


@contextmanager
def sqlite_store() -> Iterator[tuple[Path, str]]:
    with tempfile.TemporaryDirectory(prefix="castoff-bench-") as tmp:
        work = Path(tmp)
        yield work, f"sqlite:///{work / '.castoff' / 'castoff.db'}"


@contextmanager
def pg_store() -> Iterator[tuple[Path, str]]:
    import psycopg

    name = f"castoff_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="castoff-bench-") as tmp:
            host = PG_ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
            user = PG_ADMIN.split("//", 1)[1].split("@", 1)[0]
            yield Path(tmp), f"postgresql+psycopg://{user}@{host}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def opened(store: Callable[[], Any]) -> Iterator[Orchestrator]:
    """An orchestrator on a fresh store made by ``store``."""
    with store() as (work, url), Orchestrator.open(work, database_url=url, actor="bench") as orch:
        yield orch


def seed(orch: Orchestrator, count: int) -> None:
    """Add ``count`` tasks with a realistic status mix, in bulk."""
    now = utcnow()
    sid = orch.session_id
    batch = []
    for i in range(count):
        status = STATUS_MIX[i % len(STATUS_MIX)]
        created = now - timedelta(seconds=count - i)
        batch.append(
            {
                "id": new_id() + f"{i:x}",
                "session_id": sid,
                "parent_task_id": None,
                "title": f"seeded task {i}",
                "description": "bench",
                "task_type": "standard",
                "specialist_type": "generic",
                "complexity": "moderate",
                "status": status,
                "estimated_effort": None,
                "due_date": None,
                "context": None,
                "summary": "done" if status == "completed" else None,
                "detailed_work": None,
                "next_action": None,
                "error": None,
                "lease_owner": "bench" if status == "in_progress" else None,
                "lease_expires_at": now + timedelta(hours=1) if status == "in_progress" else None,
                "attempts": 1 if status != "pending" else 0,
                "created_at": created,
                "updated_at": created,
                "completed_at": created if status == "completed" else None,
            }
        )
        if len(batch) == 5000:
            rows = batch
            orch.db.write(lambda conn, rows=rows: conn.execute(insert(tasks), rows))
            batch = []
    if batch:
        orch.db.write(lambda conn: conn.execute(insert(tasks), batch))


def lifecycle(orch: Orchestrator, n: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process) for ``n`` plan → execute → complete cycles."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        task = orch.plan_task(f"bench {i}", specialist_type="coder")
        orch.execute_task(task.id)
        orch.complete_task(task.id, "done")
    return time.perf_counter() - start, time.process_time() - cpu


def latency(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Wall p50, wall p95 and CPU p50, in milliseconds."""
    for _ in range(5):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        start, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    wall.sort()
    return statistics.median(wall), wall[int(len(wall) * 0.95) - 1], statistics.median(cpu)


def run_dialect(name: str, store: Callable[[], Any], *, quick: bool) -> dict[str, object]:
    results: dict[str, object] = {"dialect": name}
    n = 300 if quick else 2000
    with opened(store) as orch:
        lifecycle(orch, 50)
        secs, cpu = lifecycle(orch, n)
        results["lifecycle_tasks_per_s"] = round(n / secs, 1)
        results["lifecycle_tasks_per_cpu_s"] = round(n / cpu, 1)
    with opened(store) as orch:
        seed(orch, 10_000)
        runs = 100 if quick else 400
        q50, q95, qcpu = latency(lambda: orch.query_tasks(status=["pending"]), runs)
        s50, s95, scpu = latency(orch.get_status, runs)
        results.update(
            query_tasks_p50_ms=round(q50, 3),
            query_tasks_p95_ms=round(q95, 3),
            query_tasks_cpu_p50_ms=round(qcpu, 3),
            get_status_p50_ms=round(s50, 3),
            get_status_p95_ms=round(s95, 3),
            get_status_cpu_p50_ms=round(scpu, 3),
        )
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    growth = {}
    for size in sizes:
        with opened(store) as orch:
            seed(orch, size)
            lifecycle(orch, 20)
            m = 100 if quick else 300
            growth[size] = round(lifecycle(orch, m)[0] / m * 1000, 3)
    results["ms_per_task_lifecycle_by_session_size"] = growth
    return results


def main() -> int:
    quick = "--quick" in sys.argv
    dialects: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_store)]
    if "--sqlite-only" not in sys.argv:
        dialects.append(("postgresql", pg_store))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (wall times include contention)")
    for name, store in dialects:
        r = run_dialect(name, store, quick=quick)
        growth = r["ms_per_task_lifecycle_by_session_size"]
        assert isinstance(growth, dict)
        print(f"[{name}]")
        print(
            f"  lifecycle (plan→execute→complete): {r['lifecycle_tasks_per_s']} tasks/s"
            f" (per CPU-second of this process: {r['lifecycle_tasks_per_cpu_s']})"
        )
        print(
            f"  query_tasks @10k: p50 {r['query_tasks_p50_ms']} ms,"
            f" p95 {r['query_tasks_p95_ms']} ms (CPU p50 {r['query_tasks_cpu_p50_ms']} ms)"
        )
        print(
            f"  get_status  @10k: p50 {r['get_status_p50_ms']} ms,"
            f" p95 {r['get_status_p95_ms']} ms (CPU p50 {r['get_status_cpu_p50_ms']} ms)"
        )
        sizes = ", ".join(f"{k:,} tasks {v} ms" for k, v in growth.items())
        print(f"  one task's lifecycle by session size: {sizes}")
        if name == "sqlite":
            targets = (
                ("lifecycle >= 1000 tasks/s", float(str(r["lifecycle_tasks_per_s"])) >= 1000),
                ("query_tasks p50 < 2 ms", float(str(r["query_tasks_p50_ms"])) < 2),
                ("get_status p50 < 5 ms", float(str(r["get_status_p50_ms"])) < 5),
            )
            for label, ok in targets:
                print(f"  target {label}: {'met' if ok else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
