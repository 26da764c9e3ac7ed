"""The initial schema: sessions, tasks, dependencies, artifacts, blobs, events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from castoff.store.schema import EventId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("working_directory", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("working_directory", name="uq_sessions_working_directory"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("parent_task_id", ID, nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("task_type", sa.String(32), nullable=False),
        sa.Column("specialist_type", sa.String(32), nullable=False),
        sa.Column("complexity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("estimated_effort", sa.Text(), nullable=True),
        sa.Column("due_date", UTCDateTime(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("detailed_work", sa.Text(), nullable=True),
        sa.Column("next_action", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_tasks_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_task_id"],
            ["tasks.id"],
            name="fk_tasks_parent_task_id_tasks",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_tasks_session_status_created", "tasks", ["session_id", "status", "created_at", "id"]
    )
    op.create_index("ix_tasks_session_created", "tasks", ["session_id", "created_at", "id"])
    op.create_index(
        "ix_tasks_session_status_updated", "tasks", ["session_id", "status", "updated_at"]
    )
    op.create_index(
        "ix_tasks_session_status_lease", "tasks", ["session_id", "status", "lease_expires_at"]
    )
    op.create_index("ix_tasks_parent", "tasks", ["parent_task_id"])
    op.create_table(
        "task_dependencies",
        sa.Column("task_id", ID, nullable=False),
        sa.Column("depends_on_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "depends_on_id", name="pk_task_dependencies"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_dependencies_task_id_tasks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["depends_on_id"],
            ["tasks.id"],
            name="fk_task_dependencies_depends_on_id_tasks",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_task_dependencies_depends_on", "task_dependencies", ["depends_on_id"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("artifact_type", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_artifacts_task_id_tasks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_artifacts_session_id_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_artifacts_task", "artifacts", ["task_id"])
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_blobs"),
    )
    op.create_table(
        "events",
        sa.Column("id", EventId, autoincrement=True, nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("task_id", ID, nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_events_session_id_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_events_session", "events", ["session_id", "id"])
    op.create_index("ix_events_task", "events", ["task_id", "id"])


def downgrade() -> None:
    for table in ("events", "blobs", "artifacts", "task_dependencies", "tasks", "sessions"):
        op.drop_table(table)
