"""RFM segments (issue 16): each merchant's customers with their scores and
segment as last computed, and per merchant when that was and whether an import
has made it stale.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "rules_customer_rfm",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("customer_id", S, primary_key=True),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders", sa.BigInteger, nullable=False),
        sa.Column("spend_minor", sa.BigInteger, nullable=False),
        sa.Column("recency", sa.SmallInteger, nullable=False),
        sa.Column("frequency", sa.SmallInteger, nullable=False),
        sa.Column("monetary", sa.SmallInteger, nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.CheckConstraint("recency BETWEEN 1 AND 5 AND frequency BETWEEN 1 AND 5 AND monetary BETWEEN 1 AND 5",
                           name="ck_rules_customer_rfm_scores"),
    )
    op.create_index("ix_rules_customer_rfm_segment", "rules_customer_rfm", ["merchant_id", "segment"],
                    postgresql_include=["spend_minor"])
    op.create_table(
        "rules_rfm_runs",
        sa.Column("merchant_id", S, primary_key=True),
        # Bumped by every import; computed_seq: the value the last computation started from.
        sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("computed_seq", sa.BigInteger, nullable=False, server_default="0"),
        # The last import: a long import (many calls) is recomputed once it pauses, not after every call.
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_days", sa.Integer, nullable=False, server_default="365"),
        sa.Column("currency", sa.String(3), nullable=False, server_default=""),
    )
    # Merchants with orders already are stale: their first scores come on the first run.
    op.execute("INSERT INTO rules_rfm_runs (merchant_id, seq) SELECT DISTINCT merchant_id, 1 FROM rules_orders")


def downgrade() -> None:
    op.drop_table("rules_rfm_runs")
    op.drop_index("ix_rules_customer_rfm_segment", "rules_customer_rfm")
    op.drop_table("rules_customer_rfm")
