"""Promotions (issue 16): one-off or scheduled promotional messages to an
audience rules lists. A promotion's deliveries carry its id, so what it reached
is counted from them (ListPromotions) with one indexed read.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from cashback_services.notify.adapters import tables as t

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # 0002 creates tables.py as it is now, so on a new database these exist already.
    t.promotions.create(bind, checkfirst=True)
    op.create_index(
        "ix_notify_promotions_merchant_created", "notify_promotions", ["merchant_id", "created_at"], if_not_exists=True
    )
    # The scheduler's question: which promotions are due or were interrupted mid-send.
    op.create_index(
        "ix_notify_promotions_open",
        "notify_promotions",
        ["send_at"],
        if_not_exists=True,
        postgresql_where=sa.text("status IN ('SCHEDULED', 'SENDING')"),
    )
    op.execute(sa.text("ALTER TABLE notify_deliveries ADD COLUMN IF NOT EXISTS promotion_id varchar(64)"))
    op.create_index(
        "ix_notify_deliveries_promotion",
        "notify_deliveries",
        ["merchant_id", "promotion_id", "status"],
        if_not_exists=True,
        postgresql_where=sa.text("promotion_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notify_deliveries_promotion", "notify_deliveries", if_exists=True)
    op.execute(sa.text("ALTER TABLE notify_deliveries DROP COLUMN IF EXISTS promotion_id"))
    op.drop_table("notify_promotions", if_exists=True)
