"""A stored refusal keeps its ErrorInfo reason (INSUFFICIENT_CREDIT, HOLD_EXPIRED, ...), so
a replay of a refused request carries the same reason as the first answer.

wallet_write inserts idempotency rows with `SELECT r.* FROM jsonb_populate_recordset(NULL::
wallet_idempotency, ...)`, so the new last column is written with no change to the function.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("wallet_idempotency", sa.Column("error_reason", sa.String(64)))


def downgrade() -> None:
    op.drop_column("wallet_idempotency", "error_reason")
