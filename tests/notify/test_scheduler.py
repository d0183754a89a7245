"""Exactly one notify process runs the scheduler (PostgreSQL advisory lock), the
other takes over when the leader goes; expiry warnings are checked again at send
time and nothing is sent for credit already spent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import update

from cashback_kit.db import Database
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.entrypoints.runtime import Leader
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.flows import expiry_scan
from cashback_services.notify.service_layer.service import NotifyService
from tests.notify.stack import eventually, notify_stack
from tests.support.servers import auth


@pytest.mark.postgres
async def test_exactly_one_process_leads_and_the_other_takes_over(pg_url):
    dbs = [Database(pg_url), Database(pg_url)]
    await dbs[0].migrate(MIGRATIONS, "notify_alembic_version")
    leaders = [Leader(NotifyService(db, None), pg_url) for db in dbs]
    tasks = [asyncio.create_task(leader.run()) for leader in leaders]
    try:
        await eventually(lambda: any(ldr.is_leader.is_set() for ldr in leaders))
        await asyncio.sleep(3)  # the other keeps trying meanwhile
        assert sum(ldr.is_leader.is_set() for ldr in leaders) == 1
        first = next(i for i, ldr in enumerate(leaders) if ldr.is_leader.is_set())
        tasks[first].cancel()
        await asyncio.gather(tasks[first], return_exceptions=True)
        await dbs[first].dispose()  # the leader's connection closes: its advisory lock goes with it
        await eventually(lambda: leaders[1 - first].is_leader.is_set(), within=15)
        assert leaders[1 - first].scheduler is not None
        assert leaders[1 - first].scheduler.get_job("expiry-scan") is not None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for db in dbs:
            await db.dispose()


def _ts(dt: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(dt)
    return out


async def test_an_expiry_warning_is_not_sent_when_the_credit_was_spent_meanwhile(pg_url):
    async with notify_stack(pg_url) as s:
        later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%H:%M")
        earlier = (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")
        # Quiet hours hold the warnings back, so the credit can be spent in between.
        await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", expiry_warning_days=[7, 1], quiet_hours_start=earlier, quiet_hours_end=later,
            notify_on_credit=False, notify_on_available=False)), metadata=auth("ops"))
        for cust, phone in (("spender", "+966503333333"), ("keeper", "+966504444444")):
            await s.contact(cust, phone, locale="en", zone="UTC")
            await s.w.AdjustBalance(wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id=cust, reason="goodwill", idempotency_key=f"adj-{cust}",
                amount=common_pb2.Money(currency_code="SAR", amount_minor=5000),
                expires_at=_ts(datetime.now(UTC) + timedelta(days=3))), metadata=auth("ops"))
        gateway = WalletGateway(s.notify.settings)
        try:
            created = await expiry_scan(s.notify.db, gateway, datetime.now(UTC))
            again = await expiry_scan(s.notify.db, gateway, datetime.now(UTC))
        finally:
            await gateway.close()
        hold = (await s.w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="spender", order_id="o-spend", idempotency_key="spend",
            amount=common_pb2.Money(currency_code="SAR", amount_minor=5000), hold_ttl=Duration(seconds=60)),
            metadata=auth("checkout"))).hold
        await s.w.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id),
                                    metadata=auth("checkout"))
        async with s.notify.db.write() as conn:  # the quiet hours end now
            await conn.execute(update(t.deliveries).values(next_attempt_at=datetime.now(UTC)))

        async def settled() -> dict[str, int]:
            resp = await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1"), metadata=auth("ops"))
            states = {d.customer_id: d.status for d in resp.deliveries}
            return states if N.DELIVERY_STATUS_SCHEDULED not in states.values() and \
                N.DELIVERY_STATUS_SENDING not in states.values() else {}

        await eventually(settled)
        states = await settled()
    assert (created, again) == (2, 0)
    assert states == {"spender": N.DELIVERY_STATUS_SUPPRESSED, "keeper": N.DELIVERY_STATUS_SENT}
    assert [m["To"] for m in s.twilio.messages] == ["+966504444444"]
    assert "expires on" in s.twilio.messages[0]["Body"]
