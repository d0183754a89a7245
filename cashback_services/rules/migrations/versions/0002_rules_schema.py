"""Rules schema: campaigns with immutable versions, customer history, usage.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "rules_merchants",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tier_policy", sa.Text, nullable=True),
    )
    op.create_table(
        "rules_campaigns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("merchant_id", S, nullable=False),
        sa.Column("campaign_id", S, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("budget_used", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("create_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("merchant_id", "campaign_id", name="uq_rules_campaigns_merchant_campaign"),
        sa.CheckConstraint("budget_used >= 0", name="ck_rules_campaigns_budget_used"),
    )
    op.create_index("ix_rules_campaigns_merchant_status", "rules_campaigns", ["merchant_id", "status", "id"])
    op.create_table(
        "rules_campaign_versions",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("campaign_id", S, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rules_customers",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("customer_id", S, primary_key=True),
        sa.Column("manual_tier", S, nullable=False, server_default=""),
        sa.Column("order_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("order_count >= 0", name="ck_rules_customers_order_count"),
    )
    op.create_table(
        "rules_customer_usage",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("campaign_id", S, primary_key=True),
        sa.Column("customer_id", S, primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("award_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("amount_minor >= 0 AND award_count >= 0", name="ck_rules_customer_usage"),
    )
    op.create_table(
        "rules_customer_day_usage",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("campaign_id", S, primary_key=True),
        sa.Column("customer_id", S, primary_key=True),
        sa.Column("local_day", sa.String(10), primary_key=True),
        sa.Column("award_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("award_count >= 0", name="ck_rules_customer_day_usage"),
    )
    op.create_table(
        "rules_orders",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("order_id", S, primary_key=True),
        sa.Column("customer_id", S, nullable=False),
        sa.Column("placed_at", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("merchandise_minor", sa.BigInteger, nullable=False),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("fully_refunded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("order_body", sa.LargeBinary, nullable=False),
        sa.Column("score_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.CheckConstraint("refunded_minor >= 0 AND refunded_minor <= merchandise_minor",
                           name="ck_rules_orders_refunded"),
    )
    op.create_index("ix_rules_orders_customer_placed", "rules_orders", ["merchant_id", "customer_id", "placed_at"])
    op.create_index("ix_rules_orders_placed", "rules_orders", ["merchant_id", "placed_at"])
    op.create_table(
        "rules_awards",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("order_id", S, primary_key=True),
        sa.Column("campaign_id", S, primary_key=True),
        sa.Column("campaign_version", sa.Integer, nullable=False),
        sa.Column("customer_id", S, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("reversed_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.CheckConstraint("reversed_minor >= 0 AND reversed_minor <= amount_minor", name="ck_rules_awards_reversed"),
    )
    op.create_table(
        "rules_events",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("event_id", S, primary_key=True),
        sa.Column("customer_id", S, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("score_body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rules_refunds",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("refund_id", S, primary_key=True),
        sa.Column("order_id", S, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("reversal_body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("rules_refunds", "rules_events", "rules_awards", "rules_orders", "rules_customer_day_usage",
                 "rules_customer_usage", "rules_customers", "rules_campaign_versions", "rules_campaigns",
                 "rules_merchants"):
        op.drop_table(name)
