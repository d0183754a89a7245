"""Points beside credit on the service layer over a real database (the
auditor, which checks every conversion's two legs, runs after each test)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from cashback_kit.errors import FailedPrecondition, InsufficientCredit, InvalidArgument
from cashback_kit.money import Money
from cashback_services.wallet.domain.points import POINTS, Rate
from cashback_services.wallet.service_layer.handlers import WalletService
from cashback_services.wallet.service_layer.points import ConvertCredit
from cashback_services.wallet.service_layer.transfers import TransferCredit
from tests.wallet.conftest import Clock
from tests.wallet.helpers import C, M, balance, credit, key


def to_points(minor: int, *, currency: str = "SAR", idem: str | None = None) -> ConvertCredit:
    idem = idem or key()
    return ConvertCredit(M, C, True, currency, minor, idem, f"fp-{idem}-c-{minor}")


def to_credit(points: int, *, idem: str | None = None) -> ConvertCredit:
    idem = idem or key()
    return ConvertCredit(M, C, False, None, points, idem, f"fp-{idem}-p-{points}")


async def test_credit_converted_to_points_and_back_is_exact_to_the_minor_unit(wallet: WalletService) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 7, 300))  # 7 points per 3.00 SAR: steps of 300 and 7
    await credit(wallet, 10_000)
    there = await wallet.convert_credit(to_points(9_000))
    assert (there.credit, there.points) == (9_000, 210)
    b = await balance(wallet)
    assert (b.available, b.points) == (1_000, 210)
    back = await wallet.convert_credit(to_credit(210))
    assert (back.credit, back.points) == (9_000, 210)
    b = await balance(wallet)
    assert (b.available, b.points) == (10_000, 0)


async def test_a_conversion_is_one_transaction_balanced_in_each_unit(wallet: WalletService) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 1, 10))
    await credit(wallet, 500)
    c = await wallet.convert_credit(to_points(500))
    async with wallet.db.read() as conn:
        rows = (await conn.execute(text(
            "SELECT account, currency, amount FROM wallet_entries WHERE transaction_id = :t ORDER BY id"),
            {"t": c.transaction_id})).all()
    assert [tuple(r) for r in rows] == [("customer:available", "SAR", -500), ("merchant:conversion", "SAR", 500),
                                        ("merchant:conversion", POINTS, -50), ("customer:available", POINTS, 50)]


async def test_an_amount_that_is_not_a_whole_step_is_refused_and_changes_nothing(wallet: WalletService) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 7, 300))
    await credit(wallet, 1_000)
    with pytest.raises(InvalidArgument) as err:
        await wallet.convert_credit(to_points(301))
    assert (err.value.reason, err.value.metadata["step"]) == ("NOT_A_WHOLE_STEP", "300")
    assert [v.field for v in err.value.violations] == ["credit.amount_minor"]
    await wallet.convert_credit(to_points(300))
    with pytest.raises(InvalidArgument) as err:
        await wallet.convert_credit(to_credit(5))
    assert [v.field for v in err.value.violations] == ["points"]
    b = await balance(wallet)
    assert (b.available, b.points) == (700, 7)


async def test_converting_without_a_rate_or_in_another_currency_or_above_available_is_refused(
        wallet: WalletService) -> None:
    await credit(wallet, 1_000)
    with pytest.raises(FailedPrecondition) as err:
        await wallet.convert_credit(to_points(100))
    assert err.value.reason == "NO_POINTS_RATE"
    await wallet.set_points_rate(M, Rate("SAR", 1, 1))
    with pytest.raises(InvalidArgument) as err:
        await wallet.convert_credit(to_points(100, currency="AED"))
    assert err.value.reason == "CURRENCY_MISMATCH"
    with pytest.raises(InsufficientCredit):
        await wallet.convert_credit(to_points(1_001))
    with pytest.raises(InsufficientCredit):
        await wallet.convert_credit(to_credit(1))
    b = await balance(wallet)
    assert (b.available, b.points) == (1_000, 0)


async def test_a_replay_returns_the_same_conversion_even_after_the_rate_changes(wallet: WalletService) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 1, 10))
    await credit(wallet, 1_000)
    cmd = to_points(100)
    first = await wallet.convert_credit(cmd)
    await wallet.set_points_rate(M, Rate("SAR", 2, 10))
    assert await wallet.convert_credit(cmd) == first
    b = await balance(wallet)
    assert (b.available, b.points) == (900, 10)


async def test_points_keep_the_earliest_expiry_of_the_credit_they_came_from(wallet: WalletService,
                                                                            clock: Clock) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 1, 1))
    await credit(wallet, 100, expires_in=timedelta(days=5))
    await credit(wallet, 100, expires_in=timedelta(days=50))
    await wallet.convert_credit(to_points(150))
    clock.advance(days=6)  # the points expire with the earliest credit they came from
    b = await balance(wallet)
    assert (b.available, b.points) == (50, 0)


async def test_a_customer_with_points_can_still_receive_a_transfer(wallet: WalletService) -> None:
    await wallet.set_points_rate(M, Rate("SAR", 1, 1))
    await credit(wallet, 100)
    await wallet.convert_credit(to_points(100))  # c1 now holds points only
    await credit(wallet, 40, customer="c2")
    await wallet.transfer_credit(TransferCredit(M, "c2", C, Money("SAR", 40), key(), "", key()))
    b = await balance(wallet)
    assert (b.available, b.points) == (40, 100)


def test_a_rate_converts_whole_steps_exactly_both_ways() -> None:
    rate = Rate("SAR", 6, 400)  # gcd 2: 200 minor units make 3 points
    assert (rate.step(True), rate.step(False)) == (200, 3)
    for steps in (1, 7, 10**6):
        minor = 200 * steps
        assert rate.convert(rate.convert(minor, True, "credit"), False, "points") == minor
    with pytest.raises(InvalidArgument):
        rate.convert(4, False, "points")
