"""Small builders shared by the wallet tests."""

from __future__ import annotations

import uuid
from datetime import timedelta

from cashback_kit.money import Money
from cashback_services.wallet.adapters.customer_reads import BalanceView
from cashback_services.wallet.domain.model import Hold
from cashback_services.wallet.service_layer.commands import Adjust, Authorize
from cashback_services.wallet.service_layer.handlers import Posted, WalletService

M, C = "m1", "c1"


def key() -> str:
    return uuid.uuid4().hex


async def credit(wallet: WalletService, minor: int, *, customer: str = C, currency: str = "SAR",
                 expires_in: timedelta | None = None) -> Posted:
    expires_at = wallet.clock() + expires_in if expires_in else None
    return await wallet.adjust(Adjust(M, customer, Money(currency, minor), "test credit", key(), key(), expires_at))


async def hold(wallet: WalletService, minor: int, *, customer: str = C, currency: str = "SAR",
               ttl: timedelta = timedelta(minutes=15), order_id: str = "o1", idem: str | None = None) -> Hold:
    idem = idem or key()
    cmd = Authorize(M, customer, order_id, Money(currency, minor), ttl, idem, f"fp-{idem}-{minor}-{customer}")
    return (await wallet.authorize(cmd)).hold


async def balance(wallet: WalletService, customer: str = C, currency: str = "SAR") -> BalanceView:
    return await wallet.get_balance(M, customer, currency)
