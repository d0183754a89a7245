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

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet import tables as t
from services.wallet.domain.ledger import (
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


class Book:
    def __init__(self, conn: AsyncConnection, merchant_id: str, customer_id: str, now: datetime) -> None:
        self.conn = conn
        self.merchant_id = merchant_id
        self.customer_id = customer_id
        self.now = now
        self._balances: dict[str, dict[str, int]] = {}
        self._stored: set[str] = set()
        self._dirty: set[str] = set()
        self.customer: dict[str, Any] = {}
        # Types of the ledger transactions posted, counted in metrics once committed.
        self.posted: list[str] = []

    # -- locking -----------------------------------------------------------------

    @classmethod
    async def open(
        cls, conn: AsyncConnection, merchant_id: str, customer_id: str, now: datetime, *, skip_locked: bool = False
    ) -> Book | None:
        """Lock the customer's row (creating it first). With skip_locked, returns
        None when another transaction holds it (the sweeper moves on)."""
        book = cls(conn, merchant_id, customer_id, now)
        values = {"merchant_id": merchant_id, "customer_id": customer_id, "created_at": now}
        if conn.dialect.name == "postgresql":
            stmt: Any = pg_insert(t.customers).values(values).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(t.customers).values(values).on_conflict_do_nothing()
        await conn.execute(stmt)
        q = select(t.customers).where(book._me(t.customers)).with_for_update(skip_locked=skip_locked)
        row = (await conn.execute(q)).mappings().first()
        if row is None:
            return None
        book.customer = dict(row)
        rows = (await conn.execute(select(t.balances).where(book._me(t.balances)))).mappings().all()
        for r in rows:
            book._balances[r["currency"]] = {f: int(r[f]) for f in BALANCE_FIELDS}
            book._stored.add(r["currency"])
        return book

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
        await self.conn.execute(
            insert(t.transactions).values(
                transaction_id=tx_id, merchant_id=self.merchant_id, customer_id=self.customer_id,
                type=tx_type.value, currency=currency, amount=customer_delta(postings), order_id=order_id,
                hold_id=hold_id, refund_id=refund_id, reason=reason, created_at=self.now,
            )
        )
        await self.conn.execute(
            insert(t.entries),
            [
                {"transaction_id": tx_id, "merchant_id": self.merchant_id, "customer_id": self.customer_id,
                 "account": acc.value, "currency": currency, "amount": amt}
                for acc, amt in postings.items()
            ],
        )
        return tx_id

    async def event(
        self, type_: EventType, currency: str, amount: int, *, transaction_id: str | None = None,
        order_id: str | None = None, lot_id: str | None = None, hold_id: str | None = None,
        available_at: datetime | None = None, expires_at: datetime | None = None,
    ) -> None:
        await self.conn.execute(
            insert(t.events).values(
                event_id=new_id("ev"), type=type_.value, merchant_id=self.merchant_id,
                customer_id=self.customer_id, currency=currency, amount=amount, order_id=order_id,
                lot_id=lot_id, hold_id=hold_id, transaction_id=transaction_id, available_at=available_at,
                expires_at=expires_at, occurred_at=self.now,
            )
        )

    async def touch_customer(self, **values: Any) -> None:
        await self.conn.execute(update(t.customers).where(self._me(t.customers)).values(**values))
        self.customer.update(values)

    async def flush(self) -> None:
        """Write the maintained balance rows changed in this transaction."""
        for currency in sorted(self._dirty):
            values = {**self._balances[currency], "updated_at": self.now}
            if currency in self._stored:
                await self.conn.execute(
                    update(t.balances).where(self._me(t.balances), t.balances.c.currency == currency).values(**values)
                )
            else:
                await self.conn.execute(
                    insert(t.balances).values(
                        merchant_id=self.merchant_id, customer_id=self.customer_id, currency=currency, **values
                    )
                )
                self._stored.add(currency)
        self._dirty.clear()

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
        await self.conn.execute(
            insert(t.lots).values(
                lot_id=lot_id, merchant_id=self.merchant_id, customer_id=self.customer_id,
                created_at=self.now, remaining=values["amount"], **counters, **values,
            )
        )
        return lot_id

    async def update_lot(self, lot: dict[str, Any], **values: Any) -> None:
        """Write new values for a lot row read in this transaction (we hold the lock)."""
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
