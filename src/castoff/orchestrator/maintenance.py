"""``maintenance_coordinator``: cleanup scans, structure checks, handover documents."""

from __future__ import annotations

from castoff.errors import NotSupportedYet
from castoff.orchestrator.core import OrchestratorCore
from castoff.orchestrator.models import MaintenanceReport


class MaintenanceOperations(OrchestratorCore):
    """maintenance_coordinator."""

    def maintenance_coordinator(
        self, action: str, scope: str = "session", validation_level: str = "basic"
    ) -> MaintenanceReport:
        raise NotSupportedYet(f"maintenance action {action} is not supported yet")
