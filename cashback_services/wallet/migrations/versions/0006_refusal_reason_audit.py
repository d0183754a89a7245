"""A stored refusal keeps its ErrorInfo reason (INSUFFICIENT_CREDIT, HOLD_EXPIRED, ...), so
a replay of a refused request carries the same reason as the first answer; and the
wallet's audit trail (wallet_audit, cashback_kit.audit): who (key id) adjusted what, when.

wallet_write inserts idempotency rows with `SELECT r.* FROM jsonb_populate_recordset(NULL::
wallet_idempotency, ...)`, so the new last column is written with no change to the function.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from cashback_services.wallet.adapters import tables as t

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("wallet_idempotency", sa.Column("error_reason", sa.String(64)))
    t.audit.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("wallet_audit", if_exists=True)
    op.drop_column("wallet_idempotency", "error_reason")
