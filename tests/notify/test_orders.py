"""Few messages: all of an order's credit in one "credited" message, one "now
available" when it becomes spendable later, none when it was spendable at once;
a late part of the order joins the message while it still waits; at most one
expiry warning a day per customer, each warning tier once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.domain.events import CreditEvent, ExpiringCredit
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.flows import ingest

NOW = datetime.now(UTC)


async def _db(url: str) -> Database:
    db = Database(url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    async with db.write() as conn:
        await conn.execute(insert(t.contacts).values(
            merchant_id="m1", customer_id="c1", phone_e164="+989121234567", email="", locale="fa-IR",
            timezone="Asia/Tehran", sms_opt_in=True, email_opt_in=False, updated_at=NOW))
    return db


def _credit(n: int, kind: str, minor: int, pending_days: int, order: str = "o-1", merchant: str = "m1") -> CreditEvent:
    return CreditEvent(f"ev-{kind}-{n}", kind, merchant, "c1", Money("IRR", minor), order_id=order, lot_id=f"lot-{n}",
                       available_at=NOW + timedelta(days=pending_days), occurred_at=NOW)


async def _deliveries(db: Database) -> list[dict]:
    async with db.read() as conn:
        rows = await conn.execute(select(t.deliveries).order_by(t.deliveries.c.id))
        return [dict(r) for r in rows.mappings()]


async def test_an_orders_awards_make_one_credited_and_later_one_available_message(pg_url):
    db = await _db(pg_url)
    cursor = 0
    for kind in ("credited", "available"):
        for n, minor in ((1, 1_000_000), (2, 500_000)):
            cursor += 1
            await ingest(db, f"ev-{kind}-{n}", cursor, _credit(n, kind, minor, 14), NOW)
    rows = await _deliveries(db)
    await db.dispose()
    assert [(r["kind"], r["dedupe_key"]) for r in rows] == [
        ("credited", "m1:order:o-1:credited:sms:c1"), ("available", "m1:order:o-1:available:sms:c1")]
    assert all("۱۵۰٬۰۰۰ تومان" in r["body"] for r in rows)  # both awards: 1,500,000 rials
    assert all(r["scheduled_for"] >= NOW + timedelta(seconds=3) for r in rows)  # waiting for the rest


async def test_two_merchants_with_the_same_order_and_customer_ids_each_send_their_message(pg_url):
    db = await _db(pg_url)
    async with db.write() as conn:
        await conn.execute(insert(t.contacts).values(
            merchant_id="m2", customer_id="c1", phone_e164="+989121234568", email="", locale="fa-IR",
            timezone="Asia/Tehran", sms_opt_in=True, email_opt_in=False, updated_at=NOW))
    await ingest(db, "ev-credited-1", 1, _credit(1, "credited", 1_000_000, 0), NOW)
    await ingest(db, "ev-credited-2", 2, _credit(2, "credited", 2_000_000, 0, merchant="m2"), NOW)
    rows = await _deliveries(db)
    await db.dispose()
    assert sorted((r["merchant_id"], r["kind"]) for r in rows) == [("m1", "credited"), ("m2", "credited")]


async def test_credit_spendable_at_once_gets_no_now_available_message(pg_url):
    db = await _db(pg_url)
    await ingest(db, "ev-credited-1", 1, _credit(1, "credited", 1_000_000, 0), NOW)
    await ingest(db, "ev-available-1", 2, _credit(1, "available", 1_000_000, 0), NOW)
    rows = await _deliveries(db)
    await db.dispose()
    assert [r["kind"] for r in rows] == ["credited"] and "همین حالا" in rows[0]["body"]


async def test_a_part_arriving_after_the_message_went_out_does_not_change_or_resend_it(pg_url):
    db = await _db(pg_url)
    await ingest(db, "ev-credited-1", 1, _credit(1, "credited", 1_000_000, 14), NOW)
    async with db.write() as conn:
        await conn.execute(t.deliveries.update().values(status="SENT"))
    await ingest(db, "ev-credited-2", 2, _credit(2, "credited", 500_000, 14), NOW)
    rows = await _deliveries(db)
    await db.dispose()
    assert len(rows) == 1 and "۱۰۰٬۰۰۰ تومان" in rows[0]["body"] and rows[0]["status"] == "SENT"


class Expiring:
    """The wallet's ListExpiringCredits answering what the test sets (the scan is what is tested)."""

    def __init__(self) -> None:
        self.credits: list = []

    def expiring(self, merchant_id, after, before):
        async def page():
            for c in self.credits:
                yield c

        return page()


def _expiring(lots: list[str], expires: datetime, minor: int = 50_000) -> ExpiringCredit:
    return ExpiringCredit("c1", Money("IRR", minor), expires, tuple(lots))


async def test_a_customer_gets_at_most_one_expiry_warning_a_day_and_each_tier_once(pg_url):
    from cashback_services.notify.service_layer.flows import expiry_scan

    db = await _db(pg_url)
    morning = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 08:30 in Tehran
    expires = morning + timedelta(days=5)
    wallet = Expiring()
    wallet.credits = [_expiring(["lot-a"], expires)]
    first = await expiry_scan(db, wallet, morning)  # type: ignore[arg-type]
    async with db.write() as conn:
        await conn.execute(t.deliveries.update().values(status="SENT"))
    again = await expiry_scan(db, wallet, morning + timedelta(hours=4))  # type: ignore[arg-type]
    wallet.credits = [_expiring(["lot-a", "lot-b"], expires, 80_000)]  # more credit joins the same day
    same_day = await expiry_scan(db, wallet, morning + timedelta(hours=6))  # type: ignore[arg-type]
    last_day = await expiry_scan(db, wallet, expires - timedelta(hours=12))  # type: ignore[arg-type]
    rows = await _deliveries(db)
    await db.dispose()
    assert (first, again, same_day, last_day) == (1, 0, 0, 1)
    assert [r["dedupe_key"] for r in rows] == ["m1:expiry:2026-12-01:expiry_warning:sms:c1",
                                               "m1:expiry:2026-12-05:expiry_warning:sms:c1"]
