"""Fixtures for the fault-injection tests: the release workflow's light sample repository.

The soak tests (``test_soak_*.py``, marked ``soak``) run for minutes: they run
only when the marker expression names them (``make soak``, ``pytest -m soak``)
and are skipped by a bare ``pytest``; ``make test`` deselects them.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release" / "workflow"))

from workflow_sample import light_repo, light_template

__all__ = ["light_repo", "light_template"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the soaks unless ``-m`` names them."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a soak: run it with `make soak` (pytest -m soak)")
    for item in items:
        if item.get_closest_marker("soak"):
            item.add_marker(skip)
