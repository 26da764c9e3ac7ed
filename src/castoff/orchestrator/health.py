"""``health_check``: is the orchestrator usable, and what does its store look like."""

from __future__ import annotations

from sqlalchemy import Connection

from castoff import __version__
from castoff.errors import CastoffError
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import DatabaseStatus, HealthReport
from castoff.orchestrator.roles import all_roles
from castoff.store import health as store_health
from castoff.store.migrate import HEAD, current_revision


class HealthOperations(OrchestratorCore):
    """health_check."""

    def health_check(self, include_database_status: bool = False) -> HealthReport:
        """Check the store, the schema version and the role files."""
        checks: dict[str, str] = {}
        healthy = True
        revision = current_revision(self.db)
        checks["migrations"] = (
            f"ok ({revision})" if revision == HEAD else f"behind ({revision} < {HEAD})"
        )
        healthy &= revision == HEAD
        try:
            checks["roles"] = f"ok ({len(all_roles())} roles)"
        except CastoffError as exc:
            checks["roles"] = f"failed: {exc}"
            healthy = False
        database = None
        try:

            def work(conn: Connection) -> DatabaseStatus | None:
                latency = store_health.latency_ms(conn)
                if not include_database_status:
                    return None
                return DatabaseStatus(
                    dialect=self.db.dialect,
                    url=self.db.safe_url,
                    migration_version=revision,
                    migration_head=HEAD,
                    latency_ms=latency,
                    journal_mode=store_health.journal_mode(conn),
                    locks=store_health.lock_state(conn),
                    counts=store_health.counts(conn),
                )

            database = self.db.read(work)
            checks["store"] = f"ok ({self.db.dialect})"
        except CastoffError as exc:
            checks["store"] = f"failed: {exc}"
            healthy = False
        if self.blobs.directory is not None:
            parent = self.blobs.directory.parent
            checks["artifacts"] = "ok" if parent.is_dir() else f"missing: {parent}"
            healthy &= parent.is_dir()
        return HealthReport(
            healthy=bool(healthy), version=__version__, checks=checks, database=database
        )
