"""Transfers between customers: the transfer row, the durable record of which
two ledger transactions (the sender's TRANSFER_OUT, the receiver's
TRANSFER_IN) make one transfer. The money itself moves in lots, entries and
balances like every other write; the auditor checks through this table that
each transfer's legs clear the in-flight account to zero.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _id(name, **kw):
    return sa.Column(name, sa.String(128), **kw)


def upgrade() -> None:
    op.create_table(
        "wallet_transfers",
        sa.Column("transfer_id", sa.String(64), primary_key=True),
        _id("merchant_id", nullable=False),
        _id("from_customer_id", nullable=False),
        _id("to_customer_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        # [{"amount": n, "expires_at": iso | null}], earliest expiry first.
        sa.Column("parts", JSONB, nullable=False),
        sa.Column("debit_transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  nullable=False, unique=True),
        sa.Column("credit_transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_transfer_amount"),
        sa.CheckConstraint("from_customer_id <> to_customer_id", name="ck_transfer_parties"),
    )
    op.create_index("ix_wallet_transfers_from", "wallet_transfers", ["merchant_id", "from_customer_id", "created_at"])
    op.create_index("ix_wallet_transfers_to", "wallet_transfers", ["merchant_id", "to_customer_id", "created_at"])


def downgrade() -> None:
    op.drop_table("wallet_transfers")
