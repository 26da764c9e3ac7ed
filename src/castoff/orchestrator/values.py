"""Checking and normalising input values (pure): one clear error per bad value."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from castoff.errors import UsageError

E = TypeVar("E", bound=StrEnum)

MAX_LIMIT = 1000


def enum_value(kind: type[E], value: Any, name: str) -> E:
    """``value`` as a member of ``kind``, or a UsageError naming the allowed values."""
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise UsageError(f"{name} must be one of {allowed} (got {value!r})") from None


def enum_list(kind: type[E], values: Iterable[Any] | str | None, name: str) -> list[E]:
    """A list filter: None / a single value / several values, each checked."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [enum_value(kind, v, name) for v in values]


def text(value: Any, name: str, *, required: bool = False) -> str:
    """A string value; ``required`` refuses empty ones."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise UsageError(f"{name} must be text (got {type(value).__name__})")
    if required and not value.strip():
        raise UsageError(f"{name} must not be empty")
    return value


def when(value: Any, name: str) -> datetime | None:
    """An ISO 8601 date or datetime (naive means UTC), as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"{name} must be an ISO 8601 date or datetime, e.g. 2025-06-30 (got {value!r})"
            ) from None
    else:
        raise UsageError(f"{name} must be an ISO 8601 date or datetime (got {value!r})")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def context(value: Any) -> dict[str, Any] | str | None:
    """Task context: a JSON object or free text."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise UsageError(f"context must be a JSON object or text (got {type(value).__name__})")
    try:
        return dict(json.loads(json.dumps(value)))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"context must be JSON-serializable: {exc}") from None


def ids(values: Iterable[Any] | str | None, name: str) -> list[str]:
    """A list of task ids, de-duplicated, order kept."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise UsageError(f"{name} must be task ids (got {v!r})")
        if v.strip() not in out:
            out.append(v.strip())
    return out


def page(limit: Any, offset: Any) -> tuple[int, int]:
    """A checked (limit, offset) pair."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT} (got {limit!r})")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise UsageError(f"offset must be 0 or more (got {offset!r})")
    return limit, offset
