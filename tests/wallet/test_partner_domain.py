"""Coalitions and partner redemptions in plain Python, no database
(cashback_services/wallet/domain/coalitions.py and partner.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cashback_kit.errors import InsufficientCredit, InvalidArgument, NotFound
from cashback_services.wallet.domain import partner
from cashback_services.wallet.domain.coalitions import SettlementLine, net_lines, propose
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.model import Lot
from cashback_services.wallet.domain.orders import AwardRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
TTL = timedelta(minutes=15)


def customer(merchant: str, *lots: tuple[int, int | None]) -> Customer:
    """The customer "c1" at `merchant` with available lots of (amount, expires in days)."""
    c = Customer(merchant, "c1", T0)
    for i, (amount, days) in enumerate(lots):
        lot = Lot(f"{merchant}-lot{i}", "SAR", "adjustment", None, None, amount, "available", T0 - DAY,
                  T0 + days * DAY if days else None, T0 - DAY, remaining=amount)
        c.lots[lot.lot_id] = lot
    c.balance("SAR").available = sum(amount for amount, _ in lots)
    return c


def accounts(*customers: Customer) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in customers:
        for tx in c.transactions:
            assert sum(e.amount for e in tx.entries) == 0, tx  # each transaction balances on its own customer
            for e in tx.entries:
                out[e.account] = out.get(e.account, 0) + e.amount
    return out


def test_net_lines_net_each_pair_and_leave_out_pairs_that_cancel() -> None:
    flows = [("A", "B", 300), ("B", "A", 100), ("C", "B", 50), ("A", "C", 70), ("C", "A", 70), ("A", "B", -20)]
    assert net_lines(flows) == [SettlementLine("A", "B", 180, 280, 100), SettlementLine("C", "B", 50, 50, 0)]


def test_a_proposal_names_its_proposer_among_two_to_twenty_distinct_members() -> None:
    c = propose("co", "Mall", "SAR", "A", ["A", "B"], T0)
    assert [(m.merchant_id, m.joined_at) for m in c.members] == [("A", T0), ("B", None)] and not c.active
    for members, field in ((["B", "C"], "member_merchant_ids"), (["A"], "member_merchant_ids"),
                           (["A", "B", "B"], "member_merchant_ids[2]"),
                           ([f"m{i}" for i in range(21)], "member_merchant_ids")):
        with pytest.raises(InvalidArgument) as err:
            propose("co", "Mall", "SAR", "A", members, T0)
        assert err.value.violations[0].field == field


def test_the_last_member_to_join_activates_and_an_outsider_learns_nothing() -> None:
    c = propose("co", "Mall", "SAR", "A", ["A", "B", "C"], T0)
    c = c.join("B", T0 + DAY)
    assert not c.active
    c = c.join("C", T0 + 2 * DAY)
    assert c.activated_at == T0 + 2 * DAY
    assert c.join("B", T0 + 3 * DAY) == c
    with pytest.raises(NotFound):
        c.join("D", T0)


def test_own_credit_first_then_partners_by_earliest_expiry_one_hold_per_issuer() -> None:
    b = customer("B", (100, 30))
    a = customer("A", (200, 20), (50, None))
    c = customer("C", (200, 10))
    r = partner.authorize(b, [a, c], "co", "o1", "SAR", 420, TTL)
    assert [(p.seq, p.issuer, p.amount) for p in r.parts] == [(0, "B", 100), (1, "C", 200), (2, "A", 120)]
    assert [a.lots["A-lot0"].held, a.lots["A-lot1"].held] == [120, 0]  # the never-expiring lot is last
    assert [(x.balance("SAR").available, x.balance("SAR").held) for x in (a, b, c)] == [(130, 120), (0, 100),
                                                                                        (0, 200)]
    assert [h.order_id for h in a.holds.values()] == [partner.part_order_ref(r.redemption_id)]
    assert [h.order_id for h in b.holds.values()] == ["o1"]


def test_not_enough_credit_anywhere_holds_nothing() -> None:
    b, a = customer("B", (100, None)), customer("A", (100, None))
    with pytest.raises(InsufficientCredit):
        partner.authorize(b, [a], "co", "o1", "SAR", 201, TTL)
    assert b.changes() == a.changes() == 0


def test_a_partial_capture_owes_only_what_it_took_from_the_issuer_and_a_refund_reverses_in_proportion() -> None:
    b, a = customer("B", (100, None)), customer("A", (300, 5))
    r = partner.authorize(b, [a], "co", "o1", "SAR", 400, TTL)
    customers = {"A": a, "B": b}
    settled = partner.capture(r, customers, "SAR", 250)
    assert [(s.issuer, s.redeemer, s.amount) for s in settled] == [("A", "B", 150)]
    assert a.balance("SAR").available == 150 and a.balance("SAR").held == 0
    books = accounts(a, b)
    assert (books["settlement:payable"], books["settlement:receivable"]) == (150, -150)
    assert books["merchant:redeemed"] == 250  # the redeemer's own 100 and the partner's 150
    assert partner.capture(r, customers, "SAR", 250) == []  # a replay
    order = AwardRecord("B", "order", "o1", "c1", "fp", b"", "SAR", 0, 0, 0, 1000, 0, 0, T0, T0)
    given, back = partner.refund([r], customers, order, "rf1", 333)
    assert (given, [s.amount for s in back]) == (49, [-49])  # 150 x 333/1000, rounded down
    given, back = partner.refund([r], customers, replace(order, refunded=333), "rf2", 667)
    assert (given, [s.amount for s in back]) == (101, [-101])  # the rest of the order: all of it
    books = accounts(a, b)
    assert (books["settlement:payable"], books["settlement:receivable"]) == (0, 0)
    assert a.lots["A-lot0"].remaining == 300
