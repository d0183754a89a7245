"""Set-based maturing and expiry for the sweeper: the same SQL function every
write runs for its own customer (wallet_settle_lots, migrations 0003, 0010,
0012), here a batch of customers at a time, for a large backlog (a campaign's
credit all expiring the same night).

Every due lot becomes expired and records what it lost (held stays on the lot:
a later release expires it again). Per customer and currency with credit
expiring, the ledger gets one `expiry` transaction of the sum (its two entries:
customer:available -sum, merchant:breakage +sum) and one `expired` event
(`lot_count` lots); the balance row drops by the sum. Maturing is per lot
(`mature`, `available`).

Locking is the aggregate's: each batch locks its customers' rows (FOR UPDATE
SKIP LOCKED, in key order), then settles their lots in a later statement, so
under READ COMMITTED it sees everything committed by whoever held a lock
before. A customer locked elsewhere is skipped: whoever holds the lock settles
it anyway (every write does), or the next pass does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cashback_kit.db import Database
from cashback_kit.pgtx import transaction
from cashback_services.wallet.domain.ledger import TxType
from cashback_services.wallet.metrics import ledger_committed

Key = tuple[str, str]

_DUE = """
    SELECT DISTINCT merchant_id, customer_id FROM wallet_lots
     WHERE (status = 'available' AND expires_at <= $1) OR (status = 'expired' AND remaining > 0)
        OR ($2 AND status = 'pending' AND available_at <= $1)
     ORDER BY merchant_id, customer_id
"""

_LOCK = """
    SELECT c.merchant_id, c.customer_id FROM wallet_customers c
      JOIN unnest($1::text[], $2::text[]) AS k(m, c2) ON c.merchant_id = k.m AND c.customer_id = k.c2
     ORDER BY c.merchant_id, c.customer_id FOR UPDATE OF c SKIP LOCKED
"""

_SETTLE = "SELECT * FROM wallet_settle_lots($1::text[], $2::text[], $3, $4, true)"


@dataclass
class ExpiryResult:
    lots: int = 0  # lots set to expired
    posted: int = 0  # EXPIRY transactions written (one per customer and currency with credit expiring)
    matured: int = 0  # lots matured (with mature=True)
    customers: set[Key] = field(default_factory=set)  # customers with a lot settled
    skipped: int = 0  # due customers locked by someone else, left for the next pass


async def expire_due(db: Database, now: datetime, *, batch_customers: int = 1000,
                     mature: bool = False) -> ExpiryResult:
    """Expire (and with `mature`, mature first) every due lot, a batch of
    customers per transaction."""
    out = ExpiryResult()
    async with transaction(db) as tx:
        due = [(r[0], r[1]) for r in await tx.fetch(_DUE, now, mature)]
    for i in range(0, len(due), batch_customers):
        batch = due[i:i + batch_customers]
        async with transaction(db) as tx:
            locked = await tx.fetch(_LOCK, [m for m, _ in batch], [c for _, c in batch])
            out.skipped += len(batch) - len(locked)
            if not locked:
                continue
            rows = await tx.fetch(_SETTLE, [r[0] for r in locked], [r[1] for r in locked], now, mature)
        for r in rows:
            out.matured += int(r["matured"])
            out.lots += int(r["expired_lots"])
            out.posted += int(r["posted"])
            out.customers.add((r["merchant_id"], r["customer_id"]))
        ledger_committed([TxType.EXPIRY.value] * sum(int(r["posted"]) for r in rows))
    return out


async def expire_due_lots(db: Database, now: datetime, *, batch_customers: int = 1000) -> int:
    """How many lots expired (the bench's and the tests' short form)."""
    return (await expire_due(db, now, batch_customers=batch_customers)).lots
