"""Two wallet and two notify processes against one PostgreSQL, clients spread
over both: no double spend, no duplicate SMS, exactly one scheduler leader, and
killing the leader moves the leadership to the other notify process."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from sqlalchemy import text

from cashback_kit.client import bearer
from cashback_kit.db import Database
from cashback_kit.procs import start_process
from cashback_services.wallet.auditor import audit
from tests.notify import fake_twilio as ft
from tests.reliability.figures import record
from tests.reliability.load import CheckoutLoad
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
CUSTOMERS = 60
LEADER_LINE = "this process is the scheduler leader"


async def test_two_wallets_and_two_notifies_behave_like_one(pg_url, tmp_path):
    async with ft.FakeTwilio() as twilio:
        rules_port = free_port()
        env = process_env(tmp_path, pg_url, WALLET_SWEEP_INTERVAL_SECONDS="0.3", CASHBACK_LOG_LEVEL="INFO",
                          RULES_ADDR=f"127.0.0.1:{rules_port}", RULES_TARGET=f"127.0.0.1:{rules_port}",
                          TWILIO_ACCOUNT_SID=ft.ACCOUNT_SID, TWILIO_AUTH_TOKEN=ft.AUTH_TOKEN,
                          TWILIO_FROM=ft.FROM_NUMBER, TWILIO_API_BASE_URL=twilio.base_url)
        procs = {"rules": await asyncio.to_thread(start_process, "rules", env)}
        wallets = [await asyncio.to_thread(start_process, "wallet", {**env, "WALLET_ADDR": "127.0.0.1:0"})
                   for _ in range(2)]
        notifies = [await asyncio.to_thread(start_process, "notify", {
            **env, "NOTIFY_ADDR": "127.0.0.1:0", "WALLET_TARGET": wallets[i].target}) for i in range(2)]
        try:
            md = bearer(TEST_KEYS["ops"])
            async with grpc.aio.insecure_channel(procs["rules"].target) as ch:
                await rules_pb2_grpc.RulesServiceStub(ch).CreateCampaign(rules_pb2.CreateCampaignRequest(
                    campaign=rules_pb2.Campaign(merchant_id="m1", name="10%", currency_code="SAR", percent_bps=1000,
                                                status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, timezone="UTC")), metadata=md)
            for i in range(CUSTOMERS):
                async with grpc.aio.insecure_channel(notifies[i % 2].target) as ch:
                    await notify_pb2_grpc.NotifyServiceStub(ch).UpsertContact(notify_pb2.UpsertContactRequest(
                        contact=notify_pb2.Contact(merchant_id="m1", customer_id=f"load-c{i}",
                                                   phone_e164=f"+96655{i:07d}", locale="ar-SA", timezone="Asia/Riyadh",
                                                   sms_opt_in=True)), metadata=md)
            out = await CheckoutLoad([w.target for w in wallets], CUSTOMERS).run(concurrency=12, budget_s=120)
            # Each customer: one "credit added" (pending_days 0: usable at once, so no "now available").
            for _ in range(300):
                if len(twilio.messages) >= CUSTOMERS:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)
            leaders = [n for n in notifies if any(LEADER_LINE in line for line in n.log_lines)]
            assert len(leaders) == 1, "exactly one notify process leads the scheduler"
            await asyncio.to_thread(leaders[0].kill9)
            other = notifies[1 - notifies.index(leaders[0])]
            for _ in range(200):
                if any(LEADER_LINE in line for line in other.log_lines):
                    break
                await asyncio.sleep(0.1)
            took_over = any(LEADER_LINE in line for line in other.log_lines)
        finally:
            for p in [*notifies, *wallets, procs["rules"]]:
                await asyncio.to_thread(p.terminate)
    db = Database(pg_url)
    try:
        async with db.read() as conn:
            violations = await audit(conn)
            sent = (await conn.execute(text("SELECT count(*) FROM notify_deliveries WHERE status='SENT'"))).scalar()
    finally:
        await db.dispose()
    per_number = Counter(m["To"] for m in twilio.messages)
    record("two-of-everything", operations=out.operations, sms=len(twilio.messages),
           duplicates=len(twilio.messages) - len({(m["To"], m["Body"]) for m in twilio.messages}),
           violations=len(violations), leader_moved=took_over)
    assert not violations, [str(v) for v in violations]
    assert len(out.awarded) == CUSTOMERS
    assert len(per_number) == CUSTOMERS and set(per_number.values()) == {1}, "no duplicate SMS"
    assert len({(m["To"], m["Body"]) for m in twilio.messages}) == CUSTOMERS
    assert sent == CUSTOMERS
    assert took_over, "the other notify process took over the scheduler"
