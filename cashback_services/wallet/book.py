"""The unit of work for one customer: every ledger write for a customer goes
through a Book, inside one database transaction, after the customer's row is
locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one writer at a time).

The Book posts balanced transactions (entries + maintained balance rows),
writes the outbox event of every change, and reads/updates the customer's
lots and holds. Because everything happens under the lock, reading a row and
writing it back is safe here and nowhere else."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, String, and_, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import keys_in
from cashback_services.wallet import tables as t
from cashback_services.wallet.domain.ledger import (
    BALANCE_COLUMNS,
    Account,
    EventType,
    TxType,
    check_balanced,
    customer_delta,
)

BALANCE_FIELDS = ("available", "pending", "held", "debt")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class NegativeBalance(AssertionError):
    """A bug: a posting would take a customer balance below zero."""


class WriteBuffer:
    """The inserts of a group of Books sharing one transaction (the grouped write
    path, batch.py), written at the end with one multi-row INSERT per table, in
    an order that respects references. Lots inserted here and changed again in
    the same group (an award that matures at once) are changed in the buffer."""

    ORDER = (t.transactions, t.entries, t.lots, t.events, t.idempotency, t.awards)

    def __init__(self) -> None:
        self.rows: dict[Any, list[dict[str, Any]]] = {table: [] for table in self.ORDER}
        self._lots: set[str] = set()
        self.customer_updates: dict[tuple[str, str], dict[str, Any]] = {}
        self._txs: dict[str, dict[str, Any]] = {}

    def add(self, table: Any, rows: list[dict[str, Any]]) -> None:
        self.rows[table].extend(rows)
        if table is t.lots:
            self._lots.update(r["lot_id"] for r in rows)
        elif table is t.transactions:
            self._txs.update((r["transaction_id"], {**r, "entries": []}) for r in rows)
        elif table is t.entries:
            for r in rows:
                self._txs[r["transaction_id"]]["entries"].append(
                    {k: r[k] for k in ("transaction_id", "account", "currency", "amount")})

    def holds_lot(self, lot_id: str) -> bool:
        return lot_id in self._lots

    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values()) + len(self.customer_updates)

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """A transaction posted in this group, as service.transaction_by_id reads it."""
        return self._txs.get(transaction_id)

    async def write(self, conn: AsyncConnection) -> None:
        for table in self.ORDER:
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in self.rows[table]:
                by_columns.setdefault(tuple(row), []).append(row)
            for rows in by_columns.values():
                await conn.execute(insert(table), rows)
        by_columns = {}
        for (merchant_id, customer_id), values in self.customer_updates.items():
            by_columns.setdefault(tuple(sorted(values)), []).append(
                {"m": merchant_id, "c": customer_id, **values})
        c = t.customers.c
        for cols, params in by_columns.items():
            await conn.execute(
                update(t.customers).where(c.merchant_id == bindparam("m"), c.customer_id == bindparam("c"))
                .values({col: bindparam(col) for col in cols}), params)


class Book:
    def __init__(self, conn: AsyncConnection, merchant_id: str, customer_id: str, now: datetime) -> None:
        self.conn = conn
        # When set, inserts wait in the buffer for the group's one write (batch.py).
        self.buffer: WriteBuffer | None = None
        self.merchant_id = merchant_id
        self.customer_id = customer_id
        self.now = now
        self._balances: dict[str, dict[str, int]] = {}
        self._stored: set[str] = set()
        self._dirty: set[str] = set()
        self.customer: dict[str, Any] = {}
        # Lots inserted in this transaction, as inserted and changed since.
        self.inserted_lots: dict[str, dict[str, Any]] = {}
        # Types of the ledger transactions posted, counted in metrics once committed.
        self.posted: list[str] = []

    # -- locking -----------------------------------------------------------------

    @classmethod
    async def open(
        cls, conn: AsyncConnection, merchant_id: str, customer_id: str, now: datetime, *, skip_locked: bool = False
    ) -> Book | None:
        """Lock the customer's row (creating it first). With skip_locked, returns
        None when another transaction holds it (the sweeper moves on)."""
        books = await cls.open_many(conn, [(merchant_id, customer_id)], now, skip_locked=skip_locked)
        return books.get((merchant_id, customer_id))

    @classmethod
    async def open_many(
        cls, conn: AsyncConnection, keys: list[tuple[str, str]], now: datetime, *, skip_locked: bool = False
    ) -> dict[tuple[str, str], Book]:
        """Lock several customers' rows (creating them first) with three statements
        in all, in (merchant, customer) order so that two groups never deadlock."""
        keys = sorted(set(keys))
        values = [{"merchant_id": m, "customer_id": c, "created_at": now} for m, c in keys]
        if conn.dialect.name == "postgresql":
            stmt: Any = pg_insert(t.customers).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(t.customers).on_conflict_do_nothing()
        await conn.execute(stmt, values)
        cu, b = t.customers.c, t.balances.c
        q = (select(t.customers).where(keys_in(conn, [cu.merchant_id, cu.customer_id], keys))
             .order_by(cu.merchant_id, cu.customer_id).with_for_update(skip_locked=skip_locked))
        books: dict[tuple[str, str], Book] = {}
        for row in (await conn.execute(q)).mappings().all():
            book = cls(conn, row["merchant_id"], row["customer_id"], now)
            book.customer = dict(row)
            books[(book.merchant_id, book.customer_id)] = book
        if books:
            rows = (await conn.execute(
                select(t.balances).where(keys_in(conn, [b.merchant_id, b.customer_id], list(books)))
            )).mappings().all()
            for r in rows:
                book = books[(r["merchant_id"], r["customer_id"])]
                book._balances[r["currency"]] = {f: int(r[f]) for f in BALANCE_FIELDS}
                book._stored.add(r["currency"])
        return books

    async def insert(self, table: Any, *rows: dict[str, Any]) -> None:
        """Insert now, or into the group's buffer when this Book is in a group."""
        if self.buffer is not None:
            self.buffer.add(table, list(rows))
        else:
            await self.conn.execute(insert(table), list(rows) if len(rows) > 1 else rows[0])

    def _me(self, table: Any) -> Any:
        return and_(table.c.merchant_id == self.merchant_id, table.c.customer_id == self.customer_id)

    # -- balances and postings ------------------------------------------------------

    def balance(self, currency: str) -> dict[str, int]:
        return self._balances.setdefault(currency, dict.fromkeys(BALANCE_FIELDS, 0))

    async def post(
        self,
        tx_type: TxType,
        currency: str,
        postings: dict[Account, int],
        *,
        order_id: str | None = None,
        hold_id: str | None = None,
        refund_id: str | None = None,
        reason: str | None = None,
    ) -> str:
        postings = {acc: amt for acc, amt in postings.items() if amt != 0}
        check_balanced(postings)
        if not postings:
            raise ValueError("empty ledger transaction")
        bal = self.balance(currency)
        for acc, amt in postings.items():
            if acc in BALANCE_COLUMNS:
                col, sign = BALANCE_COLUMNS[acc]
                bal[col] += sign * amt
                if bal[col] < 0:
                    raise NegativeBalance(f"{col} would go to {bal[col]} for {self.customer_id}")
        self._dirty.add(currency)
        tx_id = new_id("tx")
        self.posted.append(tx_type.value)
        await self.insert(t.transactions, dict(
            transaction_id=tx_id, merchant_id=self.merchant_id, customer_id=self.customer_id,
            type=tx_type.value, currency=currency, amount=customer_delta(postings), order_id=order_id,
            hold_id=hold_id, refund_id=refund_id, reason=reason, created_at=self.now,
        ))
        await self.insert(t.entries, *(
            {"transaction_id": tx_id, "merchant_id": self.merchant_id, "customer_id": self.customer_id,
             "account": acc.value, "currency": currency, "amount": amt}
            for acc, amt in postings.items()
        ))
        return tx_id

    async def event(
        self, type_: EventType, currency: str, amount: int, *, transaction_id: str | None = None,
        order_id: str | None = None, lot_id: str | None = None, hold_id: str | None = None,
        available_at: datetime | None = None, expires_at: datetime | None = None,
    ) -> None:
        await self.insert(t.events, dict(
            event_id=new_id("ev"), type=type_.value, merchant_id=self.merchant_id,
            customer_id=self.customer_id, currency=currency, amount=amount, order_id=order_id,
            lot_id=lot_id, hold_id=hold_id, transaction_id=transaction_id, available_at=available_at,
            expires_at=expires_at, occurred_at=self.now,
        ))

    async def touch_customer(self, **values: Any) -> None:
        if self.buffer is not None:
            self.buffer.customer_updates.setdefault((self.merchant_id, self.customer_id), {}).update(values)
        else:
            await self.conn.execute(update(t.customers).where(self._me(t.customers)).values(**values))
        self.customer.update(values)

    async def flush(self) -> None:
        """Write the maintained balance rows changed in this transaction."""
        await flush_balances(self.conn, [self])

    # -- lots -------------------------------------------------------------------------

    async def lots(self, *where: Any) -> list[dict[str, Any]]:
        q = select(t.lots).where(self._me(t.lots), *where).order_by(t.lots.c.created_at, t.lots.c.lot_id)
        return [dict(r) for r in (await self.conn.execute(q)).mappings().all()]

    async def lot(self, lot_id: str) -> dict[str, Any]:
        rows = await self.lots(t.lots.c.lot_id == lot_id)
        if not rows:
            raise LookupError(f"lot {lot_id} not found")
        return rows[0]

    async def insert_lot(self, **values: Any) -> str:
        lot_id = new_id("lot")
        counters = dict.fromkeys(("held", "spent", "expired", "reversed", "debited"), 0)
        row = dict(
            lot_id=lot_id, merchant_id=self.merchant_id, customer_id=self.customer_id,
            created_at=self.now, remaining=values["amount"], **counters, **values,
        )
        self.inserted_lots[lot_id] = row
        await self.insert(t.lots, row)
        return lot_id

    async def update_lot(self, lot: dict[str, Any], **values: Any) -> None:
        """Write new values for a lot row read in this transaction (we hold the lock)."""
        buffered = self.buffer is not None and self.buffer.holds_lot(lot["lot_id"])
        if buffered:
            self.inserted_lots[lot["lot_id"]].update(values)  # the row the buffer will insert
        else:
            await self.conn.execute(
                update(t.lots).where(self._me(t.lots), t.lots.c.lot_id == lot["lot_id"]).values(**values)
            )
        lot.update(values)

    # -- holds ------------------------------------------------------------------------

    async def hold(self, hold_id: str) -> dict[str, Any] | None:
        q = select(t.holds).where(self._me(t.holds), t.holds.c.hold_id == hold_id)
        row = (await self.conn.execute(q)).mappings().first()
        return dict(row) if row else None

    async def holds(self, *where: Any) -> list[dict[str, Any]]:
        q = select(t.holds).where(self._me(t.holds), *where).order_by(t.holds.c.created_at, t.holds.c.hold_id)
        return [dict(r) for r in (await self.conn.execute(q)).mappings().all()]

    async def allocations(self, hold_id: str) -> list[dict[str, Any]]:
        q = (
            select(t.hold_allocations)
            .where(self._me(t.hold_allocations), t.hold_allocations.c.hold_id == hold_id)
            .order_by(t.hold_allocations.c.seq)
        )
        return [dict(r) for r in (await self.conn.execute(q)).mappings().all()]

    async def update_allocation(self, alloc: dict[str, Any], **values: Any) -> None:
        ha = t.hold_allocations
        await self.conn.execute(
            update(ha)
            .where(self._me(ha), ha.c.hold_id == alloc["hold_id"], ha.c.lot_id == alloc["lot_id"])
            .values(**values)
        )
        alloc.update(values)


