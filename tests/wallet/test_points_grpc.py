"""Points over real gRPC: ops sets the rate, checkout converts, GetBalance
shows points beside credit (the auditor runs after each test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb

from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, auth, running_service
from tests.support.sql import recorded
from tests.wallet.grpc_helpers import OPS, adjust, balance, money, stub

CHECKOUT = auth("checkout")


@pytest.fixture
async def wallet_server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


def convert(*, credit: int | None = None, points: int | None = None, idem: str | None = None,
            currency: str = "SAR") -> pb.ConvertCreditRequest:
    req = pb.ConvertCreditRequest(merchant_id="m1", customer_id="c1", idempotency_key=idem or uuid.uuid4().hex)
    if credit is not None:
        req.credit.CopyFrom(money(credit, currency))
    if points is not None:
        req.points = points
    return req


async def test_checkout_converts_credit_to_points_and_back_at_the_merchants_rate(
        wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    rate = (await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=3, per=money(250)),
                                  metadata=OPS)).rate
    assert (rate.points, rate.per.amount_minor, rate.per.currency_code) == (3, 250, "SAR")
    await adjust(s, 10_001)
    there = await s.ConvertCredit(convert(credit=10_000), metadata=CHECKOUT)
    assert (there.credit.amount_minor, there.points) == (10_000, 120)
    b = await balance(s)
    assert (b.available.amount_minor, b.points) == (1, 120)
    back = await s.ConvertCredit(convert(points=120), metadata=CHECKOUT)
    assert (back.credit.amount_minor, back.points) == (10_000, 120)
    b = await balance(s)
    assert (b.available.amount_minor, b.points) == (10_001, 0)
    history = (await s.ListTransactions(pb.ListTransactionsRequest(merchant_id="m1", customer_id="c1"),
                                        metadata=OPS)).transactions
    assert history[0].type == pb.TRANSACTION_TYPE_CONVERSION
    assert {(e.account, e.amount.currency_code): e.amount.amount_minor for e in history[0].entries} == {
        ("customer:available", "PTS"): -120, ("merchant:conversion", "PTS"): 120,
        ("merchant:conversion", "SAR"): -10_000, ("customer:available", "SAR"): 10_000}


async def test_bad_conversions_are_refused_with_a_reason_and_a_field(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 1_000)

    async def refusal(req: pb.ConvertCreditRequest, md=CHECKOUT) -> tuple[grpc.StatusCode, str, list[str]]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.ConvertCredit(req, metadata=md)
        info, fields = rich_details(err.value)
        return err.value.code(), info.reason, fields

    assert (await refusal(convert(credit=100)))[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "NO_POINTS_RATE")
    await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=1, per=money(100)), metadata=OPS)
    assert await refusal(convert(credit=150)) == (grpc.StatusCode.INVALID_ARGUMENT, "NOT_A_WHOLE_STEP",
                                                  ["credit.amount_minor"])
    assert (await refusal(convert()))[0::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["credit"])
    assert (await refusal(convert(points=-1)))[0::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["points"])
    assert (await refusal(convert(credit=100, currency="AED")))[:2] == (grpc.StatusCode.INVALID_ARGUMENT,
                                                                       "CURRENCY_MISMATCH")
    assert (await refusal(convert(credit=1_100)))[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_CREDIT")
    assert (await refusal(convert(credit=100), auth("app")))[0] == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=1, per=money(100)), metadata=CHECKOUT)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=0, per=money(100)), metadata=OPS)
    assert rich_details(err.value)[1] == ["points"]
    b = await balance(s)
    assert (b.available.amount_minor, b.points) == (1_000, 0)


async def test_credit_reports_leave_points_out(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=1, per=money(1)), metadata=OPS)
    expires = pb.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", amount=money(500), reason="goodwill",
                                      idempotency_key="k-exp")
    expires.expires_at.GetCurrentTime()
    expires.expires_at.seconds += 86400
    await s.AdjustBalance(expires, metadata=OPS)
    await s.ConvertCredit(convert(credit=200), metadata=CHECKOUT)  # points expiring with the credit
    balances = (await s.ListBalances(pb.ListBalancesRequest(merchant_id="m1"), metadata=OPS)).balances
    assert [(b.customer_id, b.balance.available.currency_code, b.balance.available.amount_minor)
            for b in balances] == [("c1", "SAR", 300)]
    before = pb.ListExpiringCreditsRequest(merchant_id="m1")
    before.expires_before.CopyFrom(expires.expires_at)
    before.expires_before.seconds += 60
    credits = (await s.ListExpiringCredits(before, metadata=OPS)).credits
    assert [(c.customer_id, c.amount.currency_code, c.amount.amount_minor) for c in credits] == [("c1", "SAR", 300)]
    stats = (await s.GetProgramStats(pb.GetProgramStatsRequest(merchant_id="m1"), metadata=OPS)).stats
    assert stats.outstanding_liability.currency_code == "SAR"


async def test_list_balances_shows_each_customers_available_points_beside_their_credit_in_one_statement(
        wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=3, per=money(100)), metadata=OPS)
    for customer, credit, to_points in (("c1", 500, 200), ("c2", 100, 0), ("c3", 300, 300)):
        await adjust(s, credit, customer=customer)
        if to_points:
            req = convert(credit=to_points)
            req.customer_id = customer
            await s.ConvertCredit(req, metadata=CHECKOUT)
    with recorded(wallet_server.db) as seen:
        listed = (await s.ListBalances(pb.ListBalancesRequest(merchant_id="m1"), metadata=OPS)).balances
    # Points are a count of their own: 200 credit at 3 points per 1.00 is 6 points, never added to the 300.
    assert [(b.customer_id, b.balance.available.currency_code, b.balance.available.amount_minor, b.balance.points)
            for b in listed] == [("c1", "SAR", 300, 6), ("c2", "SAR", 100, 0), ("c3", "SAR", 0, 9)]
    assert [sql.split()[0] for sql, _ in seen if sql not in ("BEGIN", "ROLLBACK", "COMMIT")] == ["SELECT"]
    rich = (await s.ListBalances(pb.ListBalancesRequest(merchant_id="m1", min_available=money(1), page_size=1),
                                 metadata=OPS))
    assert [(b.customer_id, b.balance.points) for b in rich.balances] == [("c1", 6)]
    rest = (await s.ListBalances(pb.ListBalancesRequest(merchant_id="m1", min_available=money(1), page_size=1,
                                                        page_token=rich.next_page_token), metadata=OPS))
    assert [(b.customer_id, b.balance.points) for b in rest.balances] == [("c2", 0)] and not rest.next_page_token
