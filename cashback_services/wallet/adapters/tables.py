"""The wallet's tables (SQLAlchemy Core), for reads and reports; writes go through
the functions of migration 0003. The migration 0002 creates the same tables.

Every table is keyed by (merchant_id, customer_id) where it can be, so the
schema can be distributed by customer (Citus) with no cross-customer write on
the hot path. Merchant-side accounts (cashback expense, breakage, redeemed,
adjustments) are kept per customer too: a sub-ledger, summed for reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from cashback_kit.audit import audit_table

# Every time is an aware timestamp (timestamptz), read back in UTC.
UtcDateTime = DateTime(timezone=True)
BigId = BigInteger

metadata = MetaData()


def _id(name: str, **kw: Any) -> Column[str]:
    return Column(name, String(128), **kw)


customers = Table(
    "wallet_customers",
    metadata,
    _id("merchant_id", primary_key=True),
    _id("customer_id", primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_order_at", UtcDateTime),
    Column("first_earned_at", UtcDateTime),
    Column("first_redeemed_at", UtcDateTime),
)

balances = Table(
    "wallet_balances",
    metadata,
    _id("merchant_id", primary_key=True),
    _id("customer_id", primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

transactions = Table(
    "wallet_transactions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", String(64), nullable=False, unique=True),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    _id("order_id"),
    Column("hold_id", String(64)),
    _id("refund_id"),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

entries = Table(
    "wallet_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", String(64), nullable=False),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("account", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
)

lots = Table(
    "wallet_lots",
    metadata,
    Column("lot_id", String(64), primary_key=True),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source", String(16), nullable=False),
    _id("order_id"),
    _id("campaign_id"),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("spent", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
    Column("reversed", BigInteger, nullable=False),
    Column("debited", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
)

holds = Table(
    "wallet_holds",
    metadata,
    Column("hold_id", String(64), primary_key=True),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    _id("order_id", nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("captured", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
)

hold_allocations = Table(
    "wallet_hold_allocations",
    metadata,
    Column("hold_id", String(64), primary_key=True),
    Column("lot_id", String(64), primary_key=True),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("seq", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("captured", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False),
)

# One row per AwardOrder (kind "order") or AwardEvent (kind "event").
awards = Table(
    "wallet_awards",
    metadata,
    _id("merchant_id", primary_key=True),
    Column("kind", String(8), primary_key=True),
    _id("source_id", primary_key=True),
    _id("customer_id", nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("score", LargeBinary, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("earned", BigInteger, nullable=False),
    Column("credited", BigInteger, nullable=False),
    Column("debt_repaid", BigInteger, nullable=False),
    Column("base", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("credit_returned", BigInteger, nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

refunds = Table(
    "wallet_refunds",
    metadata,
    _id("merchant_id", primary_key=True),
    _id("refund_id", primary_key=True),
    _id("order_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("refunded_amount", BigInteger, nullable=False),
    Column("credit_returned", BigInteger, nullable=False),
    Column("cashback_reversed", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Idempotency keys of AuthorizeRedemption and AdjustBalance, with the outcome:
# a result id, or the failure to replay.
idempotency = Table(
    "wallet_idempotency",
    metadata,
    _id("merchant_id", primary_key=True),
    Column("scope", String(16), primary_key=True),
    _id("key", primary_key=True),
    _id("customer_id", nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("result_id", String(64)),
    Column("error_code", String(32)),
    Column("error_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("error_reason", String(64)),  # ErrorInfo reason of a stored refusal (0006)
)

# The outbox. `position` is NULL until the sequencer gives the committed row
# its place in the stream (see events.py for why ids are not enough).
events = Table(
    "wallet_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("position", BigInteger, unique=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(16), nullable=False),
    _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    _id("order_id"),
    Column("lot_id", String(64)),
    Column("hold_id", String(64)),
    Column("transaction_id", String(64)),
    Column("available_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("lot_count", Integer),  # expired events: the lots one grouped expiry covers (0012)
)

# Who changed what (migration 0006): the kit's audit table, as every service keeps one.
audit = audit_table(metadata, "wallet")
