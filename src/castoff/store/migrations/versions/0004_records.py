"""Keyed records per session (compare-and-set documents such as the announcement ledger).

Revision ID: 0004
Revises: 0003

One new table, nothing backfilled. ``CREATE TABLE`` runs in the migration's
transaction under the migration lock, so processes starting together create
it once; a store at 0003 is untouched until then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from castoff.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "key", name="pk_records"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_records_session_id_sessions",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("records")
