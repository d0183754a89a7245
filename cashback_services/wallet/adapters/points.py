"""The points rate and conversion records (migration 0005). A conversion runs
on the aggregate path with its record (records.py) and reads the rate in the
same transaction, after the customer's lock."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from cashback_kit.db import Database
from cashback_kit.pgtx import Tx, transaction
from cashback_services.wallet.adapters.records import Records, locked_with_record
from cashback_services.wallet.adapters.repository import IdemKey, State, Want
from cashback_services.wallet.domain.points import Conversion, Rate

_RATE = "SELECT currency, points, per_minor, updated_at FROM wallet_points_rates WHERE merchant_id = $1"
_SET_RATE = """INSERT INTO wallet_points_rates (merchant_id, currency, points, per_minor, updated_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (merchant_id) DO UPDATE
SET currency = EXCLUDED.currency, points = EXCLUDED.points, per_minor = EXCLUDED.per_minor,
    updated_at = EXCLUDED.updated_at"""
_INSERT = """INSERT INTO wallet_conversions (transaction_id, merchant_id, customer_id, to_points, currency, credit,
  points, rate_points, rate_per_minor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"""
_SELECT = "SELECT * FROM wallet_conversions WHERE merchant_id = $1 AND transaction_id = $2"


async def rate(tx: Tx, merchant_id: str) -> tuple[Rate, datetime] | None:
    rows = await tx.fetch(_RATE, merchant_id)
    if not rows:
        return None
    r = rows[0]
    return Rate(r["currency"], int(r["points"]), int(r["per_minor"])), r["updated_at"].astimezone(UTC)


async def set_rate(db: Database, merchant_id: str, new: Rate, now: datetime) -> None:
    async with transaction(db) as tx:
        await tx.execute(_SET_RATE, merchant_id, new.currency, new.points, new.per_minor, now)


def locked(db: Database, now: datetime, want: Want,
           key: IdemKey) -> AbstractAsyncContextManager[tuple[State, Tx, Records[Conversion]]]:
    return locked_with_record(db, now, want, key, _get, _insert)


async def _insert(tx: Tx, c: Conversion) -> None:
    await tx.execute(_INSERT, c.transaction_id, c.merchant_id, c.customer_id, c.to_points, c.rate.currency,
                     c.credit, c.points, c.rate.points, c.rate.per_minor, c.created_at)


async def _get(tx: Tx, merchant_id: str, transaction_id: str) -> Conversion | None:
    rows = await tx.fetch(_SELECT, merchant_id, transaction_id)
    if not rows:
        return None
    r = rows[0]
    return Conversion(r["transaction_id"], r["merchant_id"], r["customer_id"], r["to_points"],
                      Rate(r["currency"], int(r["rate_points"]), int(r["rate_per_minor"])), int(r["credit"]),
                      int(r["points"]), r["created_at"].astimezone(UTC))
