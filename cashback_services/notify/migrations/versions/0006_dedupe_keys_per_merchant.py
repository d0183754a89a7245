"""Delivery dedupe keys name the merchant: two merchants whose order and customer ids
happen to be equal each get their own message (before, the second was taken for a
duplicate of the first). Existing keys get the merchant in front, the form the
planner now writes, so nothing already planned is planned again.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE notify_deliveries SET dedupe_key = merchant_id || ':' || dedupe_key "
               "WHERE dedupe_key NOT LIKE merchant_id || ':%'")


def downgrade() -> None:
    op.execute("UPDATE notify_deliveries SET dedupe_key = substr(dedupe_key, length(merchant_id) + 2) "
               "WHERE dedupe_key LIKE merchant_id || ':%'")
