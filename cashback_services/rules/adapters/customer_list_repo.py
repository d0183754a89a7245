"""The SQL of ListCustomers: one page of a merchant's customers in customer_id
order (keyset on the primary key), each with its RFM segment, last order and
the net spend in each tier window, in one statement whatever the filters.
Customers known only from imported orders are rules_customers rows like any
other (ImportOrders creates them), so they are listed too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from cashback_kit.db import Database

# :since is one instant per tier window (empty without a tier policy); the spend
# of each window is summed as spend_since sums it for scoring.
_PAGE = text("""
SELECT c.customer_id, c.manual_tier, c.order_count, coalesce(r.segment, '') AS segment, o.last_at,
       coalesce(sp.spends, '{}'::bigint[]) AS spends
FROM rules_customers c
LEFT JOIN rules_customer_rfm r ON r.merchant_id = c.merchant_id AND r.customer_id = c.customer_id
LEFT JOIN LATERAL (
    SELECT max(o.placed_at) AS last_at FROM rules_orders o
    WHERE o.merchant_id = c.merchant_id AND o.customer_id = c.customer_id AND NOT o.fully_refunded) o ON true
LEFT JOIN LATERAL (
    SELECT array_agg(s.total ORDER BY w.n) AS spends
    FROM unnest(CAST(:since AS timestamptz[])) WITH ORDINALITY AS w(since, n)
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint AS total FROM rules_orders o
        WHERE o.merchant_id = c.merchant_id AND o.customer_id = c.customer_id AND o.currency = :currency
          AND o.placed_at >= w.since AND o.placed_at < :now) s) sp ON true
WHERE c.merchant_id = :m AND c.customer_id > :after
  AND (cardinality(CAST(:segments AS text[])) = 0 OR r.segment = ANY(CAST(:segments AS text[])))
  AND (CAST(:idle_since AS timestamptz) IS NULL OR o.last_at IS NULL
       OR o.last_at < CAST(:idle_since AS timestamptz))
ORDER BY c.customer_id
LIMIT :n""")


@dataclass(frozen=True)
class CustomerLine:
    customer_id: str
    manual_tier: str
    order_count: int
    segment: str
    last_order_at: datetime | None
    spends: tuple[int, ...]  # net spend per tier window, in the order of `since`


async def page(
    db: Database,
    merchant_id: str,
    after: str,
    limit: int,
    *,
    segments: list[str],
    idle_since: datetime | None,
    since: list[datetime],
    currency: str,
    now: datetime,
) -> list[CustomerLine]:
    params = {
        "m": merchant_id,
        "after": after,
        "n": limit,
        "segments": segments,
        "idle_since": idle_since,
        "since": since,
        "currency": currency,
        "now": now,
    }
    async with db.read() as conn:
        rows = (await conn.execute(_PAGE, params)).all()
    return [CustomerLine(r[0], r[1], int(r[2]), r[3], r[4], tuple(int(x) for x in r[5])) for r in rows]
