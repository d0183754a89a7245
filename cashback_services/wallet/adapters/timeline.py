"""The program timeline for reports: per local day, cashback earned, redeemed
and expired and the liability at the end of the day, from the ledger entries;
and how long customers take from first earning to first redemption."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cashback_kit.db import Database
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.domain.ledger import Account, TxType

TX, E = t.transactions.c, t.entries.c
OWED = (Account.AVAILABLE.value, Account.PENDING.value, Account.HELD.value)
DELAY_BUCKETS = ((0, 1), (1, 7), (7, 14), (14, 30), (30, 60), (60, 90), (90, 0))
MAX_DAYS = 366


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def program_timeline(db: Database, merchant_id: str, currency: str, start: datetime, end: datetime,
                           zone: ZoneInfo) -> tuple[list[dict[str, Any]], list[tuple[int, int, int]]]:
    joined = t.entries.join(t.transactions, TX.transaction_id == E.transaction_id)
    mine = (TX.merchant_id == merchant_id, TX.currency == currency)
    opening_q = select(func.coalesce(func.sum(E.amount), 0)).select_from(joined).where(
        *mine, TX.created_at < start, E.account.in_(OWED))
    rows_q = select(TX.created_at, TX.type, E.account, E.amount).select_from(joined).where(
        *mine, TX.created_at >= start, TX.created_at < end)
    firsts_q = (select(TX.customer_id, TX.type, func.min(TX.created_at))
                .where(*mine, TX.type.in_((TxType.AWARD.value, TxType.CAPTURE.value)))
                .group_by(TX.customer_id, TX.type))
    async with db.read() as conn:
        opening = int((await conn.execute(opening_q)).scalar() or 0)
        rows = (await conn.execute(rows_q)).all()
        firsts = (await conn.execute(firsts_q)).all()
    earned: dict[date, int] = defaultdict(int)
    redeemed: dict[date, int] = defaultdict(int)
    expired: dict[date, int] = defaultdict(int)
    owed: dict[date, int] = defaultdict(int)
    for created, tx_type, account, amount in rows:
        day = created.astimezone(zone).date()
        if account == Account.EXPENSE.value and tx_type == TxType.AWARD.value:
            earned[day] -= int(amount)
        elif account == Account.REDEEMED.value:
            redeemed[day] += int(amount)
        elif account == Account.BREAKAGE.value:
            expired[day] += int(amount)
        if account in OWED:
            owed[day] += int(amount)
    days, liability = [], opening
    for day in local_days(start, end, zone):
        liability += owed[day]
        days.append({"date": day.isoformat(), "earned": earned[day], "redeemed": redeemed[day],
                     "expired": expired[day], "liability": liability})
    first: dict[str, dict[str, datetime]] = defaultdict(dict)
    for customer_id, tx_type, ts in firsts:
        first[customer_id][tx_type] = ts
    counts = [0] * len(DELAY_BUCKETS)
    for f in first.values():
        award, capture = f.get(TxType.AWARD.value), f.get(TxType.CAPTURE.value)
        if award is None or capture is None or not (start <= capture < end) or capture < award:
            continue
        d = (capture - award).total_seconds() / 86400
        i = next(i for i, (lo, hi) in enumerate(DELAY_BUCKETS) if d >= lo and (hi == 0 or d < hi))
        counts[i] += 1
    return days, [(lo, hi, n) for (lo, hi), n in zip(DELAY_BUCKETS, counts, strict=True)]
