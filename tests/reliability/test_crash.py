"""Crash: a checkout load over many customers on PostgreSQL while wallet, rules
and notify are killed with SIGKILL and restarted, several times each. Afterwards
the auditor is clean, every acknowledged call is in the ledger exactly once,
and retried calls had one effect. CASHBACK_SOAK_CUSTOMERS / CASHBACK_SOAK_KILLS
make it longer (make soak)."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from sqlalchemy import text

from cashback_kit.client import bearer
from cashback_kit.db import Database
from cashback_kit.procs import ServiceProcess, start_process
from cashback_services.wallet.auditor import audit
from tests.reliability.figures import record
from tests.reliability.load import CheckoutLoad
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
CUSTOMERS = int(os.environ.get("CASHBACK_SOAK_CUSTOMERS", "600"))
ROUNDS = int(os.environ.get("CASHBACK_SOAK_KILLS", "2"))


class Stack:
    def __init__(self, pg_url: str, root) -> None:
        self.ports = {s: free_port() for s in ("rules", "wallet", "notify")}
        self.env = process_env(root, pg_url, WALLET_SWEEP_INTERVAL_SECONDS="0.5",
                               CASHBACK_LOG_LEVEL="WARNING",
                               RULES_TARGET=f"127.0.0.1:{self.ports['rules']}",
                               WALLET_TARGET=f"127.0.0.1:{self.ports['wallet']}",
                               **{f"{s.upper()}_ADDR": f"127.0.0.1:{p}" for s, p in
                                  {"rules": 0, "wallet": 0, "notify": 0}.items()})
        for s, p in self.ports.items():
            self.env[f"{s.upper()}_ADDR"] = f"127.0.0.1:{p}"
        self.procs: dict[str, ServiceProcess] = {}
        self.kills = 0

    async def start(self, service: str) -> None:
        self.procs[service] = await asyncio.to_thread(start_process, service, self.env)

    async def kill_and_restart(self, service: str) -> None:
        await asyncio.to_thread(self.procs[service].kill9)
        self.kills += 1
        await asyncio.sleep(0.3)
        await self.start(service)

    async def stop(self) -> None:
        for p in self.procs.values():
            await asyncio.to_thread(p.terminate)


async def test_kill_9_of_every_service_during_checkout_load_loses_nothing(pg_url, tmp_path):
    stack = Stack(pg_url, tmp_path)
    for s in ("rules", "wallet", "notify"):
        await stack.start(s)
    try:
        async with grpc.aio.insecure_channel(stack.procs["rules"].target) as ch:
            await rules_pb2_grpc.RulesServiceStub(ch).CreateCampaign(rules_pb2.CreateCampaignRequest(
                campaign=rules_pb2.Campaign(merchant_id="m1", name="10%", currency_code="SAR", percent_bps=1000,
                                            status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, timezone="UTC")),
                metadata=bearer(TEST_KEYS["ops"]))
        load = CheckoutLoad(stack.procs["wallet"].target, CUSTOMERS)
        running = asyncio.create_task(load.run(concurrency=16, budget_s=240))

        async def killer() -> None:
            for _ in range(ROUNDS):
                for service in ("wallet", "rules", "notify"):
                    await asyncio.sleep(0.4)
                    if running.done():
                        return
                    await stack.kill_and_restart(service)

        await asyncio.gather(killer(), running)
        out = running.result()
    finally:
        await stack.stop()

    db = Database(pg_url)
    try:
        async with db.read() as conn:
            violations = await audit(conn)
            awards = dict((await conn.execute(text(
                "SELECT source_id, count(*) FROM wallet_awards WHERE kind='order' GROUP BY source_id"))).all())
            lots = dict((await conn.execute(text(
                "SELECT order_id, count(*) FROM wallet_lots WHERE source='order' GROUP BY order_id"))).all())
            holds = dict((await conn.execute(text(
                "SELECT hold_id, status FROM wallet_holds"))).all())
            idem = (await conn.execute(text(
                "SELECT key, count(*) FROM wallet_idempotency GROUP BY key HAVING count(*) > 1"))).all()
            refunds = {r[0] for r in (await conn.execute(text("SELECT refund_id FROM wallet_refunds"))).all()}
            stale = (await conn.execute(text(
                "SELECT count(*) FROM wallet_holds WHERE status='active' AND expires_at < now()"))).scalar()
    finally:
        await db.dispose()
    record("crash", operations=out.operations, retries=out.retries, kills=stack.kills, customers=CUSTOMERS,
           violations=len(violations), codes=dict(out.codes))
    print(f"\ncrash: {out.operations} operations, {out.retries} retries, {stack.kills} kills, codes {dict(out.codes)}")
    assert not violations, [str(v) for v in violations]
    assert stack.kills >= 3, "the kills must land while the load runs"
    assert len(out.awarded) == CUSTOMERS
    assert all(awards.get(o) == 1 for o in out.awarded), "an acknowledged award is in the ledger exactly once"
    assert all(lots.get(o, 0) == (1 if credited else 0) for o, credited in out.awarded.items())
    assert not idem
    assert all(holds[h] == "captured" for h in out.captured) and all(holds[h] == "voided" for h in out.voided)
    assert out.refunds <= refunds
    assert stale == 0
    assert "INTERNAL" not in out.codes and "UNKNOWN" not in out.codes
