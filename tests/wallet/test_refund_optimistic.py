"""RefundOrder's optimistic write (migration 0013): the decision's load, rules'
reversal, then a write made only if nothing the decision read has changed --
else the refund is decided again under the customer's lock.

The service layer on a real database, talking to the REAL rules service over
gRPC. A write on the same customer is made to land exactly in the window the
optimistic write must survive: after the refund's load, while rules answers
(the rules client below runs it once rules has reversed). The statement lists
prove which path each refund took; the auditor checks the books after every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import partial

import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from sqlalchemy import text

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.errors import AlreadyExists, FailedPrecondition, NotFound
from cashback_kit.money import Money
from cashback_services.rules.bootstrap import bootstrap
from cashback_services.wallet.adapters import repository
from cashback_services.wallet.adapters.rules_client import GrpcRules
from cashback_services.wallet.domain.orders import Reversed
from cashback_services.wallet.entrypoints.servicer import order_command
from cashback_services.wallet.service_layer import awards
from cashback_services.wallet.service_layer.commands import Authorize, Capture, RefundOrder
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.keys import TEST_KEYS
from tests.support.servers import running_service
from tests.support.sql import recorded
from tests.wallet.conftest import Clock
from tests.wallet.helpers import migrate_to
from tests.wallet.stack import Stack, order

pytestmark = pytest.mark.postgres

PEEK, WRITE_IF = (" ".join(sql.split()) for sql in (repository._PEEK, repository._WRITE_IF))
LOCKED = ["BEGIN", "SELECT wallet_load($1::jsonb)::text", "SELECT wallet_write($1::jsonb)", "COMMIT"]


class RulesWithARacer(GrpcRules):
    """The real rules client. It counts reversals, and runs `racer` (once) after rules has
    reversed and before the wallet writes the refund."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.reversals = 0
        self.racer: Callable[[], Awaitable[object]] | None = None

    async def reverse_order(self, merchant_id: str, order_id: str, refund_id: str, amount: Money) -> Reversed:
        self.reversals += 1
        answer = await super().reverse_order(merchant_id, order_id, refund_id, amount)
        racer, self.racer = self.racer, None
        if racer is not None:
            await racer()
        return answer


@pytest.fixture
async def wired(pg_url: str, wallet_db: Database,
                clock: Clock) -> AsyncIterator[tuple[Stack, WalletService, RulesWithARacer]]:
    async with running_service("rules", database_url=pg_url, bootstrap=partial(bootstrap, now=clock)) as rules:
        settings = Settings.from_env("wallet", {"RULES_TARGET": rules.target,
                                                "CASHBACK_SERVICE_KEY": TEST_KEYS["service"]})
        client = RulesWithARacer(settings)
        yield Stack(rules, rules), WalletService(wallet_db, client, clock=clock), client
        await client.close()


Awarded = tuple[WalletService, RulesWithARacer]


@pytest.fixture
async def awarded(wired: tuple[Stack, WalletService, RulesWithARacer], clock: Clock) -> Awarded:
    """Order o1 of customer c1 awarded: 1,000 of cashback, pending for 14 days."""
    stack, wallet, rules = wired
    await stack.campaign(bps=1000, pending_days=14)
    await _award(wallet, clock, "o1", 10_000)
    return wallet, rules


async def _award(wallet: WalletService, clock: Clock, order_id: str, merchandise: int, customer: str = "c1") -> None:
    o = order(order_id, merchandise, customer=customer, placed_at=clock.now)
    await awards.award_order(wallet, order_command(pb.AwardOrderRequest(order=o), clock.now))


async def _count(db: Database, table: str) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


def _shapes(seen: list[tuple[str, list[str]]]) -> list[str]:
    return [sql for sql, _ in seen]


def _refund(refund_id: str, minor: int, order_id: str = "o1", fingerprint: str = "fp") -> RefundOrder:
    return RefundOrder("m1", order_id, refund_id, Money("SAR", minor), fingerprint)


