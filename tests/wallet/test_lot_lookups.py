"""The checks run on every balance read and every write -- GetBalance's "anything due?"
and wallet_settle_lots' "any lot past its expiry?" -- read only what is due, however many
lots the customer has (migration 0010). Counted by PostgreSQL itself: the wallet_lots rows
the checks read, from the transaction's own statistics (pg_stat_xact_*), on a real database.
The rest of the wallet's behaviour with 0010 is the rest of tests/wallet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as pg_dialect

from cashback_kit.db import CompiledStatement
from cashback_kit.pgtx import Statements, connection
from cashback_services.wallet.adapters.customer_reads import _BALANCE
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.helpers import C, M, balance, credit, migrate_to

LOTS = 3000

# wallet_lots rows read so far in this transaction, by sequential scans and through every index.
_READ = """
    SELECT coalesce((SELECT seq_tup_read FROM pg_stat_xact_user_tables WHERE relname = 'wallet_lots'), 0)
         + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) FROM pg_index
             WHERE indrelid = 'wallet_lots'::regclass)
"""


@asynccontextmanager
async def many_lots(wallet: WalletService) -> AsyncIterator[Statements]:
    """A transaction (rolled back at the end) in which the customer has LOTS more available lots:
    most spent to nothing, as a customer who earns on every order gathers them, one expiring each day
    from tomorrow on; and other customers have LOTS lots past their expiry that the sweeper has not
    reached yet (so neither the customer's lots nor the table's past-expiry lots can be walked), and
    the table has 20 x LOTS lots of other customers beside them."""
    await credit(wallet, 10)
    async with connection(wallet.db) as s:
        await s.execute("BEGIN")
        try:
            # The customer's lots; other customers' lots past their expiry, waiting for the sweeper;
            # and the rest of the table: many customers with a few lots each, so that, as in
            # production, this customer is a small share of it.
            await s.execute(
                """INSERT INTO wallet_lots (lot_id, merchant_id, customer_id, currency, source, amount, remaining,
                                            held, spent, expired, reversed, debited, status, available_at,
                                            expires_at, created_at)
                   SELECT lot_id, $1, customer_id, 'SAR', 'adjust', 100, 100 - spent, 0, spent, 0, 0, 0,
                          'available', $3::timestamptz + age, $3::timestamptz + expires_in, $3::timestamptz + age
                     FROM (SELECT 'lot-many-' || i, $2, CASE WHEN i % 10 = 0 THEN 0 ELSE 100 END,
                                  interval '0', make_interval(days => i)
                             FROM generate_series(1, $4) i
                           UNION ALL
                           SELECT 'lot-others-' || i, 'c-other-' || i % 100, 0, interval '-30 days', interval '-1 day'
                             FROM generate_series(1, $4) i
                           UNION ALL
                           SELECT 'lot-rest-' || i, 'c-rest-' || i % ($4 * 2), 0, interval '0',
                                  make_interval(days => 1 + i % 365)
                             FROM generate_series(1, $4 * 20) i) AS x(lot_id, customer_id, spent, age, expires_in)""",
                M,
                C,
                wallet.clock(),
                LOTS,
            )
            await s.execute(
                "UPDATE wallet_balances SET available = available + 100 * ($3 / 10)"
                " WHERE merchant_id = $1 AND customer_id = $2 AND currency = 'SAR'",
                M,
                C,
                LOTS,
            )
            await s.execute("ANALYZE wallet_lots")
            yield s
        finally:
            await s.execute("ROLLBACK")


# GetBalance's statement reduced to its "anything due?" columns (lots, holds); the rest of it
# (the balance row, the next expiry) is not what this migration changed.
_DUE_CHECK = CompiledStatement(_BALANCE.with_only_columns(*list(_BALANCE.selected_columns)[:2]), pg_dialect())


async def rows_read(s: Statements, sql: str, *args: object) -> tuple[object, int]:
    """The statement's first value, and the wallet_lots rows it read."""
    before = await s.fetchval(_READ)
    value = await s.fetchval(sql, *args)
    return value, int(await s.fetchval(_READ) - before)


async def checks(s: Statements, now: datetime) -> tuple[bool, int, bool, int]:
    """(GetBalance says something is due, rows its check read,
    wallet_settle_lots expired something, rows it read)."""
    due, due_read = await rows_read(s, _DUE_CHECK.sql, *_DUE_CHECK.args({"m": M, "c": C, "now": now}))
    expired, settle_read = await rows_read(
        s,
        "SELECT coalesce(sum(expired_lots), 0) > 0 FROM wallet_settle_lots(ARRAY[$1]::text[],"
        " ARRAY[$2]::text[], $3, false, true)",
        M,
        C,
        now,
    )
    return bool(due), due_read, bool(expired), settle_read


# A prepared statement (asyncpg's, PL/pgSQL's) may be planned once for any values: the lookups must hold then too.
@pytest.mark.parametrize("plans", ["auto", "force_generic_plan"])
async def test_with_thousands_of_lots_nothing_due_is_answered_by_lookup(wallet: WalletService, plans: str) -> None:
    async with many_lots(wallet) as s:
        await s.execute(f"SET LOCAL plan_cache_mode = {plans}")
        due, due_read, expired, settle_read = await checks(s, wallet.clock())
    assert (due, expired) == (False, False)
    # The checks before 0010 walked every available lot of the customer (LOTS + 1 rows).
    # Now one index entry each: the customer's earliest expiry, tomorrow.
    assert (due_read, settle_read) == (1, 1)


async def test_a_lot_past_its_expiry_among_thousands_is_found_and_expired(wallet: WalletService) -> None:
    async with many_lots(wallet) as s:
        due, due_read, expired, settle_read = await checks(s, wallet.clock() + timedelta(days=1, seconds=1))
        left = await s.fetchval("SELECT count(*) FROM wallet_lots WHERE status = 'available' AND customer_id = $1", C)
    # Day one's lot is past its expiry: the check stops at it; the settlement reads it a few
    # times (to decide, to collect it, to update it by its key), never the other lots.
    assert (due, expired, left) == (True, True, LOTS)
    assert due_read == 1 and settle_read <= 5


async def test_credit_that_came_back_to_an_expired_lot_is_still_found(wallet: WalletService) -> None:
    async with many_lots(wallet) as s:
        await s.execute("UPDATE wallet_lots SET status = 'expired' WHERE lot_id = 'lot-many-10'")
        due, due_read, expired, settle_read = await checks(s, wallet.clock())
    # GetBalance's check is about time passing (pending to mature, available to expire);
    # the next write's settlement expires this credit, without walking the available lots.
    assert (due, expired) == (False, True)
    assert due_read == 1 and settle_read <= 5
    # All of it was rolled back.
    assert (await balance(wallet)).available == 10


async def test_the_downgrade_restores_the_previous_check_and_drops_the_index(wallet: WalletService) -> None:
    async def state() -> tuple[bool, bool]:
        async with wallet.db.write() as conn:
            body = (await conn.execute(text("SELECT pg_get_functiondef('wallet_settle_lots'::regproc)"))).scalar()
            index = (await conn.execute(text("SELECT to_regclass('ix_wallet_lots_available_expiry')"))).scalar()
        return "OR (l.status = 'expired' AND l.remaining > 0)) THEN" in str(body), index is not None

    assert await state() == (False, True)
    async with wallet.db.write() as conn:
        await conn.run_sync(migrate_to("0009"))
    assert await state() == (True, False)
    async with wallet.db.write() as conn:
        await conn.run_sync(migrate_to("head"))
    assert await state() == (False, True)
