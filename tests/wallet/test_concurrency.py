"""Two wallet processes on one PostgreSQL behave exactly like one."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_kit.procs import ServiceProcess, start_process
from tests.support.keys import TEST_KEYS
from tests.support.pgcluster import free_port
from tests.support.servers import auth
from tests.wallet.grpc_helpers import adjust, balance, money

pytestmark = pytest.mark.postgres

FUNDED, EACH, CALLS = 10_000, 70, 200


async def test_200_concurrent_authorizations_over_two_wallet_processes_hold_exactly_what_fits(
    pg_url: str, keys_file: Path
) -> None:
    env = {
        "WALLET_DATABASE_URL": pg_url,
        "CASHBACK_API_KEYS_FILE": str(keys_file),
        "CASHBACK_SERVICE_KEY": TEST_KEYS["service"],
        "RULES_TARGET": f"127.0.0.1:{free_port()}",  # not needed for holds
        "CASHBACK_SHUTDOWN_GRACE": "1",
        "CASHBACK_METRICS_PORT": "0",
        "WALLET_SWEEP_INTERVAL_SECONDS": "0.2",  # sweepers of both processes run during the storm
    }
    # Started together: they also race to migrate the schema.
    procs: list[ServiceProcess] = list(await asyncio.gather(
        asyncio.to_thread(start_process, "wallet", env), asyncio.to_thread(start_process, "wallet", env)))
    channels = [grpc.aio.insecure_channel(p.target) for p in procs]
    try:
        stubs = [wallet_pb2_grpc.WalletServiceStub(c) for c in channels]
        await adjust(stubs[0], FUNDED)

        async def authorize(i: int) -> str:
            try:
                await stubs[i % 2].AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
                    merchant_id="m1", customer_id="c1", order_id=f"o{i}", amount=money(EACH),
                    idempotency_key=f"k{i}"), metadata=auth("checkout"))
                return "OK"
            except grpc.aio.AioRpcError as err:
                return err.code().name

        outcomes = Counter(await asyncio.gather(*(authorize(i) for i in range(CALLS))))
        fit = FUNDED // EACH
        assert outcomes == {"OK": fit, "FAILED_PRECONDITION": CALLS - fit}
        for s in stubs:  # both processes see the same books
            b = await balance(s)
            assert (b.held.amount_minor, b.available.amount_minor) == (fit * EACH, FUNDED - fit * EACH)
    finally:
        for c in channels:
            await c.close()
        codes = [await asyncio.to_thread(p.terminate) for p in procs]
    assert codes == [0, 0], "a wallet process did not stop cleanly on SIGTERM"