_PG_BALANCE_UPDATE = text("""
    UPDATE wallet_balances AS b
    SET available = v.available, pending = v.pending, held = v.held, debt = v.debt, updated_at = v.updated_at
    FROM unnest(:m, :c, :cur, :available, :pending, :held, :debt, :updated_at)
         AS v(m, c, cur, available, pending, held, debt, updated_at)
    WHERE b.merchant_id = v.m AND b.customer_id = v.c AND b.currency = v.cur
""").bindparams(
    *(bindparam(k, type_=ARRAY(String())) for k in ("m", "c", "cur")),
    *(bindparam(k, type_=ARRAY(BigInteger())) for k in BALANCE_FIELDS),
    bindparam("updated_at", type_=ARRAY(DateTime(timezone=True))),
)


async def flush_balances(conn: AsyncConnection, books: list[Book]) -> None:
    """Write the maintained balance rows the books changed: one UPDATE and one
    INSERT statement at most, however many books."""
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for book in books:
        for currency in sorted(book._dirty):
            row = {"m": book.merchant_id, "c": book.customer_id, "cur": currency, **book._balances[currency],
                   "updated_at": book.now}
            (changed if currency in book._stored else added).append(row)
            book._stored.add(currency)
        book._dirty.clear()
    b = t.balances.c
    cols = (*BALANCE_FIELDS, "updated_at")
    if changed and conn.dialect.name == "postgresql":
        # One statement for the whole group: the new values as arrays, joined by key.
        await conn.execute(_PG_BALANCE_UPDATE, {
            "m": [r["m"] for r in changed], "c": [r["c"] for r in changed], "cur": [r["cur"] for r in changed],
            "updated_at": [r["updated_at"] for r in changed], **{f: [r[f] for r in changed] for f in BALANCE_FIELDS}})
    elif changed:
        await conn.execute(
            update(t.balances).where(b.merchant_id == bindparam("m"), b.customer_id == bindparam("c"),
                                     b.currency == bindparam("cur")).values({f: bindparam(f) for f in cols}),
            changed)
    if added:
        await conn.execute(insert(t.balances), [
            {"merchant_id": r["m"], "customer_id": r["c"], "currency": r["cur"], **{f: r[f] for f in cols}}
            for r in added])
