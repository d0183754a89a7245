"""The wallet's service layer: one handler per use case. Each write opens a
transaction, locks the customer (Book.open), settles time-driven changes
(expired holds, maturing and expiring lots) and then does its work; nothing
is read and written back outside that lock."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    HoldExpired,
    HoldNotActive,
    InvalidArgument,
    NotFound,
)
from cashback_kit.money import Money
from cashback_kit.pb import utcnow
from cashback_kit.sqltypes import UtcDateTime
from cashback_services.wallet import operations as ops
from cashback_services.wallet import tables as t
from cashback_services.wallet.batch import Batcher, Group
from cashback_services.wallet.book import Book
from cashback_services.wallet.commands import Adjust, Authorize, RulesPort
from cashback_services.wallet.domain.ledger import HoldStatus, LotStatus
from cashback_services.wallet.metrics import ledger_committed

Clock = Callable[[], datetime]
log = logging.getLogger("cashback.wallet")


@dataclass(frozen=True)
class WalletConfig:
    hold_ttl_default: timedelta = timedelta(minutes=15)
    hold_ttl_max: timedelta = timedelta(hours=24)
    sweep_interval: float = 30.0
    sweep_batch: int = 500
    # Most credit writes grouped into one database transaction; 0 or 1 = every write alone.
    write_batch: int = 256


class StoredFailure(FailedPrecondition):
    """A failure replayed from an idempotency record (never stored again)."""


def check_prior(row: dict[str, Any] | None, key: str, fingerprint: str) -> dict[str, Any] | None:
    """An idempotency record found for a request: the same request again returns
    it (or raises its stored failure again); a different request is refused."""
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise AlreadyExists(f"idempotency_key {key!r} was already used for a different request")
    if row["error_code"]:
        raise StoredFailure(row["error_message"])
    return row


class WalletService:
    def __init__(
        self, db: Database, rules: RulesPort | None = None, *, clock: Clock = utcnow,
        config: WalletConfig | None = None,
    ) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.config = config or WalletConfig()
        self._changed: asyncio.Event | None = None
        # The grouped write path for credits (batch.py); None runs every write alone.
        self.batcher: Batcher | None = Batcher(self, self.config.write_batch) if self.config.write_batch > 1 else None

    # -- plumbing ------------------------------------------------------------------------

    @asynccontextmanager
    async def customer(self, merchant_id: str, customer_id: str) -> AsyncIterator[Book]:
        async with self.db.write() as conn:
            book = await Book.open(conn, merchant_id, customer_id, self.clock())
            assert book is not None  # only skip_locked opens return None
            await ops.settle(book)
            yield book
            await book.flush()
        ledger_committed(book.posted)
        self.notify_changed()

    def notify_changed(self) -> None:
        """Wake the event streams of this process (others poll)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_change(self, seconds: float) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass

    async def _prior(self, conn: AsyncConnection, merchant_id: str, scope: str, key: str,
                     fingerprint: str) -> dict[str, Any] | None:
        idem = t.idempotency.c
        q = select(t.idempotency).where(idem.merchant_id == merchant_id, idem.scope == scope, idem.key == key)
        row = (await conn.execute(q)).mappings().first()
        return check_prior(dict(row) if row else None, key, fingerprint)

    async def _remember(self, book: Book, scope: str, key: str, fingerprint: str, *,
                        result_id: str | None = None, error: DomainError | None = None) -> dict[str, Any]:
        row = dict(
            merchant_id=book.merchant_id, scope=scope, key=key, customer_id=book.customer_id,
            fingerprint=fingerprint, result_id=result_id, error_code=error.code if error else None,
            error_message=error.message if error else None, created_at=book.now,
        )
        await book.insert(t.idempotency, row)
        return row

    async def _remember_failure(self, merchant_id: str, customer_id: str, scope: str, key: str,
                                fingerprint: str, error: DomainError) -> None:
        """A replay must return the original failure too, so a refused request
        records its key (in its own transaction: the refused one rolled back)."""
        async with self.customer(merchant_id, customer_id) as book:
            try:
                if await self._prior(book.conn, merchant_id, scope, key, fingerprint) is not None:
                    return
            except DomainError:
                return  # a concurrent twin already recorded this key
            await self._remember(book, scope, key, fingerprint, error=error)

    # -- holds ---------------------------------------------------------------------------

    async def _idempotent(
        self, merchant_id: str, customer_id: str, scope: str, key: str, fingerprint: str,
        fresh: Callable[[Book], Awaitable[str]], result: Callable[[Book, str], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """Run `fresh` once per idempotency key: a replay returns `result` of the
        first call's result id, or raises its refusal again."""
        try:
            async with self.customer(merchant_id, customer_id) as book:
                prior = await self._prior(book.conn, merchant_id, scope, key, fingerprint)
                if prior is not None:
                    return await result(book, prior["result_id"])
                result_id = await fresh(book)
                await self._remember(book, scope, key, fingerprint, result_id=result_id)
                return await result(book, result_id)
        except StoredFailure:
            raise
        except FailedPrecondition as exc:
            await self._remember_failure(merchant_id, customer_id, scope, key, fingerprint, exc)
            raise

    async def authorize(self, cmd: Authorize) -> dict[str, Any]:
        if cmd.ttl > self.config.hold_ttl_max:
            raise InvalidArgument("hold_ttl is longer than 24 hours", field="hold_ttl")

        async def fresh(book: Book) -> str:
            hold = await ops.authorize(book, cmd.amount.currency, cmd.amount.minor, cmd.order_id, cmd.ttl)
            return str(hold["hold_id"])

        async def result(book: Book, hold_id: str) -> dict[str, Any]:
            hold = await book.hold(hold_id)
            assert hold is not None
            return hold

        return await self._idempotent(cmd.merchant_id, cmd.customer_id, "authorize", cmd.idempotency_key,
                                      cmd.fingerprint, fresh, result)

    async def _hold_owner(self, merchant_id: str, hold_id: str) -> str:
        async with self.db.read() as conn:
            q = select(t.holds.c.customer_id).where(
                t.holds.c.merchant_id == merchant_id, t.holds.c.hold_id == hold_id
            )
            customer = (await conn.execute(q)).scalar()
        if customer is None:
            raise NotFound(f"hold {hold_id!r} not found")
        return str(customer)

    async def capture(self, merchant_id: str, hold_id: str, amount: Money | None) -> dict[str, Any]:
        customer_id = await self._hold_owner(merchant_id, hold_id)
        async with self.customer(merchant_id, customer_id) as book:
            hold = await book.hold(hold_id)
            assert hold is not None
            if amount is not None and amount.currency != hold["currency"]:
                raise InvalidArgument(
                    f"amount is in {amount.currency} but the hold is in {hold['currency']}",
                    field="amount.currency_code",
                )
            want = hold["amount"] if amount is None else amount.minor
            status = hold["status"]
            if status == HoldStatus.CAPTURED.value:
                if want == hold["captured"]:
                    return hold  # a replay of the capture
                raise HoldNotActive(f"hold {hold_id!r} was already captured with {hold['captured']}")
            if status == HoldStatus.VOIDED.value:
                raise HoldNotActive(f"hold {hold_id!r} was voided")
            if status == HoldStatus.EXPIRED.value:
                raise HoldExpired(f"hold {hold_id!r} expired at {hold['expires_at'].isoformat()}")
            if want > hold["amount"]:
                raise InvalidArgument(
                    f"capture of {want} exceeds the held {hold['amount']}", field="amount.amount_minor"
                )
            await ops.capture(book, hold, want)
            return hold

    async def void(self, merchant_id: str, hold_id: str) -> dict[str, Any]:
        customer_id = await self._hold_owner(merchant_id, hold_id)
        async with self.customer(merchant_id, customer_id) as book:
            hold = await book.hold(hold_id)
            assert hold is not None
            if hold["status"] == HoldStatus.CAPTURED.value:
                raise HoldNotActive(f"hold {hold_id!r} was captured and can't be voided")
            if hold["status"] == HoldStatus.ACTIVE.value:
                await ops.release_hold(book, hold, HoldStatus.VOIDED)
            return hold

    # -- adjustments -------------------------------------------------------------------

    async def adjust(self, cmd: Adjust) -> dict[str, Any]:
        """Credits go through the grouped write path when it is on (batch.py);
        debits, which can be refused for want of funds, always run alone."""
        if self.batcher is not None and cmd.amount.minor > 0:
            key = (cmd.merchant_id, "adjust", cmd.idempotency_key)
            return await self.batcher.submit(
                (cmd.merchant_id, cmd.customer_id), lambda book, group: self._adjust_in_group(cmd, book, group),
                lambda: self._adjust_alone(cmd), idempotency=key)
        return await self._adjust_alone(cmd)

    @staticmethod
    async def _adjust_fresh(cmd: Adjust, book: Book) -> str:
        if cmd.expires_at is not None and cmd.expires_at <= book.now:
            raise InvalidArgument("expires_at must be in the future", field="expires_at")
        if cmd.expires_at is not None and cmd.amount.minor < 0:
            raise InvalidArgument("expires_at is only for credits", field="expires_at")
        return await ops.adjust(book, cmd.amount.currency, cmd.amount.minor, cmd.reason, cmd.expires_at)

    async def _adjust_alone(self, cmd: Adjust) -> dict[str, Any]:
        async def result(book: Book, tx_id: str) -> dict[str, Any]:
            return await transaction_by_id(book.conn, tx_id)

        return await self._idempotent(cmd.merchant_id, cmd.customer_id, "adjust", cmd.idempotency_key,
                                      cmd.fingerprint, lambda book: self._adjust_fresh(cmd, book), result)

    async def _adjust_in_group(self, cmd: Adjust, book: Book, group: Group) -> dict[str, Any]:
        """The same as _adjust_alone, inside a group's transaction: the idempotency
        record was read for the whole group, and a key used twice in one group is
        answered from the first use."""
        key = (cmd.merchant_id, "adjust", cmd.idempotency_key)
        prior = check_prior(group.idempotency.get(key), cmd.idempotency_key, cmd.fingerprint)
        assert book.buffer is not None
        if prior is not None:  # posted earlier in this group, or committed before it
            return book.buffer.transaction(prior["result_id"]) or await transaction_by_id(
                book.conn, prior["result_id"])
        tx_id = await self._adjust_fresh(cmd, book)
        group.idempotency[key] = await self._remember(book, "adjust", cmd.idempotency_key, cmd.fingerprint,
                                                      result_id=tx_id)
        tx = book.buffer.transaction(tx_id)
        assert tx is not None
        return tx

    # -- balances and history --------------------------------------------------------------

    @staticmethod
    def _balance_query() -> Any:
        """Everything GetBalance needs, in one statement (one round trip): is
        anything due for settling, the maintained balance row, and the next
        expiry with the amount that expires then. Each part is an index lookup;
        none reads history, so the cost does not grow with it. Built once, with
        bound parameters m, c, cur, now (building it per call cost more than
        running it)."""
        merchant_id, customer_id = bindparam("m", type_=String()), bindparam("c", type_=String())
        currency, now = bindparam("cur", type_=String()), bindparam("now", type_=UtcDateTime())
        lots, holds, b = t.lots.c, t.holds.c, t.balances.c
        me_l = and_(lots.merchant_id == merchant_id, lots.customer_id == customer_id)
        me_h = and_(holds.merchant_id == merchant_id, holds.customer_id == customer_id)
        me_b = and_(b.merchant_id == merchant_id, b.customer_id == customer_id, b.currency == currency)
        expiring = and_(me_l, lots.currency == currency, lots.status == LotStatus.AVAILABLE.value,
                        lots.remaining > 0, lots.expires_at.is_not(None))
        first = (select(lots.expires_at).where(expiring).order_by(lots.expires_at).limit(1)).scalar_subquery()
        return select(
            exists().where(me_l, or_(
                and_(lots.status == LotStatus.PENDING.value, lots.available_at <= now),
                and_(lots.status == LotStatus.AVAILABLE.value, lots.expires_at <= now),
            )),
            exists().where(me_h, holds.status == HoldStatus.ACTIVE.value, holds.expires_at <= now),
            *(select(b[f]).where(me_b).scalar_subquery() for f in ("available", "pending", "held", "debt")),
            first,
            select(func.coalesce(func.sum(lots.remaining), 0)).where(expiring, lots.expires_at == first)
            .scalar_subquery(),
        )

    async def _read_balance(self, merchant_id: str, customer_id: str, currency: str,
                            now: datetime) -> tuple[bool, dict[str, Any]]:
        row = await self.db.fetch_row(_BALANCE, {"m": merchant_id, "c": customer_id, "cur": currency, "now": now})
        assert row is not None  # a SELECT without FROM returns one row
        lots_due, holds_due, available, pending, held, debt, first, amount = row
        out: dict[str, Any] = {f: int(v or 0) for f, v in
                               (("available", available), ("pending", pending), ("held", held), ("debt", debt))}
        out["next_expiry_at"] = first
        out["next_expiry_amount"] = int(amount or 0) if first is not None else 0
        return bool(lots_due or holds_due), out

    async def get_balance(self, merchant_id: str, customer_id: str, currency: str) -> dict[str, Any]:
        """Maintained row + the next expiry, in one read. If something fell due and
        the sweeper has not come by yet, settle it first and read again, so the
        answer is never stale."""
        now = self.clock()
        due, out = await self._read_balance(merchant_id, customer_id, currency, now)
        if due:
            async with self.customer(merchant_id, customer_id):
                pass
            _, out = await self._read_balance(merchant_id, customer_id, currency, now)
        return out

    async def list_transactions(
        self, merchant_id: str, customer_id: str, page_size: int, page_token: str
    ) -> tuple[list[dict[str, Any]], str]:
        before = decode_token(page_token)
        tx = t.transactions.c
        q = select(t.transactions).where(tx.merchant_id == merchant_id, tx.customer_id == customer_id)
        if before is not None:
            q = q.where(tx.id < before)
        q = q.order_by(tx.id.desc()).limit(page_size + 1)
        async with self.db.read() as conn:
            rows = [dict(r) for r in (await conn.execute(q)).mappings().all()]
            page = rows[:page_size]
            await attach_entries(conn, page)
        token = encode_token(page[-1]["id"]) if len(rows) > page_size else ""
        return page, token

    # -- the sweeper ---------------------------------------------------------------------------

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Settle every customer with something due at `now`: matures pending
        lots, expires due lots to breakage, releases expired holds. Safe with
        several sweepers: a customer locked by someone else is skipped (who holds
        the lock settles it anyway). Returns the customers settled.

        On PostgreSQL, due lots are expired set-based (bulk_sweep), after the
        per-customer pass has released expired holds and matured due lots (the
        order settle() keeps: credit a release gives back to a lot past expiry
        expires with it)."""
        from cashback_services.wallet.bulk_sweep import expire_due

        now = now or self.clock()
        lots, holds = t.lots.c, t.holds.c
        batch = self.config.sweep_batch
        queries = [
            select(lots.merchant_id, lots.customer_id).where(
                lots.status == LotStatus.PENDING.value, lots.available_at <= now).limit(batch),
            select(holds.merchant_id, holds.customer_id).where(
                holds.status == HoldStatus.ACTIVE.value, holds.expires_at <= now).limit(batch),
        ]
        if not self.db.is_postgres:
            queries.insert(1, select(lots.merchant_id, lots.customer_id).where(
                lots.status == LotStatus.AVAILABLE.value, lots.expires_at <= now).limit(batch))
        due: dict[tuple[str, str], None] = {}
        async with self.db.read() as conn:
            for q in queries:
                for m, c in (await conn.execute(q)).all():
                    due[(m, c)] = None
        settled: set[tuple[str, str]] = set()
        for merchant_id, customer_id in due:
            try:
                async with self.db.write() as conn:
                    book = await Book.open(conn, merchant_id, customer_id, now, skip_locked=self.db.is_postgres)
                    if book is None:
                        continue
                    await ops.settle(book)
                    await book.flush()
                ledger_committed(book.posted)
                settled.add((merchant_id, customer_id))
            except Exception:
                log.exception("sweep failed for a customer", extra={"merchant_id": merchant_id})
        if self.db.is_postgres:
            try:
                settled |= (await expire_due(self.db, now, batch_customers=max(batch, 1000))).customers
            except Exception:
                log.exception("bulk expiry failed")
        if settled:
            self.notify_changed()
        return len(settled)


_BALANCE = WalletService._balance_query()


def encode_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": int(last_id)}).encode()).decode()


def decode_token(token: str) -> int | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        before = data["before"]
        if not isinstance(before, int) or before < 0:
            raise ValueError("bad cursor")
        return before
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidArgument("page_token is not a token this service issued", field="page_token") from exc


async def attach_entries(conn: AsyncConnection, txs: list[dict[str, Any]]) -> None:
    if not txs:
        return
    e = t.entries.c
    rows = (await conn.execute(
        select(e.transaction_id, e.account, e.currency, e.amount)
        .where(e.transaction_id.in_([tx["transaction_id"] for tx in txs])).order_by(e.id)
    )).mappings().all()
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_tx.setdefault(r["transaction_id"], []).append(dict(r))
    for tx in txs:
        tx["entries"] = by_tx.get(tx["transaction_id"], [])


async def transaction_by_id(conn: AsyncConnection, transaction_id: str) -> dict[str, Any]:
    row = (await conn.execute(
        select(t.transactions).where(t.transactions.c.transaction_id == transaction_id)
    )).mappings().first()
    if row is None:
        raise NotFound(f"transaction {transaction_id!r} not found")
    tx = dict(row)
    await attach_entries(conn, [tx])
    return tx
