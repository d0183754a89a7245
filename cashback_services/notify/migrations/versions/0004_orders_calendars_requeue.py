"""One message per order, merchant message settings, requeue by time range.

- notify_policies: shop_name, default_region, hijri_dates, latin_digits.
- notify_credits: the credit events heard, grouped per order.
- notify_expiry_warned: expiry warnings given, per lot set and tier.
- ix_notify_deliveries_merchant_created: RequeueDeliveries by time range.

0002 creates tables.py as it is now, so on a new database these already exist:
every step here is if-not-exists.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from cashback_services.notify.adapters import tables as t

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

POLICY_COLUMNS = (
    ("shop_name", "varchar(40) NOT NULL DEFAULT ''"),
    ("default_region", "varchar(2) NOT NULL DEFAULT ''"),
    ("hijri_dates", "boolean NOT NULL DEFAULT false"),
    ("latin_digits", "boolean NOT NULL DEFAULT false"),
)


def upgrade() -> None:
    for name, ddl in POLICY_COLUMNS:
        op.execute(sa.text(f"ALTER TABLE notify_policies ADD COLUMN IF NOT EXISTS {name} {ddl}"))
    bind = op.get_bind()
    t.credits.create(bind, checkfirst=True)
    t.warned.create(bind, checkfirst=True)
    op.create_index("ix_notify_credits_group", "notify_credits", ["merchant_id", "customer_id", "grp", "kind"],
                    if_not_exists=True)
    op.create_index("ix_notify_credits_lot", "notify_credits", ["lot_id"], if_not_exists=True)
    op.create_index("ix_notify_deliveries_merchant_created", "notify_deliveries", ["merchant_id", "created_at"],
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_notify_deliveries_merchant_created", "notify_deliveries", if_exists=True)
    op.drop_table("notify_expiry_warned", if_exists=True)
    op.drop_table("notify_credits", if_exists=True)
    for name, _ in POLICY_COLUMNS:
        op.execute(sa.text(f"ALTER TABLE notify_policies DROP COLUMN IF EXISTS {name}"))
