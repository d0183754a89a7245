"""Read-only reports for notify and ops: expiring credit, balances for
reminder campaigns, and program KPIs. They read committed rows only and
never lock anything. The customer's own reads (balance, history) are in
customer_reads.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, distinct, func, or_, select, text

from cashback_kit import paging
from cashback_kit.db import Database
from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.domain.ledger import Account, LotStatus, TxType
from cashback_services.wallet.domain.points import POINTS  # a unit of its own, never summed with credit

L, B, C, TX, E, AW = t.lots.c, t.balances.c, t.customers.c, t.transactions.c, t.entries.c, t.awards.c


def _position(raw: object) -> tuple[str, str]:
    if not isinstance(raw, list) or len(raw) != 2 or not all(isinstance(x, str) for x in raw):
        raise ValueError("bad token")
    return raw[0], raw[1]


def _after(customer_col: Any, currency_col: Any, pos: tuple[str, str] | None) -> Any:
    if pos is None:
        return True
    return or_(customer_col > pos[0], and_(customer_col == pos[0], currency_col > pos[1]))


async def list_expiring(
    db: Database, merchant_id: str, now: datetime, before: datetime, after: datetime | None,
    page_size: int, token: str,
) -> tuple[list[dict[str, Any]], str]:
    query = paging.scope("ListExpiringCredits", merchant_id, before, after)
    # Lots already past expiry are not "expiring": the sweeper is about to expire them.
    cond = [L.merchant_id == merchant_id, L.currency != POINTS, L.status == LotStatus.AVAILABLE.value,
            L.remaining > 0, L.expires_at.is_not(None), L.expires_at < before, L.expires_at > now,
            _after(L.customer_id, L.currency, paging.read(token, query, _position))]
    if after is not None:
        cond.append(L.expires_at >= after)
    q = (select(L.customer_id, L.currency, func.sum(L.remaining), func.min(L.expires_at))
         .where(*cond).group_by(L.customer_id, L.currency).order_by(L.customer_id, L.currency)
         .limit(page_size + 1))
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
        page = rows[:page_size]
        out = []
        for customer_id, currency, amount, earliest in page:
            lot_ids = (await conn.execute(
                select(L.lot_id).where(*cond, L.customer_id == customer_id, L.currency == currency)
                .order_by(L.expires_at, L.lot_id)
            )).scalars().all()
            out.append({"customer_id": customer_id, "amount": Money(currency, int(amount)),
                        "earliest_expiry": earliest,
                        "lot_ids": list(lot_ids)})
    token_out = paging.issue(query, [page[-1][0], page[-1][1]]) if len(rows) > page_size else ""
    return out, token_out


async def list_balances(
    db: Database, merchant_id: str, min_available: Money | None, inactive_since: datetime | None,
    page_size: int, token: str,
) -> tuple[list[dict[str, Any]], str]:
    query = paging.scope("ListBalances", merchant_id, min_available and min_available.currency,
                         min_available and min_available.minor, inactive_since)
    cond = [B.merchant_id == merchant_id, B.currency != POINTS,
            _after(B.customer_id, B.currency, paging.read(token, query, _position))]
    if min_available is not None:
        cond += [B.currency == min_available.currency, B.available >= min_available.minor]
    if inactive_since is not None:
        cond.append(or_(C.last_order_at.is_(None), C.last_order_at < inactive_since))
    # The customer's available points ride along in the same statement: a left join to
    # their PTS row (the primary key), zero when they never held points.
    pts = t.balances.alias("pts")
    q = (select(t.balances, C.last_order_at, func.coalesce(pts.c.available, 0).label("points"))
         .join(t.customers, and_(C.merchant_id == B.merchant_id, C.customer_id == B.customer_id))
         .outerjoin(pts, and_(pts.c.merchant_id == B.merchant_id, pts.c.customer_id == B.customer_id,
                              pts.c.currency == POINTS))
         .where(*cond).order_by(B.customer_id, B.currency).limit(page_size + 1))
    async with db.read() as conn:
        rows = [dict(r) for r in (await conn.execute(q)).mappings().all()]
    page = rows[:page_size]
    token_out = paging.issue(query, [page[-1]["customer_id"], page[-1]["currency"]]) if len(rows) > page_size else ""
    return page, token_out


async def default_currency(db: Database, merchant_id: str) -> str:
    async with db.read() as conn:
        codes = (await conn.execute(
            select(distinct(B.currency)).where(B.merchant_id == merchant_id, B.currency != POINTS).limit(2)
        )).scalars().all()
    if len(codes) != 1:
        raise InvalidArgument("currency_code is required for this merchant", field="currency_code")
    return str(codes[0])


async def program_stats(
    db: Database, merchant_id: str, currency: str, start: datetime, end: datetime
) -> dict[str, Any]:
    in_period = and_(TX.merchant_id == merchant_id, TX.currency == currency,
                     TX.created_at >= start, TX.created_at < end)
    sums_q = (select(TX.type, E.account, func.sum(E.amount))
              .select_from(t.entries.join(t.transactions, TX.transaction_id == E.transaction_id))
              .where(in_period).group_by(TX.type, E.account))
    owed = (Account.AVAILABLE.value, Account.PENDING.value, Account.HELD.value)
    liability_q = (select(func.coalesce(func.sum(E.amount), 0))
                   .select_from(t.entries.join(t.transactions, TX.transaction_id == E.transaction_id))
                   .where(TX.merchant_id == merchant_id, TX.currency == currency, TX.created_at < end,
                          E.account.in_(owed)))
    firsts_q = (select(TX.customer_id, TX.type, func.min(TX.created_at))
                .where(TX.merchant_id == merchant_id, TX.currency == currency,
                       TX.type.in_((TxType.AWARD.value, TxType.CAPTURE.value)))
                .group_by(TX.customer_id, TX.type))
    earners_q = (select(AW.customer_id, AW.placed_at)
                 .where(AW.merchant_id == merchant_id, AW.kind == "order", AW.currency == currency,
                        AW.earned > 0, AW.created_at >= start, AW.created_at < end))
    orders_q = (select(AW.customer_id, func.max(AW.placed_at))
                .where(AW.merchant_id == merchant_id, AW.kind == "order").group_by(AW.customer_id))
    async with db.read() as conn:
        moves = (await conn.execute(_MOVES, {"m": merchant_id, "cur": currency, "pts": POINTS, "start": start,
                                             "end": end, "award": TxType.AWARD.value,
                                             "reversal": TxType.REVERSAL.value,
                                             "expense": Account.EXPENSE.value})).mappings().one()
        sums = {(ty, acc): int(v) for ty, acc, v in (await conn.execute(sums_q)).all()}
        liability = int((await conn.execute(liability_q)).scalar() or 0)
        firsts = (await conn.execute(firsts_q)).all()
        earners = (await conn.execute(earners_q)).all()
        last_order = {c: ts for c, ts in (await conn.execute(orders_q)).all()}
        earned_customers = (await conn.execute(
            select(func.count(distinct(TX.customer_id))).where(in_period, TX.type == TxType.AWARD.value)
        )).scalar()
        redeemed_customers = (await conn.execute(
            select(func.count(distinct(TX.customer_id))).where(in_period, TX.type == TxType.CAPTURE.value)
        )).scalar()

    def total(ty: TxType, acc: Account) -> int:
        return sums.get((ty.value, acc.value), 0)

    first: dict[str, dict[str, datetime]] = {}
    for customer_id, ty, ts in firsts:
        first.setdefault(customer_id, {})[ty] = ts
    gaps = [
        (f[TxType.CAPTURE.value] - f[TxType.AWARD.value]).total_seconds() / 86400
        for f in first.values()
        if TxType.CAPTURE.value in f and TxType.AWARD.value in f
        and start <= f[TxType.CAPTURE.value] < end and f[TxType.AWARD.value] <= f[TxType.CAPTURE.value]
    ]
    first_earning_order: dict[str, datetime] = {}
    for customer_id, placed in earners:
        placed = placed
        if customer_id not in first_earning_order or placed < first_earning_order[customer_id]:
            first_earning_order[customer_id] = placed
    again = sum(1 for c, placed in first_earning_order.items()
                if last_order.get(c) is not None and last_order[c] > placed)
    redeemed = sum(v for (_ty, acc), v in sums.items() if acc == Account.REDEEMED.value)
    return {
        "customers_earned": int(earned_customers or 0),
        "customers_redeemed": int(redeemed_customers or 0),
        "earned": Money(currency, -total(TxType.AWARD, Account.EXPENSE)),
        "redeemed": Money(currency, redeemed),
        "expired": Money(currency, sum(v for (_ty, acc), v in sums.items() if acc == Account.BREAKAGE.value)),
        "reversed": Money(currency, total(TxType.REVERSAL, Account.EXPENSE)),
        "outstanding_liability": Money(currency, liability),
        "avg_days_to_first_redemption": sum(gaps) / len(gaps) if gaps else 0.0,
        "repeat_purchase_share": again / len(first_earning_order) if first_earning_order else 0.0,
        **{k: Money(currency, int(v)) if k in _MOVED_MONEY else int(v) for k, v in moves.items()},
    }


# Transfers, conversions, rewards and campaign points in the period: one statement over their records.
_MOVED_MONEY = ("transferred", "converted_to_points", "converted_to_credit")
_MOVES = text("""
SELECT (SELECT count(*) FROM wallet_transfers r WHERE r.merchant_id = :m AND r.currency = :cur
          AND r.created_at >= :start AND r.created_at < :end) AS transfers,
       (SELECT coalesce(sum(r.amount), 0) FROM wallet_transfers r WHERE r.merchant_id = :m AND r.currency = :cur
          AND r.created_at >= :start AND r.created_at < :end) AS transferred,
       v.to_points_n AS conversions_to_points, v.to_points AS converted_to_points,
       v.to_credit_n AS conversions_to_credit, v.to_credit AS converted_to_credit,
       (SELECT count(*) FROM wallet_reward_redemptions r WHERE r.merchant_id = :m
          AND r.created_at >= :start AND r.created_at < :end) AS reward_redemptions,
       (SELECT coalesce(sum(r.points), 0) FROM wallet_reward_redemptions r WHERE r.merchant_id = :m
          AND r.created_at >= :start AND r.created_at < :end) AS points_redeemed,
       p.awarded AS points_awarded, p.reversed AS points_reversed
  FROM (SELECT count(*) FILTER (WHERE to_points) AS to_points_n,
               coalesce(sum(credit) FILTER (WHERE to_points), 0) AS to_points,
               count(*) FILTER (WHERE NOT to_points) AS to_credit_n,
               coalesce(sum(credit) FILTER (WHERE NOT to_points), 0) AS to_credit
          FROM wallet_conversions WHERE merchant_id = :m AND currency = :cur
           AND created_at >= :start AND created_at < :end) v,
       (SELECT coalesce(-sum(e.amount) FILTER (WHERE t.type = :award), 0) AS awarded,
               coalesce(sum(e.amount) FILTER (WHERE t.type = :reversal), 0) AS reversed
          FROM wallet_transactions t JOIN wallet_entries e ON e.transaction_id = t.transaction_id
         WHERE t.merchant_id = :m AND t.currency = :pts AND e.account = :expense
           AND t.created_at >= :start AND t.created_at < :end) p
""")
