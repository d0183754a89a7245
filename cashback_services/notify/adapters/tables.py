"""Notify's tables (SQLAlchemy Core), on PostgreSQL: migration 0002 created them
as they were then, later migrations spell out each change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from cashback_kit.audit import audit_table

# Timestamps are timezone-aware (timestamptz), read back as aware datetimes.
TimestampTZ = DateTime(timezone=True)

metadata = MetaData()


def _id(name: str, **kw: Any) -> Column[str]:
    return Column(name, String(128), **kw)


contacts = Table(
    "notify_contacts", metadata,
    _id("merchant_id", primary_key=True), _id("customer_id", primary_key=True),
    Column("phone_e164", String(20), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    Column("locale", String(35), nullable=False), Column("timezone", String(64), nullable=False),
    Column("sms_opt_in", Boolean, nullable=False), Column("email_opt_in", Boolean, nullable=False),
    Column("updated_at", TimestampTZ, nullable=False),
)
templates = Table(
    "notify_templates", metadata,
    _id("merchant_id", primary_key=True), Column("kind", String(20), primary_key=True),
    Column("channel", String(8), primary_key=True), Column("locale", String(35), primary_key=True),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("updated_at", TimestampTZ, nullable=False),
)
policies = Table(
    "notify_policies", metadata,
    _id("merchant_id", primary_key=True),
    Column("expiry_warning_days", String(200), nullable=False),  # "7,1"
    Column("quiet_hours_start", String(5), nullable=False), Column("quiet_hours_end", String(5), nullable=False),
    Column("notify_on_credit", Boolean, nullable=False), Column("notify_on_available", Boolean, nullable=False),
    # Migration 0004: the shop's name in messages, the region for numbers written nationally,
    # the Hijri date beside the Gregorian one (Arabic), Latin digits instead of native ones.
    Column("shop_name", String(40), nullable=False, server_default=""),
    Column("default_region", String(2), nullable=False, server_default=""),
    Column("hijri_dates", Boolean, nullable=False, server_default=false()),
    Column("latin_digits", Boolean, nullable=False, server_default=false()),
)
# Numbers that replied STOP (Twilio 21610): never texted again by any merchant's sender number.
optouts = Table(
    "notify_optouts", metadata,
    Column("phone_e164", String(20), primary_key=True), _id("merchant_id", nullable=False),
    Column("created_at", TimestampTZ, nullable=False),
)
# Migration 0005: a campaign id is the merchant's own (two merchants may use the same one).
reminders = Table(
    "notify_reminders", metadata,
    _id("merchant_id", primary_key=True), Column("campaign_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False), Column("cron", String(100), nullable=False),
    Column("timezone", String(64), nullable=False), Column("min_currency", String(3), nullable=False),
    Column("min_amount", BigInteger, nullable=False), Column("inactive_days", Integer, nullable=False),
    Column("channels", String(40), nullable=False), Column("active", Boolean, nullable=False),
    Column("fingerprint", String(64), nullable=False), Column("created_at", TimestampTZ, nullable=False),
)
runs = Table(
    "notify_runs", metadata,
    Column("run_id", String(64), primary_key=True), Column("campaign_id", String(64), nullable=False),
    _id("merchant_id", nullable=False), Column("local_date", String(10), nullable=False),
    Column("customers_matched", Integer, nullable=False), Column("deliveries_created", Integer, nullable=False),
    Column("started_at", TimestampTZ, nullable=False),
)
cursor = Table(
    "notify_cursor", metadata,
    Column("name", String(32), primary_key=True), Column("position", BigInteger, nullable=False),
    Column("updated_at", TimestampTZ, nullable=False),
)
inbox = Table(
    "notify_inbox", metadata,
    Column("event_id", String(64), primary_key=True), Column("position", BigInteger, nullable=False),
    Column("received_at", TimestampTZ, nullable=False),
)
deliveries = Table(
    "notify_deliveries", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", String(64), nullable=False, unique=True),
    # One message per (order or event or lot set or campaign run, kind, channel, customer).
    Column("dedupe_key", String(400), nullable=False, unique=True),
    _id("merchant_id", nullable=False), _id("customer_id", nullable=False),
    Column("kind", String(20), nullable=False), Column("channel", String(8), nullable=False),
    Column("status", String(12), nullable=False), Column("to_addr", String(320), nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("encoding", String(8), nullable=False), Column("segments", Integer, nullable=False),
    Column("attempts", Integer, nullable=False), Column("scheduled_for", TimestampTZ, nullable=False),
    Column("next_attempt_at", TimestampTZ, nullable=False), Column("lease_until", TimestampTZ),
    Column("sent_at", TimestampTZ), Column("provider_message_id", String(64), nullable=False),
    Column("error", Text, nullable=False),
    # Expiry warnings: the credit warned about, re-checked at send time.
    Column("check_currency", String(3)), Column("check_expires_at", TimestampTZ),
    Column("created_at", TimestampTZ, nullable=False),
    # Migration 0009: the promotion a delivery belongs to (ListPromotions counts them).
    Column("promotion_id", String(64)),
)
# What senders claim (migration 0003): due SCHEDULED rows and expired leases, each scanned in
# index order so a claim stops after LIMIT rows instead of sorting the backlog. Partial, so
# finished deliveries are in neither.
Index("ix_notify_deliveries_scheduled", deliveries.c.next_attempt_at, deliveries.c.id,
      postgresql_where=deliveries.c.status == "SCHEDULED")
Index("ix_notify_deliveries_leased", deliveries.c.lease_until, deliveries.c.id,
      postgresql_where=deliveries.c.status == "SENDING")
Index("ix_notify_deliveries_customer", deliveries.c.merchant_id, deliveries.c.customer_id, deliveries.c.id)
# RequeueDeliveries by time range (migration 0004): a merchant's deliveries by creation time.
Index("ix_notify_deliveries_merchant_created", deliveries.c.merchant_id, deliveries.c.created_at)
# Credit events heard from the wallet (migration 0004), so all of an order's credit goes out
# as one message, and "now available" is skipped for credit that was usable at once.
credits = Table(
    "notify_credits", metadata,
    Column("event_id", String(64), primary_key=True), _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False), Column("kind", String(20), nullable=False),
    Column("grp", String(200), nullable=False),  # order:<id> or event:<id>
    Column("lot_id", String(64), nullable=False), Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False), Column("available_at", TimestampTZ),
    Column("expires_at", TimestampTZ), Column("occurred_at", TimestampTZ),
    Column("received_at", TimestampTZ, nullable=False),
)
Index("ix_notify_credits_group", credits.c.merchant_id, credits.c.customer_id, credits.c.grp, credits.c.kind)
Index("ix_notify_credits_lot", credits.c.lot_id)
# Expiry warnings already given, per lot and warning tier (migration 0004): a customer gets at
# most one warning a day, listing all that is newly due a warning.
warned = Table(
    "notify_expiry_warned", metadata,
    _id("merchant_id", primary_key=True), Column("lot_key", String(200), primary_key=True),
    Column("days", Integer, primary_key=True), Column("warned_at", TimestampTZ, nullable=False),
)
# Wallet events that could not be processed (migration 0005): parked with their error so the
# stream follower moves on; ops list and retry them (ListParkedEvents, RetryParkedEvents).
parked = Table(
    "notify_parked_events", metadata,
    Column("event_id", String(64), primary_key=True), _id("merchant_id", nullable=False),
    _id("customer_id", nullable=False), Column("position", BigInteger, nullable=False),
    Column("payload", JSON, nullable=False),  # the credit event's fields, to process it again
    Column("error", Text, nullable=False), Column("attempts", Integer, nullable=False),
    Column("parked_at", TimestampTZ, nullable=False), Column("last_attempt_at", TimestampTZ, nullable=False),
)
Index("ix_notify_parked_merchant", parked.c.merchant_id, parked.c.parked_at)
# Promotions (migration 0009): one-off or scheduled promotional messages to an audience from rules.
promotions = Table(
    "notify_promotions", metadata,
    _id("merchant_id", primary_key=True), Column("promotion_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False), Column("audience", JSON, nullable=False),
    Column("channels", String(40), nullable=False), Column("texts", JSON, nullable=False),
    Column("send_at", TimestampTZ, nullable=False), Column("status", String(12), nullable=False),
    Column("matched", BigInteger, nullable=False, server_default="0"),
    Column("no_contact", BigInteger, nullable=False, server_default="0"),
    Column("fingerprint", String(64), nullable=False), Column("created_at", TimestampTZ, nullable=False),
    Column("started_at", TimestampTZ), Column("finished_at", TimestampTZ),
    CheckConstraint("status IN ('SCHEDULED', 'SENDING', 'SENT', 'CANCELLED')", name="ck_notify_promotions_status"),
)
Index("ix_notify_promotions_merchant_created", promotions.c.merchant_id, promotions.c.created_at)
Index("ix_notify_promotions_open", promotions.c.send_at, postgresql_where=promotions.c.status.in_(("SCHEDULED",
                                                                                                  "SENDING")))
Index("ix_notify_deliveries_promotion", deliveries.c.merchant_id, deliveries.c.promotion_id, deliveries.c.status,
      postgresql_where=deliveries.c.promotion_id.isnot(None))
# Who changed what (migration 0005): the kit's audit table, as every service keeps one.
audit = audit_table(metadata, "notify")
