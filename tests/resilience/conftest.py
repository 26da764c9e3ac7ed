"""Fixtures for the fault-injection tests: the release workflow's light sample repository."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release" / "workflow"))

from workflow_sample import light_repo, light_template

__all__ = ["light_repo", "light_template"]
