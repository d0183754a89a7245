"""Imported orders: past orders entered by ImportOrders (issue 16).

They live in rules_orders beside the scored ones, so every count and sum of a
customer's history (order_count, tier spend) takes them in with no other
change; `imported` marks them (no score, no awards) for readers that care.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rules_orders", sa.Column("imported", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("rules_orders", "imported")
