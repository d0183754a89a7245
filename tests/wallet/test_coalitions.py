"""Coalitions and partner redemptions on the service layer over a real
database (the auditor, which checks that settlement rows balance against the
lots, runs after each test). Refunds, which need rules, are in
test_coalitions_grpc.py."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import text

from cashback_kit.errors import AlreadyExists, FailedPrecondition, InsufficientCredit, InvalidArgument, NotFound
from cashback_kit.money import Money
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.service_layer.coalitions import PartnerHold
from cashback_services.wallet.service_layer.commands import Adjust, Authorize, Capture, Void
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.conftest import Clock
from tests.wallet.helpers import key

C = "cust-1"


async def credit(wallet: WalletService, merchant: str, minor: int, *, customer: str = C,
                 expires_in: timedelta | None = None) -> None:
    expires_at = wallet.clock() + expires_in if expires_in else None
    await wallet.adjust(Adjust(merchant, customer, Money("SAR", minor), "test credit", key(), key(), expires_at))


async def coalition(wallet: WalletService, *members: str, coalition_id: str = "co-1") -> None:
    await wallet.create_coalition(members[0], coalition_id, "Mall partners", list(members), "SAR")
    for m in members[1:]:
        await wallet.join_coalition(coalition_id, m)


def auth_cmd(merchant: str, minor: int, *, customer: str = C, idem: str | None = None,
             order_id: str = "order-1", currency: str = "SAR") -> Authorize:
    idem = idem or key()
    return Authorize(merchant, customer, order_id, Money(currency, minor), timedelta(minutes=15), idem,
                     f"fp-{idem}-{merchant}-{customer}-{minor}-partner")


async def spend(wallet: WalletService, merchant: str, minor: int, **kw: str) -> PartnerHold:
    held = await wallet.authorize_partner(auth_cmd(merchant, minor, **kw))
    captured = await wallet.capture(Capture(merchant, held.hold.hold_id))
    assert isinstance(captured, PartnerHold)
    return captured


async def available(wallet: WalletService, merchant: str, customer: str = C) -> int:
    return (await wallet.get_balance(merchant, customer, "SAR")).available


async def owed(wallet: WalletService, coalition_id: str = "co-1", asker: str = "A") -> list[tuple[str, str, int]]:
    now = wallet.clock()
    _, lines = await wallet.get_settlement(coalition_id, asker, now - timedelta(days=1), now + timedelta(seconds=1))
    return [(line.debtor, line.creditor, line.amount) for line in lines]


async def test_a_customer_of_a_spends_a_credit_at_partner_b_and_a_owes_b_exactly_that(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 500)
    result = await spend(wallet, "B", 300)
    assert (result.hold.amount, result.hold.captured, result.hold.status) == (300, 300, "captured")
    assert [(p.issuer, p.amount, p.captured) for p in result.parts] == [("A", 300, 300)]
    assert (await available(wallet, "A"), await available(wallet, "B")) == (200, 0)
    assert await owed(wallet) == [("A", "B", 300)]
    assert await owed(wallet, asker="B") == [("A", "B", 300)]  # the same answer for every member


async def test_own_credit_goes_first_then_partners_credit_by_earliest_expiry(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B", "C")
    await credit(wallet, "A", 200, expires_in=timedelta(days=20))
    await credit(wallet, "C", 200, expires_in=timedelta(days=10))
    await credit(wallet, "B", 100, expires_in=timedelta(days=30))
    result = await spend(wallet, "B", 350)
    assert [(p.issuer, p.amount) for p in result.parts] == [("B", 100), ("C", 200), ("A", 50)]
    assert [await available(wallet, m) for m in "ABC"] == [150, 0, 0]
    assert await owed(wallet) == [("C", "B", 200), ("A", "B", 50)]


async def test_a_partial_capture_spends_the_parts_in_order_and_releases_the_rest(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B", "C")
    await credit(wallet, "B", 100)
    await credit(wallet, "A", 100, expires_in=timedelta(days=5))
    await credit(wallet, "C", 100, expires_in=timedelta(days=9))
    held = await wallet.authorize_partner(auth_cmd("B", 300))
    assert [(await wallet.get_balance(m, C, "SAR")).held for m in "ABC"] == [100, 100, 100]
    captured = await wallet.capture(Capture("B", held.hold.hold_id, Money("SAR", 150)))
    assert isinstance(captured, PartnerHold)
    assert [(p.issuer, p.captured) for p in captured.parts] == [("B", 100), ("A", 50), ("C", 0)]
    assert [await available(wallet, m) for m in "ABC"] == [50, 0, 100]
    assert [(await wallet.get_balance(m, C, "SAR")).held for m in "ABC"] == [0, 0, 0]
    assert await owed(wallet) == [("A", "B", 50)]
    again = await wallet.capture(Capture("B", held.hold.hold_id, Money("SAR", 150)))  # a replay
    assert again.hold.captured == 150 and await owed(wallet) == [("A", "B", 50)]


async def test_a_part_of_a_partner_redemption_is_not_a_hold_the_issuer_can_capture_or_void(
        wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 100)
    held = await wallet.authorize_partner(auth_cmd("B", 60))
    async with wallet.db.read() as conn:
        part = (await conn.execute(text("SELECT hold_id FROM wallet_partner_parts"))).scalar_one()
    for call in (wallet.capture(Capture("A", part)), wallet.void(Void("A", part))):
        with pytest.raises(NotFound) as err:  # else A could spend it as its own, and nobody would owe B
            await call
        assert err.value.reason == "HOLD_NOT_FOUND"
    assert (await wallet.capture(Capture("B", held.hold.hold_id))).hold.captured == 60
    assert await owed(wallet) == [("A", "B", 60)]


async def test_void_and_expiry_give_every_issuer_its_credit_back(wallet: WalletService, clock: Clock) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 100)
    await credit(wallet, "B", 100)
    held = await wallet.authorize_partner(auth_cmd("B", 150))
    voided = await wallet.void(Void("B", held.hold.hold_id))
    assert voided.hold.status == "voided"
    assert (await available(wallet, "A"), await available(wallet, "B")) == (100, 100)
    held = await wallet.authorize_partner(auth_cmd("A", 200))
    clock.advance(minutes=16)
    await wallet.sweep_once()
    assert (await available(wallet, "A"), await available(wallet, "B")) == (100, 100)
    with pytest.raises(FailedPrecondition) as err:
        await wallet.capture(Capture("A", held.hold.hold_id))
    assert err.value.reason == "HOLD_EXPIRED"
    assert await owed(wallet) == []


async def test_a_partner_redemption_is_refused_whole_when_all_the_credit_is_not_enough(
        wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 100)
    await credit(wallet, "B", 100)
    with pytest.raises(InsufficientCredit):
        await wallet.authorize_partner(auth_cmd("B", 201, idem="k-1"))
    assert (await available(wallet, "A"), await available(wallet, "B")) == (100, 100)
    with pytest.raises(FailedPrecondition) as err:  # the refusal is the key's outcome, replayed
        await wallet.authorize_partner(auth_cmd("B", 201, idem="k-1"))
    assert err.value.reason == "INSUFFICIENT_CREDIT"
    first = await wallet.authorize_partner(auth_cmd("B", 150, idem="k-2"))
    again = await wallet.authorize_partner(auth_cmd("B", 150, idem="k-2"))
    assert again == first
    assert (await available(wallet, "A"), await available(wallet, "B")) == (50, 0)


async def test_a_coalition_is_not_active_until_every_member_has_joined(wallet: WalletService) -> None:
    created = await wallet.create_coalition("A", "co-1", "Mall partners", ["A", "B", "C"], "SAR")
    assert not created.active and [m.joined_at is not None for m in created.members] == [True, False, False]
    await credit(wallet, "A", 100)
    joined = await wallet.join_coalition("co-1", "B")
    assert not joined.active
    with pytest.raises(FailedPrecondition) as err:
        await wallet.authorize_partner(auth_cmd("B", 50))
    assert err.value.reason == "NO_ACTIVE_COALITION"
    active = await wallet.join_coalition("co-1", "C")
    assert active.active and active.activated_at == wallet.clock()
    assert await wallet.join_coalition("co-1", "C") == active  # joining again changes nothing
    assert (await spend(wallet, "B", 50)).hold.captured == 50


async def test_a_merchant_is_in_at_most_one_coalition(wallet: WalletService) -> None:
    await wallet.create_coalition("A", "co-1", "Mall partners", ["A", "B"], "SAR")
    with pytest.raises(FailedPrecondition) as err:
        await wallet.create_coalition("C", "co-2", "Other", ["C", "B"], "SAR")
    assert (err.value.reason, err.value.metadata) == ("MERCHANT_IN_COALITION", {"merchant_id": "B"})
    again = await wallet.create_coalition("A", "co-1", "Mall partners", ["A", "B"], "SAR")
    assert again.merchant_ids == ("A", "B")  # the same proposal again: the coalition as it is
    with pytest.raises(AlreadyExists):
        await wallet.create_coalition("A", "co-1", "Renamed", ["A", "B"], "SAR")
    with pytest.raises(InvalidArgument) as bad:
        await wallet.create_coalition("C", "co-3", "Alone", ["D", "E"], "SAR")
    assert bad.value.violations[0].field == "member_merchant_ids"


async def test_only_members_see_a_coalition_and_only_members_join_it(wallet: WalletService) -> None:
    await wallet.create_coalition("A", "co-1", "Mall partners", ["A", "B"], "SAR")
    for call in (wallet.get_coalition("co-1", "C"), wallet.join_coalition("co-1", "C"),
                 wallet.get_coalition("co-9", "A")):
        with pytest.raises(NotFound) as err:
            await call
        assert err.value.reason == "COALITION_NOT_FOUND"


async def test_a_partner_redemption_in_another_currency_is_refused(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    with pytest.raises(InvalidArgument) as err:
        await wallet.authorize_partner(auth_cmd("B", 10, currency="AED"))
    assert (err.value.reason, err.value.violations[0].field) == ("CURRENCY_MISMATCH", "amount.currency_code")


async def test_partner_redemptions_at_a_and_b_at_once_never_overspend_nor_deadlock(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 3000)
    await credit(wallet, "B", 3000)
    rng = random.Random(17)

    async def shopper(merchant: str) -> int:
        spent = 0
        for _ in range(20):
            amount = rng.randint(50, 400)
            try:
                held = await wallet.authorize_partner(auth_cmd(merchant, amount))
            except InsufficientCredit:
                continue
            if rng.random() < 0.2:
                await wallet.void(Void(merchant, held.hold.hold_id))
            else:
                spent += (await wallet.capture(Capture(merchant, held.hold.hold_id))).hold.captured
        return spent

    # Bounded: a deadlock (or a lock wait that never ends) fails the test instead of hanging it.
    spent = await asyncio.wait_for(asyncio.gather(*(shopper(m) for m in "ABAB")), timeout=120)
    left = await available(wallet, "A") + await available(wallet, "B")
    assert left >= 0 and left + sum(spent) == 6000
    async with wallet.db.read() as conn:
        rows = (await conn.execute(text(
            "SELECT issuer_merchant_id, redeemer_merchant_id, sum(amount) FROM wallet_settlements GROUP BY 1, 2"
        ))).all()
    assert sum(int(r[2]) for r in rows) <= sum(spent)


async def test_the_auditor_finds_a_settlement_row_the_lots_do_not_carry(wallet: WalletService) -> None:
    await coalition(wallet, "A", "B")
    await credit(wallet, "A", 500)
    await spend(wallet, "B", 300)
    async with wallet.db.read() as conn:
        assert await audit(conn) == []
    async with wallet.db.write() as conn:
        await conn.execute(text("UPDATE wallet_settlements SET amount = amount + 1"))
    async with wallet.db.read() as conn:
        found = [str(v) for v in await audit(conn)]
    assert any("settlement:payable is 300, expected 301" in v for v in found), found
    assert any("A owes B 301 SAR by its settlement rows, but 300 by the partner credit" in v for v in found), found
    async with wallet.db.write() as conn:  # put it back: the test's own audit must pass
        await conn.execute(text("UPDATE wallet_settlements SET amount = amount - 1"))
