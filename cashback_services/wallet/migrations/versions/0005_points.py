"""Points beside credit: the merchant's rate, and the record of each
conversion with the rate it used. Points live in the same ledger tables as
credit, in the unit "PTS" (lots, entries, balances); the database refuses a
conversion record whose two amounts are not exactly at its rate.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wallet_points_rates",
        sa.Column("merchant_id", sa.String(128), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("per_minor", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("points > 0 AND per_minor > 0", name="ck_points_rate_positive"),
    )
    op.create_table(
        "wallet_conversions",
        sa.Column("transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  primary_key=True),
        sa.Column("merchant_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("to_points", sa.Boolean, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credit", sa.BigInteger, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("rate_points", sa.BigInteger, nullable=False),
        sa.Column("rate_per_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("credit > 0 AND points > 0", name="ck_conversion_positive"),
        sa.CheckConstraint("credit::numeric * rate_points = points::numeric * rate_per_minor",
                           name="ck_conversion_exact"),
    )
    op.create_index("ix_wallet_conversions_customer", "wallet_conversions",
                    ["merchant_id", "customer_id", "created_at"])


def downgrade() -> None:
    op.drop_table("wallet_conversions")
    op.drop_table("wallet_points_rates")
