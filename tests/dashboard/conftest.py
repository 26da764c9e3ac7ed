"""Fixtures for the dashboard tests (helpers live in dashboard_helpers.py)."""

from __future__ import annotations

import dashboard_helpers  # noqa: F401 - puts the workflow and MCP helpers on sys.path
from workflow_sample import light_template, released

__all__ = ["light_template", "released"]
