"""Sessions record the host that created them (cleanup_sessions removes only its own).

Revision ID: 0002
Revises: 0001

Adding a nullable column is one ALTER TABLE on both dialects; sessions from
before it have no host (NULL) until a castoff on some machine opens them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("host", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("host")
