"""The campaign side of the program report: what each campaign cost against the
GMV it paid on, and whether customers who earned bought again more often than
those who did not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from cashback_kit.db import Database
from cashback_services.rules.adapters.tables import awards, orders


@dataclass(frozen=True)
class CampaignLine:
    campaign_id: str
    cost: int
    gmv: int
    orders: int


@dataclass(frozen=True)
class Repeat:
    earners: int
    earners_repeat: int
    non_earners: int
    non_earners_repeat: int


async def campaign_report(db: Database, merchant_id: str, currency: str, start: datetime,
                          end: datetime) -> tuple[list[CampaignLine], Repeat]:
    lo, hi = start, end
    in_window = and_(orders.c.merchant_id == merchant_id, orders.c.currency == currency,
                     orders.c.placed_at >= lo, orders.c.placed_at < hi)
    paid = awards.c.amount_minor - awards.c.reversed_minor
    per_campaign = (
        select(awards.c.campaign_id, func.sum(paid),
               func.sum(orders.c.merchandise_minor - orders.c.refunded_minor), func.count())
        .select_from(awards.join(orders, and_(orders.c.merchant_id == awards.c.merchant_id,
                                              orders.c.order_id == awards.c.order_id)))
        .where(in_window, awards.c.amount_minor > 0)
        .group_by(awards.c.campaign_id)
    )
    # Each customer's first order in the window, whether they earned on any order in it, and
    # whether they ordered again after that first order (up to now).
    firsts = (select(orders.c.customer_id, func.min(orders.c.placed_at))
              .where(in_window).group_by(orders.c.customer_id))
    earners = (select(orders.c.customer_id).distinct()
               .select_from(awards.join(orders, and_(orders.c.merchant_id == awards.c.merchant_id,
                                                     orders.c.order_id == awards.c.order_id)))
               .where(in_window, awards.c.amount_minor > awards.c.reversed_minor))
    async with db.read() as conn:
        lines = [CampaignLine(c, int(cost or 0), int(gmv or 0), int(n)) for c, cost, gmv, n
                 in (await conn.execute(per_campaign)).all()]
        first = dict((await conn.execute(firsts)).all())
        earned = {r[0] for r in (await conn.execute(earners)).all()}
        later = dict((await conn.execute(
            select(orders.c.customer_id, func.max(orders.c.placed_at))
            .where(orders.c.merchant_id == merchant_id, orders.c.placed_at >= lo)
            .group_by(orders.c.customer_id))).all())
    again = {c for c, placed in first.items() if later.get(c, placed) > placed}
    repeat = Repeat(earners=len(earned & first.keys()), earners_repeat=len(again & earned),
                    non_earners=len(first.keys() - earned), non_earners_repeat=len(again - earned))
    lines.sort(key=lambda line: (-line.cost, line.campaign_id))
    return lines, repeat
