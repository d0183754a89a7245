"""The wallet ledger: customers, balances, transactions, entries, lots, holds,
awards, refunds, idempotency keys and the event outbox.

The database refuses what must never happen: negative balances or lot
remainders (CHECKs), a lot whose counters do not add up to its amount (CHECK),
duplicate idempotency keys (primary keys / UNIQUE), an unbalanced transaction
(deferred constraint trigger) and any UPDATE/DELETE of an entry (entries are
append-only).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger()


def _id(name, **kw):
    return sa.Column(name, sa.String(128), **kw)


def upgrade() -> None:
    op.create_table(
        "wallet_customers",
        _id("merchant_id", primary_key=True),
        _id("customer_id", primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_order_at", TS),
        sa.Column("first_earned_at", TS),
        sa.Column("first_redeemed_at", TS),
    )
    op.create_index("ix_wallet_customers_last_order", "wallet_customers", ["merchant_id", "last_order_at"])
    op.create_table(
        "wallet_balances",
        _id("merchant_id", primary_key=True),
        _id("customer_id", primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("pending", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("debt", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("available >= 0", name="ck_balance_available"),
        sa.CheckConstraint("pending >= 0", name="ck_balance_pending"),
        sa.CheckConstraint("held >= 0", name="ck_balance_held"),
        sa.CheckConstraint("debt >= 0", name="ck_balance_debt"),
    )
    op.create_index("ix_wallet_balances_available", "wallet_balances", ["merchant_id", "currency", "available"])
    op.create_table(
        "wallet_transactions",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.String(64), nullable=False, unique=True),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        _id("order_id"),
        sa.Column("hold_id", sa.String(64)),
        _id("refund_id"),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_wallet_tx_customer", "wallet_transactions", ["merchant_id", "customer_id", "id"])
    op.create_index("ix_wallet_tx_merchant_time", "wallet_transactions", ["merchant_id", "created_at"])
    op.create_table(
        "wallet_entries",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.String(64), sa.ForeignKey("wallet_transactions.transaction_id"),
                  nullable=False),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_wallet_entries_tx", "wallet_entries", ["transaction_id"])
    op.create_index("ix_wallet_entries_account", "wallet_entries",
                    ["merchant_id", "customer_id", "account", "currency"])
    op.create_table(
        "wallet_lots",
        sa.Column("lot_id", sa.String(64), primary_key=True),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        _id("order_id"),
        _id("campaign_id"),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("expired", sa.BigInteger, nullable=False),
        sa.Column("reversed", sa.BigInteger, nullable=False),
        sa.Column("debited", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_lot_amount"),
        sa.CheckConstraint("remaining >= 0", name="ck_lot_remaining"),
        sa.CheckConstraint("held >= 0 AND spent >= 0 AND expired >= 0 AND reversed >= 0 AND debited >= 0",
                           name="ck_lot_counters"),
        sa.CheckConstraint("amount = remaining + held + spent + expired + reversed + debited",
                           name="ck_lot_conserved"),
        sa.CheckConstraint("status IN ('pending', 'available', 'expired')", name="ck_lot_status"),
    )
    op.create_index("ix_wallet_lots_customer", "wallet_lots", ["merchant_id", "customer_id", "status"])
    op.create_index("ix_wallet_lots_order", "wallet_lots", ["merchant_id", "customer_id", "order_id"])
    op.create_index("ix_wallet_lots_due_available", "wallet_lots", ["status", "available_at"])
    op.create_index("ix_wallet_lots_due_expiry", "wallet_lots", ["status", "expires_at"])
    op.create_table(
        "wallet_holds",
        sa.Column("hold_id", sa.String(64), primary_key=True),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        _id("order_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS),
        sa.CheckConstraint("amount > 0 AND captured >= 0 AND captured <= amount", name="ck_hold_amounts"),
        sa.CheckConstraint("status IN ('active', 'captured', 'voided', 'expired')", name="ck_hold_status"),
    )
    op.create_index("ix_wallet_holds_due", "wallet_holds", ["status", "expires_at"])
    op.create_index("ix_wallet_holds_order", "wallet_holds", ["merchant_id", "customer_id", "order_id"])
    op.create_table(
        "wallet_hold_allocations",
        sa.Column("hold_id", sa.String(64), sa.ForeignKey("wallet_holds.hold_id"), primary_key=True),
        sa.Column("lot_id", sa.String(64), sa.ForeignKey("wallet_lots.lot_id"), primary_key=True),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("returned", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount > 0 AND captured >= 0 AND captured <= amount", name="ck_alloc_amounts"),
        sa.CheckConstraint("returned >= 0 AND returned <= captured", name="ck_alloc_returned"),
    )
    op.create_table(
        "wallet_awards",
        _id("merchant_id", primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        _id("source_id", primary_key=True),
        _id("customer_id", nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("score", sa.LargeBinary, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("earned", sa.BigInteger, nullable=False),
        sa.Column("credited", sa.BigInteger, nullable=False),
        sa.Column("debt_repaid", sa.BigInteger, nullable=False),
        sa.Column("base", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("credit_returned", sa.BigInteger, nullable=False),
        sa.Column("placed_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("refunded >= 0 AND refunded <= base", name="ck_award_refunded"),
    )
    op.create_index("ix_wallet_awards_customer", "wallet_awards", ["merchant_id", "customer_id", "placed_at"])
    op.create_table(
        "wallet_refunds",
        _id("merchant_id", primary_key=True),
        _id("refund_id", primary_key=True),
        _id("order_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger, nullable=False),
        sa.Column("credit_returned", sa.BigInteger, nullable=False),
        sa.Column("cashback_reversed", sa.BigInteger, nullable=False),
        sa.Column("debt", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "wallet_idempotency",
        _id("merchant_id", primary_key=True),
        sa.Column("scope", sa.String(16), primary_key=True),
        _id("key", primary_key=True),
        _id("customer_id", nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result_id", sa.String(64)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "wallet_events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("position", sa.BigInteger, unique=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(16), nullable=False),
        _id("merchant_id", nullable=False),
        _id("customer_id", nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        _id("order_id"),
        sa.Column("lot_id", sa.String(64)),
        sa.Column("hold_id", sa.String(64)),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("available_at", TS),
        sa.Column("expires_at", TS),
        sa.Column("occurred_at", TS, nullable=False),
    )
    op.create_index("ix_wallet_events_merchant_position", "wallet_events", ["merchant_id", "position"])

    # The sequencer looks for committed rows without a position.
    op.execute("CREATE INDEX ix_wallet_events_unsequenced ON wallet_events (id) WHERE position IS NULL")
    op.execute(
        """
        CREATE FUNCTION wallet_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE unbalanced record;
        BEGIN
          SELECT currency, sum(amount) AS total INTO unbalanced
            FROM wallet_entries WHERE transaction_id = NEW.transaction_id
            GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced in %: %',
              NEW.transaction_id, unbalanced.currency, unbalanced.total
              USING ERRCODE = 'check_violation';
          END IF;
          RETURN NULL;
        END $$;
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER wallet_entries_balanced
          AFTER INSERT ON wallet_entries DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION wallet_entries_balanced();
        """
    )
    op.execute(
        """
        CREATE FUNCTION wallet_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'wallet_entries is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    op.execute(
        """
        CREATE TRIGGER wallet_entries_append_only BEFORE UPDATE OR DELETE ON wallet_entries
          FOR EACH ROW EXECUTE FUNCTION wallet_entries_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS wallet_entries_append_only ON wallet_entries")
    op.execute("DROP TRIGGER IF EXISTS wallet_entries_balanced ON wallet_entries")
    op.execute("DROP FUNCTION IF EXISTS wallet_entries_append_only()")
    op.execute("DROP FUNCTION IF EXISTS wallet_entries_balanced()")
    for table in (
        "wallet_events", "wallet_idempotency", "wallet_refunds", "wallet_awards", "wallet_hold_allocations",
        "wallet_holds", "wallet_lots", "wallet_entries", "wallet_transactions", "wallet_balances",
        "wallet_customers",
    ):
        op.drop_table(table)
