"""The SQL of ImportOrders: a batch of past orders in two statements, whatever
its size.

1. The batch's customers are created or touched in customer_id order, which
   locks them (as scoring and refunds do first): two imports sharing customers
   queue on them in the same order, and an import never holds an order row a
   scorer of the same customer waits for while it waits for that customer.
2. One statement inserts the orders (unnest arrays; an order_id already
   scored or imported is left alone) and adds the ones it inserted to their
   customers' order_count, returning how many it inserted.
3. When it inserted any, the merchant's RFM scores are marked stale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cashback_kit import pgtx
from cashback_kit.db import Database
from cashback_services.rules.adapters import rfm_repo

_LOCK_CUSTOMERS = """
INSERT INTO rules_customers AS t (merchant_id, customer_id, manual_tier, order_count)
SELECT $1, c, '', 0 FROM (SELECT DISTINCT unnest($2::text[]) AS c) AS x ORDER BY c
ON CONFLICT (merchant_id, customer_id) DO UPDATE SET order_count = t.order_count"""

# $1 merchant, $2-$8 the orders' columns, $9 created_at.
_INSERT_ORDERS = """
WITH o AS (
    INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor,
                              refunded_minor, fully_refunded, fingerprint, order_body, score_body, created_at,
                              imported)
    SELECT $1, x.oid, x.cid, x.placed, x.cur, x.amt, 0, false, x.fp, x.body, NULL, $9, true
    FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[], $7::text[], $8::bytea[])
         AS x(oid, cid, placed, cur, amt, fp, body)
    ON CONFLICT (merchant_id, order_id) DO NOTHING
    RETURNING customer_id),
c AS (
    UPDATE rules_customers AS t SET order_count = t.order_count + n.k
    FROM (SELECT customer_id, count(*) AS k FROM o GROUP BY customer_id) AS n
    WHERE t.merchant_id = $1 AND t.customer_id = n.customer_id)
SELECT count(*) FROM o"""


@dataclass(frozen=True)
class PastOrderRow:
    order_id: str
    customer_id: str
    placed_at: datetime
    currency: str
    merchandise_minor: int
    fingerprint: str
    body: bytes


async def insert_past_orders(db: Database, merchant_id: str, rows: Sequence[PastOrderRow],
                             created_at: datetime) -> int:
    """Inserts the orders not stored yet, in one transaction; returns how many."""
    async with pgtx.transaction(db) as tx:
        await tx.execute(_LOCK_CUSTOMERS, merchant_id, [r.customer_id for r in rows])
        inserted = int(await tx.fetchval(
            _INSERT_ORDERS, merchant_id, [r.order_id for r in rows], [r.customer_id for r in rows],
            [r.placed_at for r in rows], [r.currency for r in rows], [r.merchandise_minor for r in rows],
            [r.fingerprint for r in rows], [r.body for r in rows], created_at))
        if inserted:
            await rfm_repo.mark_stale(tx, merchant_id, created_at)
        return inserted
