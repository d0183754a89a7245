"""One customer's reads, each a single statement on the kit's fast read path
(no transaction, no lock): the balance, the history, an award's replay while
rules is down, and the customers the sweeper has holds to release for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, func, literal_column, or_, select, text

from cashback_kit import paging
from cashback_kit.db import Database
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.adapters.repository import award_record, transaction_from_row
from cashback_services.wallet.domain.ledger import HoldStatus, LotStatus
from cashback_services.wallet.domain.model import Transaction
from cashback_services.wallet.domain.orders import AwardRecord
from cashback_services.wallet.domain.points import POINTS


@dataclass(frozen=True)
class BalanceView:
    currency: str
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    next_expiry_at: datetime | None = None
    next_expiry_amount: int = 0
    points: int = 0  # available points (domain/points.py), beside credit of any currency


def _sql_text(status: LotStatus | HoldStatus) -> Any:
    """A status as a SQL literal (the values are the domain's own constants, never input)."""
    return literal_column(f"'{status.value}'", String())


def _balance_query() -> Any:
    """Is anything due for settling, the maintained balance row, and the next
    expiry with the amount that expires then. Each part is an index lookup;
    none reads history, so the cost does not grow with it. Built once, with
    bound parameters m, c, cur, now."""
    merchant_id, customer_id = bindparam("m", type_=String()), bindparam("c", type_=String())
    currency, now = bindparam("cur", type_=String()), bindparam("now", type_=t.UtcDateTime)
    lots, holds, b = t.lots.c, t.holds.c, t.balances.c
    me_l = and_(lots.merchant_id == merchant_id, lots.customer_id == customer_id)
    me_h = and_(holds.merchant_id == merchant_id, holds.customer_id == customer_id)
    me_b = and_(b.merchant_id == merchant_id, b.customer_id == customer_id, b.currency == currency)
    expiring = and_(
        me_l,
        lots.currency == currency,
        lots.status == _sql_text(LotStatus.AVAILABLE),
        lots.remaining > 0,
        lots.expires_at.is_not(None),
    )
    first = (select(lots.expires_at).where(expiring).order_by(lots.expires_at).limit(1)).scalar_subquery()
    return select(
        # "Anything due?" in parts, each answered by an index, with the status written into the
        # SQL (not a bound parameter) so that a generic plan still matches the partial indexes.
        # An available lot past expiry: the customer's earliest expiry, one entry of
        # ix_wallet_lots_available_expiry (0010). Not an EXISTS: for a customer with many lots
        # the planner, taking the customer and "expired" as independent, expects an early hit
        # and scans the table (tests/wallet/test_lot_lookups.py).
        or_(
            exists().where(me_l, lots.status == _sql_text(LotStatus.PENDING), lots.available_at <= now),
            select(func.min(lots.expires_at))
            .where(me_l, lots.status == _sql_text(LotStatus.AVAILABLE))
            .scalar_subquery()
            <= now,
        ),
        exists().where(me_h, holds.status == _sql_text(HoldStatus.ACTIVE), holds.expires_at <= now),
        *(select(b[f]).where(me_b).scalar_subquery() for f in ("available", "pending", "held", "debt")),
        first,
        select(func.coalesce(func.sum(lots.remaining), 0)).where(expiring, lots.expires_at == first).scalar_subquery(),
        select(b.available)
        .where(b.merchant_id == merchant_id, b.customer_id == customer_id, b.currency == POINTS)
        .scalar_subquery(),
    )


_BALANCE = _balance_query()


async def balance(
    db: Database, merchant_id: str, customer_id: str, currency: str, now: datetime
) -> tuple[bool, BalanceView]:
    """(something is due at `now`, the balance as stored)."""
    row = await db.fetch_row(_BALANCE, {"m": merchant_id, "c": customer_id, "cur": currency, "now": now})
    assert row is not None  # a SELECT without FROM returns one row
    lots_due, holds_due, available, pending, held, debt, first, amount, points = row
    view = BalanceView(
        currency,
        int(available or 0),
        int(pending or 0),
        int(held or 0),
        int(debt or 0),
        first,
        int(amount or 0) if first is not None else 0,
        int(points or 0),
    )
    return bool(lots_due or holds_due), view


_TRANSACTIONS = text("""
    SELECT t.id, (to_jsonb(t) || jsonb_build_object('entries', (
             SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.id), '[]') FROM wallet_entries e
              WHERE e.transaction_id = t.transaction_id)))::text
      FROM wallet_transactions t
     WHERE t.merchant_id = :m AND t.customer_id = :c AND t.id < :before
     ORDER BY t.id DESC LIMIT :n
""")


def _before(raw: object) -> int:
    if not isinstance(raw, dict):
        raise ValueError("bad cursor")
    before = raw["before"]
    if not isinstance(before, int) or before < 0:
        raise ValueError("bad cursor")
    return before


async def transactions(
    db: Database, merchant_id: str, customer_id: str, page_size: int, token: str
) -> tuple[list[Transaction], str]:
    """Newest first, one statement for the page and its entries."""
    query = paging.scope("ListTransactions", merchant_id, customer_id)
    before = paging.read(token, query, _before)
    rows = await db.fetch_rows(
        _TRANSACTIONS,
        {"m": merchant_id, "c": customer_id, "before": before if before is not None else 2**63 - 1, "n": page_size + 1},
    )
    page = rows[:page_size]
    out = [transaction_from_row(json.loads(doc)) for _, doc in page]
    return out, paging.issue(query, {"before": int(page[-1][0])}) if len(rows) > page_size else ""


_DUE_HOLDS = (
    select(t.holds.c.merchant_id, t.holds.c.customer_id)
    .where(t.holds.c.status == HoldStatus.ACTIVE.value, t.holds.c.expires_at <= bindparam("now", type_=t.UtcDateTime))
    .distinct()
    .limit(bindparam("n"))
)


async def customers_with_due_holds(db: Database, now: datetime, limit: int) -> list[tuple[str, str]]:
    return sorted((str(m), str(c)) for m, c in await db.fetch_rows(_DUE_HOLDS, {"now": now, "n": limit}))


_AWARD = text("""
    SELECT to_jsonb(a)::text FROM wallet_awards a WHERE a.merchant_id = :m AND a.kind = :k AND a.source_id = :s
""")


async def award(db: Database, merchant_id: str, kind: str, source_id: str) -> AwardRecord | None:
    """The award of one order or event, if the wallet made it (read without a lock: rows are never changed
    in a way that alters its replay answer)."""
    row = await db.fetch_row(_AWARD, {"m": merchant_id, "k": kind, "s": source_id})
    return award_record(json.loads(row[0])) if row is not None and row[0] is not None else None
