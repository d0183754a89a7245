"""kill -9 of the wallet process while customers transfer credit among
themselves: every transfer the wallet acknowledged is in the ledger exactly
once, each idempotency key made at most one transfer, the total of credit is
conserved and the auditor (in-flight account included) is clean."""

from __future__ import annotations

import asyncio
import random
import uuid

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from cashback.wallet.v1 import wallet_pb2_grpc
from sqlalchemy import text

from cashback_kit.client import bearer
from cashback_kit.db import Database
from cashback_kit.procs import ServiceProcess, start_process
from cashback_services.wallet.auditor import audit
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import free_port
from tests.wallet.grpc_helpers import money

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
CUSTOMERS = [f"c{i}" for i in range(8)]
START = 1000
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED}


async def test_kill_9_of_the_wallet_during_transfers_loses_nothing_acknowledged(pg_url, tmp_path):
    port = free_port()
    env = process_env(tmp_path, pg_url, WALLET_ADDR=f"127.0.0.1:{port}", CASHBACK_LOG_LEVEL="WARNING",
                      RULES_TARGET=f"127.0.0.1:{free_port()}", WALLET_SWEEP_INTERVAL_SECONDS="0")
    procs: list[ServiceProcess] = [await asyncio.to_thread(start_process, "wallet", env)]
    ops, checkout = bearer(TEST_KEYS["ops"]), bearer(TEST_KEYS["checkout"])
    acked: dict[str, str] = {}  # idempotency key -> transfer id the wallet answered
    refused: set[str] = set()
    retries = kills = issued = 0
    killed = asyncio.Event()  # the clients keep transferring until every kill has landed
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    s = wallet_pb2_grpc.WalletServiceStub(channel)
    try:
        for c in CUSTOMERS:
            await s.AdjustBalance(pb.AdjustBalanceRequest(merchant_id="m1", customer_id=c, amount=money(START),
                                                          reason="seed", idempotency_key=f"seed-{c}"), metadata=ops)

        async def client(n: int) -> None:
            nonlocal retries, issued
            rng = random.Random(n)
            while not killed.is_set():
                issued += 1
                frm, to = rng.sample(CUSTOMERS, 2)
                req = pb.TransferCreditRequest(merchant_id="m1", from_customer_id=frm, to_customer_id=to,
                                               amount=money(rng.randint(1, 200)), idempotency_key=uuid.uuid4().hex)
                while True:  # a checkout retries with the same key until it has an answer
                    try:
                        resp = await s.TransferCredit(req, metadata=checkout, timeout=5)
                    except grpc.aio.AioRpcError as err:
                        if err.code() in RETRYABLE:
                            retries += 1
                            await asyncio.sleep(0.1)
                            continue
                        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err
                        refused.add(req.idempotency_key)
                        break
                    acked[req.idempotency_key] = resp.transfer.transfer_id
                    break

        async def killer() -> None:
            nonlocal kills
            for _ in range(3):
                await asyncio.sleep(0.8)
                await asyncio.to_thread(procs[-1].kill9)
                kills += 1
                await asyncio.sleep(0.3)
                procs.append(await asyncio.to_thread(start_process, "wallet", env))
            await asyncio.sleep(0.5)
            killed.set()

        await asyncio.gather(killer(), *(client(n) for n in range(8)))
    finally:
        await channel.close()
        await asyncio.to_thread(procs[-1].terminate)

    db = Database(pg_url)
    try:
        async with db.read() as conn:
            violations = await audit(conn)
            rows = dict((await conn.execute(text(
                "SELECT i.key, t.transfer_id FROM wallet_idempotency i "
                "JOIN wallet_transfers t ON t.transfer_id = i.result_id WHERE i.scope = 'transfer'"))).all())
            transfers = (await conn.execute(text("SELECT count(*) FROM wallet_transfers"))).scalar()
            total = (await conn.execute(text("SELECT sum(available) FROM wallet_balances"))).scalar()
    finally:
        await db.dispose()
    print(f"\ntransfers crash: {len(acked)} acknowledged, {len(refused)} refused, {retries} retries, {kills} kills")
    assert not violations, [str(v) for v in violations]
    assert kills == 3 and retries > 0, "the kills must land while transfers run"
    assert len(acked) + len(refused) == issued
    assert all(rows.get(k) == tid for k, tid in acked.items()), "an acknowledged transfer is in the ledger"
    assert transfers == len(acked), "one transfer per key, and none the clients were not told of"
    assert total == START * len(CUSTOMERS)