async def test_a_refund_nobody_races_is_two_statements_and_asks_rules_once(
    awarded: Awarded
) -> None:
    wallet, rules = awarded
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 4000))
    assert _shapes(seen) == [PEEK, WRITE_IF]
    assert (result.cashback_reversed.minor, result.debt.minor) == (400, 0)
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 600
    assert rules.reversals == 1


async def test_a_capture_between_the_refunds_read_and_its_write_lands_and_the_refund_is_decided_again(
    wired: tuple[Stack, WalletService, RulesWithARacer], clock: Clock
) -> None:
    stack, wallet, rules = wired
    await stack.campaign(bps=1000)
    await _award(wallet, clock, "o1", 10_000)  # 1,000 of cashback, available at once
    clock.advance(seconds=1)
    hold = (await wallet.authorize(Authorize("m1", "c1", "o2", Money("SAR", 600), timedelta(minutes=15), "k1",
                                             "fp-k1"))).hold
    captured: list[object] = []
    rules.racer = lambda: _capture(wallet, hold.hold_id, captured)
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 10_000))
    # The capture's four statements landed between the refund's read and its write, which then wrote
    # nothing: the refund ran again on the locked path.
    assert _shapes(seen) == [PEEK, *LOCKED, WRITE_IF, *LOCKED]
    assert captured == ["captured"]
    # Both count: the 600 spent from the order's cashback cannot be taken back, so it is debt.
    assert (result.cashback_reversed.minor, result.debt.minor) == (400, 600)
    b = await wallet.get_balance("m1", "c1", "SAR")
    assert (b.available, b.held, b.debt) == (0, 0, 600)


async def _capture(wallet: WalletService, hold_id: str, out: list[object]) -> None:
    done = await wallet.capture(Capture("m1", hold_id))
    out.append(done.hold.status)


async def test_an_award_between_the_refunds_read_and_its_write_lands_and_the_refund_is_decided_again(
    awarded: Awarded, clock: Clock
) -> None:
    wallet, rules = awarded
    rules.racer = lambda: _award(wallet, clock, "o2", 20_000)
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 5000))
    assert _shapes(seen) == [PEEK, *LOCKED, WRITE_IF, *LOCKED]
    assert result.cashback_reversed.minor == 500
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 1000 - 500 + 2000


async def test_the_sweeper_maturing_the_orders_cashback_meanwhile_sends_the_refund_to_the_locked_path(
    awarded: Awarded, clock: Clock
) -> None:
    wallet, rules = awarded

    async def sweep_later() -> None:  # the bulk sweep settles lots without wallet_write
        clock.advance(days=15)
        await wallet.sweep_once()

    rules.racer = sweep_later
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 3000))
    shapes = _shapes(seen)
    assert (shapes[0], shapes[-5:]) == (PEEK, [WRITE_IF, *LOCKED])
    # Decided on the lot as it is now (matured): taken back from available, not from pending.
    assert (result.cashback_reversed.minor, result.debt.minor) == (300, 0)
    b = await wallet.get_balance("m1", "c1", "SAR")
    assert (b.pending, b.available) == (0, 700)


async def test_a_write_on_another_customer_meanwhile_does_not_send_the_refund_to_the_locked_path(
    awarded: Awarded, clock: Clock
) -> None:
    wallet, rules = awarded
    rules.racer = lambda: _award(wallet, clock, "o9", 20_000, customer="c2")
    with recorded(wallet.db) as seen:
        await awards.refund_order(wallet, _refund("r1", 5000))
    assert _shapes(seen) == [PEEK, *LOCKED, WRITE_IF]
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 500
    assert (await wallet.get_balance("m1", "c2", "SAR")).pending == 2000


