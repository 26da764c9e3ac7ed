"""Per-session, per-status task counters kept by triggers (get_status reads, never counts).

Revision ID: 0003
Revises: 0002

``task_counts`` holds, for each session and status, how many tasks are in it.
Triggers on ``tasks`` change it in the same transaction as the change they
count: an insert adds one to its status, a status change moves one from the
old status to the new, a delete (a cascade included: a deleted parent's
subtree, a removed session's tasks) takes one away. Deltas are
``n = n + 1`` / ``n = n - 1`` on the counter row, so concurrent transactions on
PostgreSQL queue on that row and never lose an update; a rollback or a crash
takes the delta with the change. On PostgreSQL a status change touches its two
rows in (session, status) order, so two single-task changes never deadlock.

A decrement only ever updates (a counted task has its row), so a session being
deleted — whose counter rows cascade away at the same time — never gets a row
re-inserted. Existing stores are counted once here: triggers first, then the
exact count written over whatever they added meanwhile (SQLite runs each
statement on its own; PostgreSQL's CREATE TRIGGER holds writers off until this
migration commits), so nothing written during the upgrade is missed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    BEGIN
        INSERT INTO task_counts (session_id, status, n) VALUES (NEW.session_id, NEW.status, 1)
        ON CONFLICT (session_id, status) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER task_counts_update AFTER UPDATE OF status, session_id ON tasks
    WHEN OLD.status IS NOT NEW.status OR OLD.session_id IS NOT NEW.session_id
    BEGIN
        UPDATE task_counts SET n = n - 1
        WHERE session_id = OLD.session_id AND status = OLD.status;
        INSERT INTO task_counts (session_id, status, n) VALUES (NEW.session_id, NEW.status, 1)
        ON CONFLICT (session_id, status) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    BEGIN
        UPDATE task_counts SET n = n - 1
        WHERE session_id = OLD.session_id AND status = OLD.status;
    END
    """,
)

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION castoff_task_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_counts AS c (session_id, status, n)
        VALUES (NEW.session_id, NEW.status, 1)
        ON CONFLICT (session_id, status) DO UPDATE SET n = c.n + 1;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE task_counts SET n = n - 1
        WHERE session_id = OLD.session_id AND status = OLD.status;
    ELSE
        INSERT INTO task_counts AS c (session_id, status, n)
        SELECT d.session_id, d.status, d.n
        FROM (VALUES (OLD.session_id, OLD.status, -1), (NEW.session_id, NEW.status, 1))
            AS d (session_id, status, n)
        ORDER BY d.session_id, d.status
        ON CONFLICT (session_id, status) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = (
    "CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks "
    "FOR EACH ROW EXECUTE FUNCTION castoff_task_counts()",
    "CREATE TRIGGER task_counts_update AFTER UPDATE OF status, session_id ON tasks "
    "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status "
    "OR OLD.session_id IS DISTINCT FROM NEW.session_id) "
    "EXECUTE FUNCTION castoff_task_counts()",
    "CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks "
    "FOR EACH ROW EXECUTE FUNCTION castoff_task_counts()",
)

TRIGGERS = ("task_counts_insert", "task_counts_update", "task_counts_delete")

BACKFILL = """
INSERT INTO task_counts (session_id, status, n)
SELECT session_id, status, count(*) FROM tasks WHERE true GROUP BY session_id, status
ON CONFLICT (session_id, status) DO UPDATE SET n = excluded.n
"""


def upgrade() -> None:
    op.create_table(
        "task_counts",
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "status", name="pk_task_counts"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_task_counts_session_id_sessions",
            ondelete="CASCADE",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        statements = POSTGRESQL_TRIGGERS
    else:
        statements = SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON tasks" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS castoff_task_counts()")
    op.drop_table("task_counts")
