"""Small builders shared by the wallet tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.money import Money
from cashback_services.wallet.adapters.customer_reads import BalanceView
from cashback_services.wallet.adapters.repository import Want
from cashback_services.wallet.domain.customer import AwardLine
from cashback_services.wallet.domain.model import Hold
from cashback_services.wallet.main import MIGRATIONS
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


async def pending_lot(wallet: WalletService, customer: str, amount: int, available_in: timedelta,
                      expires_in: timedelta | None = None, order_id: str | None = None) -> None:
    """A lot as an award credits it: the domain operation itself, no rules involved."""
    now = wallet.clock()
    line = AwardLine("camp", "SAR", amount, now + available_in, now + expires_in if expires_in else None)
    async with wallet.locked(Want(customers=((M, customer),))) as state:
        state.only().credit_awards([line], "order", order_id or f"order-{customer}-{amount}")


async def lock_customer(conn: AsyncConnection, customer: str) -> None:
    """Hold a customer's row lock in `conn`'s transaction, as a concurrent write would."""
    row = (await conn.execute(text(
        "SELECT 1 FROM wallet_customers WHERE merchant_id = :m AND customer_id = :c FOR UPDATE"),
        {"m": M, "c": customer})).first()
    assert row is not None, f"customer {customer} has no row to lock"


def migrate_to(revision: str) -> Callable[[Connection], None]:
    """For `conn.run_sync`: upgrade the wallet schema to "head" or downgrade it to `revision`."""

    def run(conn: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes.update(connection=conn, version_table="wallet_alembic_version")
        (command.upgrade if revision == "head" else command.downgrade)(cfg, revision)

    return run
