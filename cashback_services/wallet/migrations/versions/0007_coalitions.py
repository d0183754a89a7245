"""Coalitions of partner brands: the coalition and its members (a merchant is in
at most one), partner redemptions (one hold per issuer, linked under one
redemption id), and the settlement rows that record what each issuer owes the
redeeming merchant. The money itself moves in lots, holds, entries and balances
like every other write; the settlement row names the issuer's and the
redeemer's ledger transactions that carry it (the auditor checks both).

Nothing here changes wallet_load or wallet_write.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id(name, *args, **kw):
    return sa.Column(name, sa.String(128), *args, **kw)


def upgrade() -> None:
    op.create_table(
        "wallet_coalitions",
        _id("coalition_id", primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _id("proposed_by", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("activated_at", TS),
    )
    op.create_table(
        "wallet_coalition_members",
        _id("coalition_id", sa.ForeignKey("wallet_coalitions.coalition_id"), primary_key=True),
        # One coalition per merchant (docs/coalitions.md): UNIQUE, so a race between two
        # proposals naming the same merchant leaves exactly one.
        _id("merchant_id", primary_key=True, unique=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("joined_at", TS),
    )
    op.create_table(
        "wallet_partner_redemptions",
        sa.Column("redemption_id", sa.String(64), primary_key=True),
        _id("coalition_id", sa.ForeignKey("wallet_coalitions.coalition_id"), nullable=False),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        _id("order_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_partner_redemption_amount"),
    )
    op.create_index("ix_wallet_partner_redemptions_order", "wallet_partner_redemptions",
                    ["merchant_id", "order_id"])
    op.create_table(
        "wallet_partner_parts",
        sa.Column("redemption_id", sa.String(64), sa.ForeignKey("wallet_partner_redemptions.redemption_id"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        _id("issuer_merchant_id", nullable=False),
        sa.Column("hold_id", sa.String(64), sa.ForeignKey("wallet_holds.hold_id"), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_partner_part_amount"),
    )
    op.create_table(
        "wallet_settlements",
        sa.Column("settlement_id", sa.String(64), primary_key=True),
        _id("coalition_id", sa.ForeignKey("wallet_coalitions.coalition_id"), nullable=False),
        sa.Column("redemption_id", sa.String(64), sa.ForeignKey("wallet_partner_redemptions.redemption_id"),
                  nullable=False),
        _id("issuer_merchant_id", nullable=False),
        _id("redeemer_merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        # Positive: a capture (the issuer owes the redeemer more); negative: a refund's reversal.
        sa.Column("amount", sa.BigInteger, nullable=False),
        _id("refund_id"),
        sa.Column("payable_transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  nullable=False, unique=True),
        sa.Column("receivable_transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount <> 0", name="ck_settlement_amount"),
        sa.CheckConstraint("issuer_merchant_id <> redeemer_merchant_id", name="ck_settlement_parties"),
    )
    op.create_index("ix_wallet_settlements_period", "wallet_settlements", ["coalition_id", "created_at"])


def downgrade() -> None:
    for table in ("wallet_settlements", "wallet_partner_parts", "wallet_partner_redemptions",
                  "wallet_coalition_members", "wallet_coalitions"):
        op.drop_table(table)
