"""The program report's reads: what each campaign cost against the GMV it paid
on, and each customer's first and last orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.rules.adapters.tables import awards, orders

_AWARDED_ORDERS = awards.join(orders, and_(orders.c.merchant_id == awards.c.merchant_id,
                                           orders.c.order_id == awards.c.order_id))


def _in_window(merchant_id: str, currency: str, start: datetime, end: datetime) -> Any:
    return and_(orders.c.merchant_id == merchant_id, orders.c.currency == currency,
                orders.c.placed_at >= start, orders.c.placed_at < end)


async def cost_per_campaign(conn: AsyncConnection, merchant_id: str, currency: str, start: datetime,
                            end: datetime) -> list[tuple[str, int, int, int]]:
    """(campaign_id, cashback net of reversals, net GMV of the orders it paid on, orders)."""
    paid = awards.c.amount_minor - awards.c.reversed_minor
    stmt = (select(awards.c.campaign_id, func.sum(paid), func.sum(orders.c.merchandise_minor - orders.c.refunded_minor),
                   func.count())
            .select_from(_AWARDED_ORDERS)
            .where(_in_window(merchant_id, currency, start, end), awards.c.amount_minor > 0)
            .group_by(awards.c.campaign_id))
    return [(c, int(cost or 0), int(gmv or 0), int(n)) for c, cost, gmv, n in (await conn.execute(stmt)).all()]


async def first_orders(conn: AsyncConnection, merchant_id: str, currency: str, start: datetime,
                       end: datetime) -> dict[str, datetime]:
    """Each customer's first order placed in the window."""
    stmt = (select(orders.c.customer_id, func.min(orders.c.placed_at))
            .where(_in_window(merchant_id, currency, start, end)).group_by(orders.c.customer_id))
    return {c: t for c, t in (await conn.execute(stmt)).all()}


async def earners(conn: AsyncConnection, merchant_id: str, currency: str, start: datetime,
                  end: datetime) -> set[str]:
    """Customers who kept cashback from an order placed in the window."""
    stmt = (select(orders.c.customer_id).distinct().select_from(_AWARDED_ORDERS)
            .where(_in_window(merchant_id, currency, start, end), awards.c.amount_minor > awards.c.reversed_minor))
    return {r[0] for r in (await conn.execute(stmt)).all()}


async def last_orders_since(conn: AsyncConnection, merchant_id: str, start: datetime) -> dict[str, datetime]:
    """Each customer's last order placed since `start` (up to now)."""
    stmt = (select(orders.c.customer_id, func.max(orders.c.placed_at))
            .where(orders.c.merchant_id == merchant_id, orders.c.placed_at >= start).group_by(orders.c.customer_id))
    return {c: t for c, t in (await conn.execute(stmt)).all()}
