"""The rewards catalogue (rewards bought with points, and the record of each
redemption), and the merchant's transfer policy (known receivers only).

Stock never goes below zero (a CHECK) and `redeemed_count` grows with each
redemption in the same statement that takes the stock down, so the auditor can
compare it with the redemption records.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id(name, **kw):
    return sa.Column(name, sa.String(128), **kw)


def upgrade() -> None:
    op.create_table(
        "wallet_rewards",
        _id("merchant_id", primary_key=True),
        _id("reward_id", primary_key=True),
        sa.Column("names", JSONB, nullable=False),  # locale -> name
        sa.Column("points_cost", sa.BigInteger, nullable=False),
        sa.Column("stock", sa.BigInteger),  # NULL: unlimited
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("redeemed_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("points_cost > 0", name="ck_reward_cost_positive"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_reward_stock_not_negative"),
        sa.CheckConstraint("redeemed_count >= 0", name="ck_reward_redeemed_count"),
    )
    op.create_table(
        "wallet_reward_redemptions",
        sa.Column("redemption_id", sa.String(64), primary_key=True),
        sa.Column(
            "transaction_id",
            sa.String(64),
            sa.ForeignKey("wallet_transactions.transaction_id"),
            nullable=False,
            unique=True,
        ),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        _id("reward_id", nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("points > 0", name="ck_reward_redemption_points"),
        sa.ForeignKeyConstraint(
            ["merchant_id", "reward_id"],
            ["wallet_rewards.merchant_id", "wallet_rewards.reward_id"],
            name="fk_reward_redemption_reward",
        ),
    )
    op.create_index(
        "ix_wallet_reward_redemptions_reward", "wallet_reward_redemptions", ["merchant_id", "reward_id", "created_at"]
    )
    op.create_table(
        "wallet_transfer_policies",
        _id("merchant_id", primary_key=True),
        sa.Column("require_known_receiver", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wallet_transfer_policies")
    op.drop_table("wallet_reward_redemptions")
    op.drop_table("wallet_rewards")
