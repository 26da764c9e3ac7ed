"""The store's tables: one SQLAlchemy Core schema for SQLite and PostgreSQL.

Datetimes are stored in UTC (:class:`UTCDateTime`); ids are short sortable
strings made by :func:`new_id`. Migrations (``migrations/versions``) create
exactly this schema; a test compares the two.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects (naive UTC text in SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _utc_from_text(value: Any) -> datetime:
    if isinstance(value, str):
        try:  # naive UTC text, as stored: parsing it with its offset is 5x cheaper than replace()
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # text that has an offset of its own
            value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]


def _utc_from_driver(value: Any) -> datetime:
    if isinstance(value, str):
        return _utc_from_text(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]


def utc_result_processor(dialect: Dialect) -> Any:
    """:class:`UTCDateTime`'s result conversion as one call per (non-NULL) value.

    The same result as SQLAlchemy's processor chain (the dialect's own parsing,
    then ``process_result_value``), for hot paths that convert many rows.
    """
    return _utc_from_text if dialect.name == "sqlite" else _utc_from_driver


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A 19-character id: milliseconds since the epoch (hex) then 8 random hex digits."""
    return f"{time.time_ns() // 1_000_000:011x}{secrets.token_hex(4)}"


ID = String(32)
EventId = BigInteger().with_variant(Integer(), "sqlite")

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("working_directory", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The machine that created the session (NULL: created before migration 0002).
    Column("host", String(255), nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("parent_task_id", ID, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("task_type", String(32), nullable=False),
    Column("specialist_type", String(32), nullable=False),
    Column("complexity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("estimated_effort", Text, nullable=True),
    Column("due_date", UTCDateTime, nullable=True),
    Column("context", JSON(none_as_null=True), nullable=True),
    Column("summary", Text, nullable=True),
    Column("detailed_work", Text, nullable=True),
    Column("next_action", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
)
# query_tasks pages (filtered by status or not) in (created_at, id) order straight
# off an index; get_status counts by status and lists recent work from indexes only.
Index(
    "ix_tasks_session_status_created",
    tasks.c.session_id,
    tasks.c.status,
    tasks.c.created_at,
    tasks.c.id,
)
Index("ix_tasks_session_created", tasks.c.session_id, tasks.c.created_at, tasks.c.id)
Index("ix_tasks_session_status_updated", tasks.c.session_id, tasks.c.status, tasks.c.updated_at)
Index("ix_tasks_session_status_lease", tasks.c.session_id, tasks.c.status, tasks.c.lease_expires_at)
Index("ix_tasks_parent", tasks.c.parent_task_id)

# How many of a session's tasks are in each status, so get_status reads a handful of
# rows instead of counting the session's tasks. Triggers on ``tasks`` keep it exact in
# the same transaction as every insert, status change and delete, cascades included
# (migration 0003 creates them; ``store/counters.py`` reads, checks and repairs it).
task_counts = Table(
    "task_counts",
    metadata,
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", ID, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", ID, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_task_dependencies_depends_on", task_dependencies.c.depends_on_id)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", ID, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=True),
    Column("artifact_type", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_artifacts_task", artifacts.c.task_id)
Index("ix_artifacts_sha256", artifacts.c.sha256)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Small keyed documents of a session, written by compare-and-set (``version`` goes up by
# one per write; a writer names the version it read), e.g. the announcement ledger.
records = Table(
    "records",
    metadata,
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
    Column("task_id", ID, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_events_session", events.c.session_id, events.c.id)
Index("ix_events_task", events.c.task_id, events.c.id)
