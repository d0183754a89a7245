"""Set-based expiry for the sweeper (PostgreSQL).

`ops.expire_lot` posts one EXPIRY transaction per lot through a Book: several
statements per lot, one transaction per customer. For a large backlog of due
lots (a campaign's credit all expiring the same night) that is far too slow,
so on PostgreSQL the sweeper expires lots here instead, a batch of customers
at a time, with a handful of set-based statements per batch that write
exactly what `expire_lot` writes:

  * per lot with remaining > 0: one `expiry` transaction (amount -remaining,
    the lot's order_id), its two entries (customer:available -x,
    merchant:breakage +x) and one `expired` event (position NULL: the
    sequencer numbers it after commit);
  * every due lot: status expired, expired += remaining, remaining 0 (held
    stays on the lot, as with expire_lot: a later release expires it again);
  * the customer's maintained balance row: available -= the lots' sum.

Locking is the Book's: each batch first locks its customers' rows in
wallet_customers (FOR UPDATE SKIP LOCKED, in key order) in its own
transaction, and only then reads their lots, in a later statement, so under
READ COMMITTED it sees everything committed by whoever held a lock before.
A customer locked elsewhere is skipped: whoever holds the lock settles it
anyway (every write settles first), or the next pass does. Nothing here
bypasses the database's checks: the entries' deferred balance trigger, the
append-only trigger, the CHECKs and the foreign keys all run as usual.

SQLite (the small embedded default) has one writer at a time and no need for
this: there the same function expires lot by lot through the Book."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from cashback_kit.db import Database
from cashback_services.wallet import operations as ops
from cashback_services.wallet import tables as t
from cashback_services.wallet.book import Book
from cashback_services.wallet.domain.ledger import Account, EventType, LotStatus, TxType
from cashback_services.wallet.metrics import ledger_committed

Key = tuple[str, str]

_DUE_CUSTOMERS = text(
    """
    SELECT DISTINCT merchant_id, customer_id FROM wallet_lots
     WHERE status = :available AND expires_at <= :now
     ORDER BY merchant_id, customer_id
    """
)

# Lock the batch's customers, in key order, skipping any held by someone else.
_LOCK = text(
    """
    SELECT c.merchant_id, c.customer_id
      FROM wallet_customers c
      JOIN unnest(CAST(:ms AS varchar[]), CAST(:cs AS varchar[])) AS k(merchant_id, customer_id)
        ON c.merchant_id = k.merchant_id AND c.customer_id = k.customer_id
     ORDER BY c.merchant_id, c.customer_id
       FOR UPDATE OF c SKIP LOCKED
    """
)

# Everything else for the locked customers, in one statement. `due` is
# materialised once (it is read by every part and generates the ids), and all
# parts see the same snapshot, taken after the locks above were granted.
# Rows are inserted in (customer, created_at, lot_id) order: the order
# settle() expires a customer's lots in, so ids and event order match.
_EXPIRE = text(
    f"""
    WITH k AS (
      SELECT * FROM unnest(CAST(:ms AS varchar[]), CAST(:cs AS varchar[])) AS k(merchant_id, customer_id)
    ),
    due AS MATERIALIZED (
      SELECT l.lot_id, l.merchant_id, l.customer_id, l.currency, l.order_id, l.expires_at, l.created_at,
             l.remaining AS amount,
             CASE WHEN l.remaining > 0 THEN 'tx_' || replace(gen_random_uuid()::text, '-', '') END AS tx_id,
             CASE WHEN l.remaining > 0 THEN 'ev_' || replace(gen_random_uuid()::text, '-', '') END AS ev_id
        FROM wallet_lots l
        JOIN k ON l.merchant_id = k.merchant_id AND l.customer_id = k.customer_id
       WHERE l.status = :available AND l.expires_at <= :now
    ),
    lots AS (
      UPDATE wallet_lots l
         SET status = :expired, expired = l.expired + d.amount, remaining = l.remaining - d.amount
        FROM due d
       WHERE l.lot_id = d.lot_id AND l.status = :available
      RETURNING l.lot_id
    ),
    txs AS (
      INSERT INTO wallet_transactions
             (transaction_id, merchant_id, customer_id, type, currency, amount, order_id, created_at)
      SELECT tx_id, merchant_id, customer_id, :tx_type, currency, -amount, order_id, :now
        FROM due WHERE amount > 0
       ORDER BY merchant_id, customer_id, created_at, lot_id
      RETURNING 1
    ),
    entries AS (
      INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
      SELECT d.tx_id, d.merchant_id, d.customer_id, a.account, d.currency, a.sign * d.amount
        FROM due d
       CROSS JOIN (VALUES (1, '{Account.AVAILABLE.value}', -1), (2, '{Account.BREAKAGE.value}', 1))
             AS a(ord, account, sign)
       WHERE d.amount > 0
       ORDER BY d.merchant_id, d.customer_id, d.created_at, d.lot_id, a.ord
      RETURNING 1
    ),
    events AS (
      INSERT INTO wallet_events
             (event_id, type, merchant_id, customer_id, currency, amount, order_id, lot_id, transaction_id,
              expires_at, occurred_at)
      SELECT ev_id, :ev_type, merchant_id, customer_id, currency, amount, order_id, lot_id, tx_id,
             expires_at, :now
        FROM due WHERE amount > 0
       ORDER BY merchant_id, customer_id, created_at, lot_id
      RETURNING 1
    ),
    balances AS (
      UPDATE wallet_balances b
         SET available = b.available - s.total, updated_at = :now
        FROM (SELECT merchant_id, customer_id, currency, sum(amount) AS total
                FROM due GROUP BY merchant_id, customer_id, currency HAVING sum(amount) > 0) s
       WHERE b.merchant_id = s.merchant_id AND b.customer_id = s.customer_id AND b.currency = s.currency
      RETURNING 1
    )
    SELECT d.merchant_id, d.customer_id, count(*) AS lots, count(d.tx_id) AS posted,
           (SELECT count(*) FROM lots) AS lots_updated,
           (SELECT count(*) FROM txs) AS txs, (SELECT count(*) FROM entries) AS entries,
           (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM balances) AS balances
      FROM due d GROUP BY d.merchant_id, d.customer_id
    """
)


@dataclass
class ExpiryResult:
    lots: int = 0  # lots set to expired
    posted: int = 0  # EXPIRY transactions written (lots that still had credit)
    customers: set[Key] = field(default_factory=set)  # customers with at least one lot expired
    skipped: int = 0  # due customers locked by someone else, left for the next pass


async def expire_due_lots(db: Database, now: datetime, *, batch_customers: int = 5000) -> int:
    """Expire every lot due at `now` (available, expires_at <= now) of every
    customer not locked elsewhere. Returns the number of lots expired."""
    return (await expire_due(db, now, batch_customers=batch_customers)).lots


async def expire_due(db: Database, now: datetime, *, batch_customers: int = 5000) -> ExpiryResult:
    """expire_due_lots, saying also which customers were settled and how many skipped."""
    if batch_customers <= 0:
        raise ValueError("batch_customers must be positive")
    async with db.read() as conn:
        due: list[Key] = [
            (m, c) for m, c in (await conn.execute(
                _DUE_CUSTOMERS, {"available": LotStatus.AVAILABLE.value, "now": now})).all()
        ]
    out = ExpiryResult()
    for i in range(0, len(due), batch_customers):
        batch = due[i:i + batch_customers]
        if db.is_postgres:
            await _expire_batch_pg(db, now, batch, out)
        else:
            await _expire_batch_by_book(db, now, batch, out)
    return out


async def _expire_batch_pg(db: Database, now: datetime, batch: list[Key], out: ExpiryResult) -> None:
    async with db.write() as conn:
        locked = (await conn.execute(
            _LOCK, {"ms": [m for m, _ in batch], "cs": [c for _, c in batch]})).all()
        out.skipped += len(batch) - len(locked)
        if not locked:
            return
        # The batch's rows are sorted three times (for id order); keep the sorts in memory.
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        rows = (await conn.execute(_EXPIRE, {
            "ms": [m for m, _ in locked], "cs": [c for _, c in locked], "now": now,
            "available": LotStatus.AVAILABLE.value, "expired": LotStatus.EXPIRED.value,
            "tx_type": TxType.EXPIRY.value, "ev_type": EventType.EXPIRED.value,
        })).mappings().all()
        if rows:
            first = rows[0]
            lots, posted = sum(r["lots"] for r in rows), sum(r["posted"] for r in rows)
            # The parts must agree with each other; anything else is a bug: roll back.
            if (first["lots_updated"], first["txs"], first["entries"], first["events"]) != (
                    lots, posted, 2 * posted, posted):
                raise AssertionError(f"bulk expiry wrote inconsistent counts: {dict(first)}")
    for r in rows:
        out.customers.add((r["merchant_id"], r["customer_id"]))
        out.lots += int(r["lots"])
        out.posted += int(r["posted"])
    ledger_committed([TxType.EXPIRY.value] * sum(int(r["posted"]) for r in rows))


async def _expire_batch_by_book(db: Database, now: datetime, batch: list[Key], out: ExpiryResult) -> None:
    """SQLite: expire_lot per lot, one customer per transaction (one writer at a time anyway)."""
    L = t.lots.c
    for merchant_id, customer_id in batch:
        async with db.write() as conn:
            book = await Book.open(conn, merchant_id, customer_id, now)
            assert book is not None
            lots = await book.lots(L.status == LotStatus.AVAILABLE.value, L.expires_at.is_not(None),
                                   L.expires_at <= now)
            for lot in lots:
                await ops.expire_lot(book, lot)
            await book.flush()
        if lots:
            out.customers.add((merchant_id, customer_id))
            out.lots += len(lots)
            out.posted += len(book.posted)
        ledger_committed(book.posted)

