"""A write that spends loads only the lots it spends (migration 0009): the spendable
lots in spend order until they cover the amount, however many the customer has,
and every one of them when they do not cover it. On a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from cashback_kit.errors import InsufficientCredit
from cashback_kit.money import Money
from cashback_kit.pgtx import transaction
from cashback_services.wallet.adapters.repository import Want, load
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.service_layer.commands import Adjust
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.helpers import C, M, balance, credit, hold, key

# Twelve lots of 100, expiring in 12, 11, ... 1 days, then two that never expire: spend
# order is the reverse of credit order for the first twelve, the never-expiring ones last.
EXPIRING = 12


async def many_lots(wallet: WalletService) -> list[str]:
    """Credit the lots; returns their ids in spend order."""
    ids = [
        (await credit(wallet, 100, expires_in=timedelta(days=EXPIRING - i))).transaction.transaction_id
        for i in range(EXPIRING)
    ]
    ids += [(await credit(wallet, 100)).transaction.transaction_id for _ in range(2)]
    async with transaction(wallet.db) as tx:
        rows = await tx.fetch(
            "SELECT lot_id FROM wallet_lots WHERE merchant_id = $1 AND customer_id = $2 "
            "ORDER BY expires_at NULLS LAST, created_at, lot_id",
            M,
            C,
        )
    assert len(rows) == len(ids)
    return [r["lot_id"] for r in rows]


async def loaded(wallet: WalletService, want: Want) -> Customer:
    async with transaction(wallet.db) as tx:
        return (await load(tx, wallet.clock(), want)).only()


async def test_an_authorization_loads_only_the_lots_that_cover_it_in_spend_order(wallet: WalletService) -> None:
    order = await many_lots(wallet)
    upto = await loaded(wallet, Want(customers=((M, C),), spend_upto=((M, C, "SAR", 250),)))
    assert sorted(upto.lots) == sorted(order[:3])
    every = await loaded(wallet, Want(customers=((M, C),), spend=("SAR",)))
    assert sorted(every.lots) == sorted(order)
    # The domain takes the same lots from the prefix as from every lot.
    assert (
        [a.lot_id for a in upto.authorize("o1", "SAR", 250, timedelta(minutes=5)).allocations]
        == [a.lot_id for a in every.authorize("o1", "SAR", 250, timedelta(minutes=5)).allocations]
        == order[:3]
    )
    h = await hold(wallet, 250)
    assert [(a.lot_id, a.amount) for a in h.allocations] == [(order[0], 100), (order[1], 100), (order[2], 50)]


async def test_when_the_lots_do_not_cover_the_amount_all_are_loaded_and_the_refusal_says_what_there_is(
    wallet: WalletService,
) -> None:
    order = await many_lots(wallet)
    upto = await loaded(wallet, Want(customers=((M, C),), spend_upto=((M, C, "SAR", 10_000),)))
    assert sorted(upto.lots) == sorted(order)
    with pytest.raises(InsufficientCredit, match="1400 available, 1401 asked"):
        await hold(wallet, 1401)
    with pytest.raises(InsufficientCredit, match="1400 available, 1401 asked"):
        await wallet.adjust(Adjust(M, C, Money("SAR", -1401), "debit", key(), key(), None))
    assert (await balance(wallet)).available == 1400


async def test_spends_of_one_customer_in_one_write_group_load_enough_for_all_of_them(wallet: WalletService) -> None:
    order = await many_lots(wallet)
    merged = Want.merge(
        [
            Want(customers=((M, C),), spend_upto=((M, C, "SAR", 250),)),
            Want(customers=((M, C),), spend_upto=((M, C, "SAR", 250),)),
        ]
    )
    assert merged.spend_upto == ((M, C, "SAR", 500),)
    # Submitted in the same moment, the three land in one group (one transaction) and each
    # finds the credit it needs; a load bounded by one call's amount would refuse the others.
    statements: list[str] = []
    wallet.db.fast_path_listeners.append(lambda sql, _args: statements.append(sql))
    a, b, debit = await asyncio.gather(
        hold(wallet, 250),
        hold(wallet, 250),
        wallet.adjust(Adjust(M, C, Money("SAR", -300), "debit", key(), key(), None)),
    )
    assert statements.count("BEGIN") == 1
    assert [x.lot_id for x in a.allocations] == order[:3]
    assert [x.lot_id for x in b.allocations] == order[2:5]
    assert debit.transaction.amount == -300
    bal = await balance(wallet)
    assert (bal.available, bal.held) == (1400 - 800, 500)
