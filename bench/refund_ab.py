"""RefundOrder at one in flight, A/B: two code trees (e.g. `git archive` of two commits) as real
service processes on one PostgreSQL cluster, interleaved (A, B, A, B), each on fresh databases.

    python -m bench.refund_ab /tmp/before /tmp/after --orders 300 --rounds 2

Per run: rules and wallet from that tree (PYTHONPATH first, so its modules and migrations are
the ones that run), the bench merchant's 10 campaigns, `--orders` ten-line orders awarded to
as many customers, then one RefundOrder per order, one at a time (the first 20 not counted), and
rules' ReverseOrder alone for each order (what a refund waits for outside the wallet). Run it a
second time with the two trees swapped: the second run of each round tends to be the slower one
(a busier cluster), which on a shared machine is as large as the difference being measured."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from bench.harness import Load, Row, print_table
from bench.run import Stack
from bench.targets import CHECKOUT, noop_at, sar, seed_campaigns, ten_line_order
from cashback_kit.client import bearer
from tests.support.keys import TEST_KEYS
from tests.support.pgcluster import remove_cluster, start_cluster

WARMUP = 20
SERVICE = bearer(TEST_KEYS["service"])


async def _timed(calls: list[Callable[[], Awaitable[object]]]) -> Load:
    """The calls one at a time; the first WARMUP not counted."""
    load = Load(0, 0.0)
    started = time.perf_counter()
    for i, call in enumerate(calls):
        t0 = time.perf_counter()
        await call()
        if i >= WARMUP:
            load.latencies.append(time.perf_counter() - t0)
            load.ops += 1
    load.seconds = time.perf_counter() - started
    return load


async def refunds(rules: str, wallet: str, orders: int) -> tuple[Load, Load, Load]:
    """(RefundOrder at one in flight; rules' ReverseOrder alone, the part of a refund the wallet
    waits for, at one in flight; the no-op RPC at one in flight on the same stack)."""
    await seed_campaigns(rules, "m1", 10)
    async with grpc.aio.insecure_channel(wallet) as ch:
        w = wallet_pb2_grpc.WalletServiceStub(ch)
        for i in range(orders):
            o = ten_line_order("m1", i)
            o.customer_id = f"rc{i}"
            await w.AwardOrder(wallet_pb2.AwardOrderRequest(order=o), metadata=CHECKOUT, timeout=10)
        load = await _timed([partial(w.RefundOrder, wallet_pb2.RefundOrderRequest(
            merchant_id="m1", order_id=f"q{i}", refund_id=f"r{i}", refunded_amount=sar(5_000)),
            metadata=CHECKOUT, timeout=10) for i in range(orders)])
    async with grpc.aio.insecure_channel(rules) as ch:
        r = rules_pb2_grpc.RulesServiceStub(ch)
        reverse = await _timed([partial(r.ReverseOrder, rules_pb2.ReverseOrderRequest(
            merchant_id="m1", order_id=f"q{i}", refund_id=f"rr{i}", refunded_amount=sar(1_000)),
            metadata=SERVICE, timeout=10) for i in range(orders)])
    return load, reverse, await noop_at(rules, 2.0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cluster = start_cluster()
    rows: list[Row] = []
    try:
        for n in range(args.rounds):
            for name, tree in (("before", args.before), ("after", args.after)):
                stack = Stack(cluster, Path(tempfile.mkdtemp(prefix=f"refund-ab-{name}-")))
                try:
                    path = f"{tree.resolve()}:{tree.resolve() / 'gen'}"
                    stack.start("rules", PYTHONPATH=path)
                    stack.start("wallet", PYTHONPATH=path)
                    got, reverse, noop = asyncio.run(refunds(stack.procs["rules"].target, stack.procs["wallet"].target,
                                                    args.orders))
                finally:
                    stack.stop()
                rows.append(Row(f"RefundOrder, 1 in flight: {name} (round {n + 1}, {time.strftime('%H:%M:%S')})",
                                f"no-op p50 {noop.p50_ms:.2f} ms",
                                f"p50 {got.p50_ms:.2f} ms p99 {got.p99_ms:.2f} ms mean {got.mean_ms:.2f} ms "
                                f"({got.ops} refunds); rules' ReverseOrder alone p50 {reverse.p50_ms:.2f} ms",
                                got.p50_ms / noop.p50_ms if noop.p50_ms else None, "-", None))
    finally:
        remove_cluster(cluster)
    print_table(rows)


if __name__ == "__main__":
    main()
