"""Claim indexes: partial indexes on (next_attempt_at, id) of SCHEDULED deliveries
and (lease_until, id) of SENDING ones, so a sender's claim reads the first due rows
in index order and stops at its LIMIT; they replace ix_notify_deliveries_due.

0002 creates tables.py as it is now, so on a new database these already exist.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "notify_deliveries"


def upgrade() -> None:
    scheduled = sa.text("status = 'SCHEDULED'")
    sending = sa.text("status = 'SENDING'")
    op.create_index("ix_notify_deliveries_scheduled", TABLE, ["next_attempt_at", "id"], if_not_exists=True,
                    postgresql_where=scheduled)
    op.create_index("ix_notify_deliveries_leased", TABLE, ["lease_until", "id"], if_not_exists=True,
                    postgresql_where=sending)
    op.drop_index("ix_notify_deliveries_due", TABLE, if_exists=True)


def downgrade() -> None:
    op.create_index("ix_notify_deliveries_due", TABLE, ["status", "next_attempt_at"], if_not_exists=True)
    op.drop_index("ix_notify_deliveries_leased", TABLE, if_exists=True)
    op.drop_index("ix_notify_deliveries_scheduled", TABLE, if_exists=True)
