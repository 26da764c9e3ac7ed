"""Turn engine and orchestrator results into JSON-ready data.

One function shared by every adapter (CLI ``--json``, MCP structured output,
dashboard) so a field is spelled the same everywhere.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any


def to_data(obj: Any) -> Any:
    """Recursively convert dataclasses, enums, dates and paths to plain JSON data."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return to_data(obj.value)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_data(v) for v in obj]
    if hasattr(obj, "model_dump"):
        return to_data(obj.model_dump())
    return str(obj)
