"""The wallet's pure domain rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback_kit.errors import InsufficientCredit
from cashback_services.wallet.domain.ledger import (
    Account,
    LotView,
    OrderLineAmounts,
    UnbalancedTransaction,
    check_balanced,
    net_merchandise,
    proportional_return,
    split_by_weights,
    take_from_lots,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def lot(lot_id: str, remaining: int, expires_in_days: int | None, created_offset: int = 0) -> LotView:
    expires = T0 + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return LotView(lot_id, remaining, expires, T0 + timedelta(seconds=created_offset))


def test_credit_is_taken_earliest_expiry_first_and_never_expiring_last() -> None:
    lots = [lot("never", 100, None), lot("late", 100, 30), lot("soon", 100, 5)]
    assert take_from_lots(lots, 250) == [("soon", 100), ("late", 100), ("never", 50)]


def test_taking_more_than_the_lots_hold_takes_nothing() -> None:
    with pytest.raises(InsufficientCredit):
        take_from_lots([lot("a", 100, 5)], 101)


def test_an_unbalanced_posting_is_refused_before_the_database() -> None:
    check_balanced({Account.AVAILABLE: 5, Account.ADJUSTMENTS: -5})
    with pytest.raises(UnbalancedTransaction):
        check_balanced({Account.AVAILABLE: 5, Account.ADJUSTMENTS: -4})


def test_merchandise_excludes_shipping_and_tax_but_not_wallet_credit() -> None:
    lines = [OrderLineAmounts(1000, 2, 100), OrderLineAmounts(500, 1, 0)]
    assert net_merchandise(lines, 200) == 2000 - 100 + 500 - 200
    assert net_merchandise(lines, 10_000) == 0


@given(captured=st.integers(0, 10_000), base=st.integers(1, 10_000),
       cuts=st.lists(st.integers(1, 10_000), max_size=6))
def test_partial_refunds_never_return_more_than_was_redeemed(captured: int, base: int, cuts: list[int]) -> None:
    refunded, returned = 0, 0
    for cut in cuts:
        part = min(cut, base - refunded)
        if part <= 0:
            break
        returned += proportional_return(captured, refunded, refunded + part, base)
        refunded += part
    assert 0 <= returned <= captured
    if refunded == base:
        assert returned == captured


@given(weights=st.lists(st.integers(0, 1000), min_size=1, max_size=8), data=st.data())
def test_a_split_is_exact_and_respects_each_weight(weights: list[int], data: st.DataObject) -> None:
    amount = data.draw(st.integers(0, sum(weights)))
    shares = split_by_weights(amount, weights)
    assert sum(shares) == (amount if sum(weights) else 0)
    assert all(0 <= s <= w for s, w in zip(shares, weights, strict=True))
