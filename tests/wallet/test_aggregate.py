"""The customer aggregate alone: lots, holds, balances and the decisions on
them, in plain Python with no database (cashback_services/wallet/domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback_kit.errors import HoldExpired, HoldNotActive, InsufficientCredit, InvalidArgument
from cashback_services.wallet.domain import orders
from cashback_services.wallet.domain.customer import AwardLine, Customer
from cashback_services.wallet.domain.ledger import Account
from cashback_services.wallet.domain.model import Balance, BrokenInvariant, Lot

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def customer(*lots: tuple[int, timedelta | None], now: datetime = T0) -> Customer:
    """A customer with available lots of (amount, expires in), created a second apart."""
    c = Customer("m1", "c1", now)
    for i, (amount, expires_in) in enumerate(lots):
        lot = Lot(f"lot{i}", "SAR", "adjustment", None, None, amount, "available", T0 - DAY,
                  T0 + expires_in if expires_in else None, T0 - DAY + timedelta(seconds=i), remaining=amount)
        c.lots[lot.lot_id] = lot
    c.balance("SAR").available = sum(amount for amount, _ in lots)
    return c


def entry_sums(c: Customer) -> dict[str, int]:
    out: dict[str, int] = {}
    for tx in c.transactions:
        assert sum(e.amount for e in tx.entries) == 0, tx
        for e in tx.entries:
            out[e.account] = out.get(e.account, 0) + e.amount
    return out


def test_a_hold_takes_the_earliest_expiring_credit_and_never_a_lot_past_expiry() -> None:
    c = customer((100, None), (100, 30 * DAY), (100, 5 * DAY), (500, -DAY))
    hold = c.authorize("o1", "SAR", 250, timedelta(minutes=15))
    assert [(a.lot_id, a.amount) for a in hold.allocations] == [("lot2", 100), ("lot1", 100), ("lot0", 50)]
    assert c.lots["lot3"].remaining == 500  # past expiry: not spendable, left for expiry
    b = c.balance("SAR")
    assert (b.available, b.held) == (550, 250)


def test_a_refused_authorization_changes_nothing() -> None:
    c = customer((100, None))
    with pytest.raises(InsufficientCredit):
        c.authorize("o1", "SAR", 101, timedelta(minutes=15))
    assert c.changes() == 0
    assert c.lots["lot0"].remaining == 100


def test_capture_is_partial_and_once_and_the_same_capture_again_is_a_replay() -> None:
    c = customer((1000, None))
    hold = c.authorize("o1", "SAR", 400, timedelta(minutes=15))
    c.capture(hold.hold_id, "SAR", 250)
    assert (hold.status, hold.captured) == ("captured", 250)
    before = c.changes()
    assert c.capture(hold.hold_id, "SAR", 250) is hold
    assert c.changes() == before
    with pytest.raises(HoldNotActive):
        c.capture(hold.hold_id, "SAR", 300)
    lot = c.lots["lot0"]
    assert (lot.remaining, lot.held, lot.spent) == (750, 0, 250)
    assert entry_sums(c)[Account.REDEEMED.value] == 250


def test_a_capture_above_the_hold_or_in_another_currency_is_invalid() -> None:
    c = customer((1000, None))
    hold = c.authorize("o1", "SAR", 400, timedelta(minutes=15))
    before = c.changes()
    with pytest.raises(InvalidArgument):
        c.capture(hold.hold_id, "SAR", 401)
    with pytest.raises(InvalidArgument):
        c.capture(hold.hold_id, "USD", 100)
    assert c.changes() == before and hold.status == "active"


def test_a_hold_past_its_ttl_is_released_first_and_an_expired_or_voided_hold_cannot_be_captured() -> None:
    c = customer((1000, None))
    hold = c.authorize("o1", "SAR", 400, timedelta(minutes=15))
    c.now = T0 + timedelta(minutes=15)
    c.release_due_holds()
    assert hold.status == "expired"
    assert (c.balance("SAR").available, c.balance("SAR").held) == (1000, 0)
    with pytest.raises(HoldExpired):
        c.capture(hold.hold_id, None, None)
    voided = c.authorize("o2", "SAR", 1, timedelta(minutes=1))
    c.void(voided.hold_id)
    with pytest.raises(HoldNotActive):
        c.capture(voided.hold_id, None, None)


def test_a_void_after_capture_is_refused_and_a_second_void_does_nothing() -> None:
    c = customer((1000, None))
    h1 = c.authorize("o1", "SAR", 100, timedelta(minutes=15))
    c.capture(h1.hold_id, None, None)
    with pytest.raises(HoldNotActive):
        c.void(h1.hold_id)
    h2 = c.authorize("o2", "SAR", 100, timedelta(minutes=15))
    c.void(h2.hold_id)
    before = c.changes()
    assert c.void(h2.hold_id).status == "voided"
    assert c.changes() == before


def test_credit_released_onto_a_lot_past_expiry_is_left_for_the_write_to_expire() -> None:
    c = customer((300, timedelta(minutes=10)))
    hold = c.authorize("o1", "SAR", 300, timedelta(minutes=30))
    assert not c.settle_after
    c.now = T0 + timedelta(minutes=20)
    c.void(hold.hold_id)
    assert c.settle_after  # the set-based expiry runs with this write
    assert c.lots["lot0"].remaining == 300


def test_an_award_pays_refund_debt_first_and_credits_the_rest_pending() -> None:
    c = Customer("m1", "c1", T0)
    c.balance("SAR").debt = 70
    line = AwardLine("camp", "SAR", 100, T0 + 14 * DAY, None)
    record = orders.award(c, "order", "o1", "fp", [line], "SAR", b"score", 1000, T0)
    assert (record.credited, record.debt_repaid, record.earned) == (30, 70, 100)
    assert (c.balance("SAR").debt, c.balance("SAR").pending) == (0, 30)
    assert [e.type for e in c.events] == ["debt_repaid", "credited"]
    assert c.first_earned_at == T0 and c.last_order_at == T0
    assert not c.settle_after  # pending for 14 days: nothing due


def test_a_refund_takes_back_pending_then_available_then_breakage_and_the_rest_becomes_debt() -> None:
    c = Customer("m1", "c1", T0)
    for i, (status, remaining, spent, expired) in enumerate(
            (("pending", 10, 0, 0), ("available", 20, 30, 0), ("expired", 0, 0, 40))):
        lot = Lot(f"l{i}", "SAR", "order", "o1", "camp", remaining + spent + expired, status, T0, None,
                  T0 + timedelta(seconds=i), remaining=remaining, spent=spent, expired=expired)
        c.lots[lot.lot_id] = lot
    c.balance("SAR").pending, c.balance("SAR").available = 10, 20
    order = orders.AwardRecord("m1", "order", "o1", "c1", "fp", b"", "SAR", 100, 100, 0, 1000, 0, 0, T0, T0)
    updated, record = orders.refund(c, order, "r1", "fp-r", 1000, "SAR", 100)
    assert (record.cashback_reversed, record.debt) == (70, 30)
    assert updated.refunded == 1000
    sums = entry_sums(c)
    assert (sums[Account.PENDING.value], sums[Account.AVAILABLE.value], sums[Account.BREAKAGE.value]) == (-10, -20, -40)
    assert c.balance("SAR").debt == 30
    with pytest.raises(Exception, match="above what is left"):
        orders.refund(c, updated, "r2", "fp", 1, "SAR", 0)


def test_a_refund_gives_back_redeemed_credit_in_proportion_to_the_lots_it_came_from() -> None:
    c = customer((100, None), (300, 5 * DAY))
    hold = c.authorize("o1", "SAR", 400, timedelta(minutes=15))
    c.capture(hold.hold_id, None, None)
    order = orders.AwardRecord("m1", "order", "o1", "c1", "fp", b"", "SAR", 0, 0, 0, 1000, 0, 0, T0, T0)
    updated, record = orders.refund(c, order, "r1", "fp-r", 500, "SAR", 0)
    assert record.credit_returned == 200
    assert sorted(a.returned for a in hold.allocations) == [50, 150]
    assert c.balance("SAR").available == 200
    _, rest = orders.refund(c, updated, "r2", "fp-r2", 500, "SAR", 0)
    assert rest.credit_returned == 200 and c.balance("SAR").available == 400


def test_a_lot_and_a_balance_refuse_to_go_negative() -> None:
    lot = Lot("l", "SAR", "adjustment", None, None, 10, "available", T0, None, T0, remaining=10)
    with pytest.raises(BrokenInvariant):
        lot.hold(11)
    assert (lot.remaining, lot.held) == (10, 0)
    with pytest.raises(BrokenInvariant):
        Balance("SAR", available=5).post({Account.AVAILABLE: -6, Account.ADJUSTMENTS: 6})


@given(ops=st.lists(st.tuples(st.sampled_from(["credit", "debit", "hold", "capture", "void"]),
                              st.integers(1, 500)), max_size=30))
def test_any_sequence_of_operations_keeps_every_lot_conserved_and_every_posting_balanced(
    ops: list[tuple[str, int]],
) -> None:
    c = Customer("m1", "c1", T0)
    holds: list[str] = []
    for op, amount in ops:
        try:
            if op == "credit":
                c.adjust("SAR", amount, "credit", None)
            elif op == "debit":
                c.adjust("SAR", -amount, "debit", None)
            elif op == "hold":
                holds.append(c.authorize("o", "SAR", amount, timedelta(minutes=5)).hold_id)
            elif holds:
                target = holds[amount % len(holds)]
                c.capture(target, None, None) if op == "capture" else c.void(target)
        except (InsufficientCredit, HoldNotActive):
            pass
    entry_sums(c)  # every transaction balanced
    b = c.balance("SAR")
    assert b.available == sum(lot.remaining for lot in c.lots.values())
    assert b.held == sum(lot.held for lot in c.lots.values()) == sum(
        h.amount for h in c.holds.values() if h.status == "active")
    for lot in c.lots.values():
        assert lot.amount == lot.remaining + lot.held + lot.spent + lot.expired + lot.reversed + lot.debited


def test_a_credit_that_would_pass_the_balance_limit_is_balance_limit_and_changes_nothing() -> None:
    from cashback_kit.amounts import MAX_BALANCE_MINOR, MAX_MINOR
    from cashback_kit.errors import FailedPrecondition

    c = customer((MAX_BALANCE_MINOR - MAX_MINOR + 1, None))
    for credit in (lambda: c.adjust("SAR", MAX_MINOR, "goodwill", None),
                   lambda: c.credit_awards([AwardLine("camp", "SAR", MAX_MINOR, T0, None)], "order", "o1")):
        with pytest.raises(FailedPrecondition) as refused:
            credit()
        assert refused.value.reason == "BALANCE_LIMIT"
        assert c.changes() == 0
    c.adjust("SAR", MAX_MINOR - 1, "goodwill", None)  # up to the limit is fine
    assert c.balance("SAR").available == MAX_BALANCE_MINOR


def test_only_credit_that_is_due_asks_the_write_to_settle_the_customers_lots() -> None:
    c = customer()
    c.adjust("SAR", 500, "goodwill", None)  # available at once: nothing to mature or expire
    assert not c.settle_after
    line = AwardLine("camp", "SAR", 100, T0 + DAY, None)
    c.credit_awards([line], "order", "o-later")  # pending until tomorrow
    assert not c.settle_after
    # Usable at once: an available lot straight away, credited and available in the same write,
    # with no pending lot and no MATURE transaction for a settlement to write.
    c.credit_awards([AwardLine("camp", "SAR", 100, T0, None)], "order", "o-now")
    assert not c.settle_after
    assert c.balance("SAR").available == 600 and c.balance("SAR").pending == 100
    now_lot = next(lot for lot in c.lots.values() if lot.order_id == "o-now")
    assert now_lot.status == "available" and now_lot.remaining == 100
    assert [e.type for e in c.events if e.order_id == "o-now"] == ["credited", "available"]
    assert [t.type for t in c.transactions if t.order_id == "o-now"] == ["award"]
    # Credit that is due to expire already still asks for the settlement that expires it.
    c.credit_awards([AwardLine("camp", "SAR", 100, T0 - DAY, T0)], "order", "o-gone")
    assert c.settle_after


def test_an_orders_award_is_one_transaction_per_currency_with_a_lot_per_campaign() -> None:
    c = customer()
    c.balances["SAR"] = Balance("SAR", debt=150)  # refund debt from an earlier order
    lines = [AwardLine("c-now", "SAR", 100, T0, None), AwardLine("c-later", "SAR", 300, T0 + DAY, T0 + 90 * DAY),
             AwardLine("c-points", "PTS", 40, T0 + DAY, None)]
    record = orders.award(c, "order", "o1", "fp", lines, "SAR", b"score", 5000, T0)
    # One AWARD per currency, balanced: expense out; debt repaid from the first line on; credit in.
    assert [(t.type, t.currency) for t in c.transactions] == [("award", "SAR"), ("award", "PTS")]
    sar = {e.account: e.amount for e in c.transactions[0].entries}
    assert sar == {Account.EXPENSE: -400, Account.DEBT: 150, Account.PENDING: 250}
    assert sum(sar.values()) == 0
    # The first campaign's 100 all went to the debt: no lot; the second's lot is what is left of it.
    lots = sorted((lot.campaign_id, lot.status, lot.amount) for lot in c.lots.values())
    assert lots == [("c-later", "pending", 250), ("c-points", "pending", 40)]
    assert (record.credited, record.debt_repaid, record.earned) == (250, 150, 400)
    assert c.balance("SAR").debt == 0 and c.balance("SAR").pending == 250 and c.balance("PTS").pending == 40
    assert [e.type for e in c.events] == ["debt_repaid", "credited", "credited"]
    assert {e.transaction_id for e in c.events if e.currency == "SAR"} == {c.transactions[0].transaction_id}
