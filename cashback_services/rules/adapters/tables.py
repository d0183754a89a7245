"""The rules schema as SQLAlchemy Core tables (migrations/versions/0002 creates it).

Instants are timestamptz (aware datetimes in and out; migration 0003 moved
them from integer microseconds).
Amounts are BIGINT minor units. Proto bodies (campaign versions, scores,
reversals, orders) are stored as bytes so a replay returns exactly what was sent
the first time."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text

from cashback_kit.audit import audit_table

metadata = MetaData()
Instant = DateTime(timezone=True)

# One row per merchant. `generation` is bumped in the same transaction as every
# campaign or tier-policy write, so each rules process can tell with one indexed
# read whether its in-memory index is stale.
merchants = Table(
    "rules_merchants", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0),
    Column("tier_policy", Text, nullable=True),
)

campaigns = Table(
    "rules_campaigns", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # creation order: "older campaign" wins ties
    Column("merchant_id", String(128), nullable=False),
    Column("campaign_id", String(128), nullable=False),
    Column("status", Integer, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    # Kept only while the current version has a budget (`budgeted`): the orders
    # it pays lock and update it. A campaign without one is never locked by
    # scoring; what it paid is summed from its awards (campaign_repo.paid).
    Column("budget_used", BigInteger, nullable=False, default=0),
    Column("budgeted", Boolean, nullable=False, default=False),
    # Paid before award rows told the whole story (migration 0004).
    Column("paid_before", BigInteger, nullable=False, default=0),
    Column("create_fingerprint", String(64), nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

campaign_versions = Table(
    "rules_campaign_versions", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("campaign_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", Instant, nullable=False),
)

customers = Table(
    "rules_customers", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("customer_id", String(128), primary_key=True),
    Column("manual_tier", String(128), nullable=False, default=""),
    # Scored orders not reversed in full: what min_prior_orders compares with.
    Column("order_count", BigInteger, nullable=False, default=0),
)

# RFM scores as last computed (migration 0006; written by adapters/rfm_repo.py).
customer_rfm = Table(
    "rules_customer_rfm", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("customer_id", String(128), primary_key=True),
    Column("segment", String(32), nullable=False),
)

customer_usage = Table(
    "rules_customer_usage", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("campaign_id", String(128), primary_key=True),
    Column("customer_id", String(128), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False, default=0),
    Column("award_count", BigInteger, nullable=False, default=0),
)

customer_day_usage = Table(
    "rules_customer_day_usage", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("campaign_id", String(128), primary_key=True),
    Column("customer_id", String(128), primary_key=True),
    Column("local_day", String(10), primary_key=True),
    Column("award_count", BigInteger, nullable=False, default=0),
)

orders = Table(
    "rules_orders", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("order_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("placed_at", Instant, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("merchandise_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, default=0),
    Column("fully_refunded", Boolean, nullable=False, default=False),
    Column("fingerprint", String(64), nullable=False),
    Column("order_body", LargeBinary, nullable=False),
    Column("score_body", LargeBinary, nullable=True),
    Column("created_at", Instant, nullable=False),
    # Entered by ImportOrders (migration 0005): history only, no score, no awards.
    Column("imported", Boolean, nullable=False, default=False),
)

awards = Table(
    "rules_awards", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("order_id", String(128), primary_key=True),
    Column("campaign_id", String(128), primary_key=True),
    Column("campaign_version", Integer, nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reversed_minor", BigInteger, nullable=False, default=0),
    Column("local_day", String(10), nullable=False),
)

event_awards = Table(
    "rules_event_awards", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("campaign_id", String(128), primary_key=True),
    Column("campaign_version", Integer, nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("local_day", String(10), nullable=False),
)

events = Table(
    "rules_events", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("score_body", LargeBinary, nullable=False),
    Column("created_at", Instant, nullable=False),
)

refunds = Table(
    "rules_refunds", metadata,
    Column("merchant_id", String(128), primary_key=True),
    Column("refund_id", String(128), primary_key=True),
    Column("order_id", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reversal_body", LargeBinary, nullable=False),
    Column("created_at", Instant, nullable=False),
)

# Who changed what (migration 0005): the kit's audit table, as every service keeps one.
audit = audit_table(metadata, "rules")