async def test_a_twin_that_commits_the_same_refund_meanwhile_is_answered_from_its_row(
    awarded: Awarded
) -> None:
    wallet, rules = awarded
    twin: list[object] = []

    async def the_twin() -> None:
        twin.append(await awards.refund_order(wallet, _refund("r1", 3000)))

    rules.racer = the_twin
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 3000))
    # The twin: its read and its write. Ours: read, write refused, the locked load finds the twin's row
    # and writes nothing.
    assert _shapes(seen) == [PEEK, PEEK, WRITE_IF, WRITE_IF, *LOCKED[:2], "COMMIT"]
    assert twin == [result]
    assert (result.cashback_reversed.minor, result.debt.minor) == (300, 0)
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 700
    assert (await _count(wallet.db, "wallet_refunds"), await _count(wallet.db, "rules_refunds")) == (1, 1)


async def test_a_replay_is_answered_from_the_wallets_row_in_one_statement_without_asking_rules(
    awarded: Awarded
) -> None:
    wallet, rules = awarded
    first = await awards.refund_order(wallet, _refund("r1", 2500))
    with recorded(wallet.db) as seen:
        again = await awards.refund_order(wallet, _refund("r1", 2500))
    assert _shapes(seen) == [PEEK]
    assert again == first
    with pytest.raises(AlreadyExists):  # the same refund id with another payload
        await awards.refund_order(wallet, _refund("r1", 2600, fingerprint="other"))
    assert rules.reversals == 1
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 750


@pytest.mark.parametrize(("order_id", "minor", "error"), [
    ("o1", 10_001, FailedPrecondition),  # more than the order
    ("o-unknown", 100, NotFound),  # an order this wallet never awarded
])
async def test_a_refund_the_wallet_refuses_never_reaches_rules(
    awarded: Awarded, order_id: str, minor: int,
    error: type[Exception]
) -> None:
    wallet, rules = awarded
    with recorded(wallet.db) as seen, pytest.raises(error):
        await awards.refund_order(wallet, _refund("r1", minor, order_id=order_id))
    assert _shapes(seen) == [PEEK]
    assert (rules.reversals, await _count(wallet.db, "rules_refunds")) == (0, 0)
    assert await _count(wallet.db, "wallet_refunds") == 0


async def test_a_refund_above_what_is_left_after_an_earlier_one_never_reaches_rules(
    awarded: Awarded
) -> None:
    wallet, rules = awarded
    await awards.refund_order(wallet, _refund("r1", 6000))
    with pytest.raises(FailedPrecondition):
        await awards.refund_order(wallet, _refund("r2", 4001))
    assert (rules.reversals, await _count(wallet.db, "rules_refunds")) == (1, 1)
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 400


async def test_a_refund_whose_cashback_fell_due_matures_it_in_the_read_and_takes_it_back_from_available(
    awarded: Awarded, clock: Clock
) -> None:
    wallet, _ = awarded
    clock.advance(days=15)  # due, and nothing has loaded the customer since
    with recorded(wallet.db) as seen:
        result = await awards.refund_order(wallet, _refund("r1", 3000))
    assert _shapes(seen) == [PEEK, WRITE_IF]
    assert (result.cashback_reversed.minor, result.debt.minor) == (300, 0)
    b = await wallet.get_balance("m1", "c1", "SAR")
    assert (b.pending, b.available) == (0, 700)


async def test_the_downgrade_drops_the_three_functions_and_the_upgrade_brings_them_back(wallet_db: Database) -> None:
    async def functions() -> list[str]:
        async with wallet_db.read() as conn:
            found = await conn.execute(text(
                "SELECT proname FROM pg_proc WHERE proname IN "
                "('wallet_load_order', 'wallet_order_version', 'wallet_write_if') ORDER BY 1"))
            return list(found.scalars())

    assert await functions() == ["wallet_load_order", "wallet_order_version", "wallet_write_if"]
    async with wallet_db.write() as conn:
        await conn.run_sync(migrate_to("0012"))
    assert await functions() == []
    async with wallet_db.write() as conn:
        await conn.run_sync(migrate_to("head"))
    assert await functions() == ["wallet_load_order", "wallet_order_version", "wallet_write_if"]
