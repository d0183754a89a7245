"""Database outage: PostgreSQL stops for a while during a checkout load. The
services answer UNAVAILABLE while it is down (never INTERNAL or UNKNOWN), recover
by themselves once it is back, and the auditor is clean. CASHBACK_SOAK_OUTAGE
sets how long it is down (make soak: 10 s)."""

from __future__ import annotations

import asyncio
import os
import time

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer
from cashback_kit.db import Database
from cashback_services.wallet.auditor import audit
from tests.reliability.figures import record
from tests.reliability.load import CheckoutLoad
from tests.reliability.test_crash import Stack
from tests.support.keys import TEST_KEYS

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
OUTAGE_S = float(os.environ.get("CASHBACK_SOAK_OUTAGE", "4"))


async def test_a_database_outage_answers_unavailable_and_recovers_by_itself(pg_cluster, pg_url, tmp_path):
    stack = Stack(pg_url, tmp_path)
    for s in ("rules", "wallet", "notify"):
        await stack.start(s)
    seen: dict[str, int] = {}
    try:
        async with grpc.aio.insecure_channel(stack.procs["rules"].target) as ch:
            await rules_pb2_grpc.RulesServiceStub(ch).CreateCampaign(rules_pb2.CreateCampaignRequest(
                campaign=rules_pb2.Campaign(merchant_id="m1", name="10%", currency_code="SAR", percent_bps=1000,
                                            status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, timezone="UTC")),
                metadata=bearer(TEST_KEYS["ops"]))
        load = CheckoutLoad(stack.procs["wallet"].target, 80)
        running = asyncio.create_task(load.run(concurrency=8, budget_s=120))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(pg_cluster.stop, "fast")
        down_since = time.monotonic()
        async with grpc.aio.insecure_channel(stack.procs["wallet"].target) as ch:
            stub = wallet_pb2_grpc.WalletServiceStub(ch)
            while time.monotonic() - down_since < OUTAGE_S:
                try:
                    await stub.GetBalance(wallet_pb2.GetBalanceRequest(
                        merchant_id="m1", customer_id="load-c1", currency_code="SAR"),
                        metadata=bearer(TEST_KEYS["checkout"]), timeout=3)
                    seen["OK"] = seen.get("OK", 0) + 1
                except grpc.aio.AioRpcError as exc:
                    seen[exc.code().name] = seen.get(exc.code().name, 0) + 1
                await asyncio.sleep(0.2)
            await asyncio.to_thread(pg_cluster.start)
            back_at = time.monotonic()
            recovered = None
            while time.monotonic() - back_at < 30:
                try:
                    await stub.GetBalance(wallet_pb2.GetBalanceRequest(
                        merchant_id="m1", customer_id="load-c1", currency_code="SAR"),
                        metadata=bearer(TEST_KEYS["checkout"]), timeout=3)
                    recovered = time.monotonic() - back_at
                    break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.2)
        out = await running
    finally:
        await stack.stop()
    db = Database(pg_url)
    try:
        async with db.read() as conn:
            violations = await audit(conn)
    finally:
        await db.dispose()
    record("outage", operations=out.operations, outage_s=OUTAGE_S, recovered_s=-1.0 if recovered is None else recovered,
           violations=len(violations), answers_while_down=seen, codes=dict(out.codes))
    print(f"\noutage: {OUTAGE_S:.0f} s down, answers while down {seen}, recovered in {recovered} s, "
          f"load codes {dict(out.codes)}")
    assert "UNAVAILABLE" in seen and set(seen) <= {"UNAVAILABLE", "OK"}, seen
    assert recovered is not None and recovered < 10
    assert "INTERNAL" not in out.codes and "UNKNOWN" not in out.codes, out.codes
    assert len(out.awarded) == 80
    assert not violations, [str(v) for v in violations]
