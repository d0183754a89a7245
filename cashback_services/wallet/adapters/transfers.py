"""Transfers on the aggregate path: both customers locked and loaded by one
`wallet_load` (in key order, so A->B and B->A at once never deadlock), the
domain decides, `wallet_write` writes both legs, and one more statement
records the transfer row -- five statements with BEGIN and COMMIT."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from cashback_kit.db import Database
from cashback_kit.pgtx import Tx, transaction
from cashback_services.wallet.adapters.records import Records, locked_with_record
from cashback_services.wallet.adapters.repository import IdemKey, State, Want
from cashback_services.wallet.domain.transfers import Transfer, TransferPart

_INSERT = """INSERT INTO wallet_transfers (transfer_id, merchant_id, from_customer_id, to_customer_id, currency,
  amount, note, parts, debit_transaction_id, credit_transaction_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)"""
_SELECT = "SELECT * FROM wallet_transfers WHERE merchant_id = $1 AND transfer_id = $2"
_POLICY = "SELECT require_known_receiver FROM wallet_transfer_policies WHERE merchant_id = $1"
_SET_POLICY = """INSERT INTO wallet_transfer_policies (merchant_id, require_known_receiver, updated_at)
VALUES ($1, $2, $3) ON CONFLICT (merchant_id) DO UPDATE
SET require_known_receiver = EXCLUDED.require_known_receiver, updated_at = EXCLUDED.updated_at"""


async def require_known_receiver(tx: Tx, merchant_id: str) -> bool:
    """The merchant's policy (migration 0008); no row: any customer may receive."""
    return bool(await tx.fetchval(_POLICY, merchant_id))


async def set_policy(db: Database, merchant_id: str, require_known: bool, now: datetime) -> None:
    async with transaction(db) as tx:
        await tx.execute(_SET_POLICY, merchant_id, require_known, now)


def locked(db: Database, now: datetime, want: Want,
           key: IdemKey) -> AbstractAsyncContextManager[tuple[State, Tx, Records[Transfer]]]:
    return locked_with_record(db, now, want, key, _get, _insert)


def _parts_json(parts: tuple[TransferPart, ...]) -> str:
    return json.dumps([{"amount": p.amount, "expires_at": p.expires_at.isoformat() if p.expires_at else None}
                       for p in parts])


async def _insert(tx: Tx, t: Transfer) -> None:
    await tx.execute(_INSERT, t.transfer_id, t.merchant_id, t.from_customer_id, t.to_customer_id, t.currency,
                     t.amount, t.note, _parts_json(t.parts), t.debit_transaction_id, t.credit_transaction_id,
                     t.created_at)


async def _get(tx: Tx, merchant_id: str, transfer_id: str) -> Transfer | None:
    rows = await tx.fetch(_SELECT, merchant_id, transfer_id)
    return transfer_from_row(dict(rows[0])) if rows else None


def transfer_from_row(r: dict[str, Any]) -> Transfer:
    parts = json.loads(r["parts"]) if isinstance(r["parts"], str) else r["parts"]
    return Transfer(
        r["transfer_id"], r["merchant_id"], r["from_customer_id"], r["to_customer_id"], r["currency"],
        int(r["amount"]), r["note"],
        tuple(TransferPart(int(p["amount"]), datetime.fromisoformat(p["expires_at"]).astimezone(UTC)
                           if p["expires_at"] else None) for p in parts),
        r["debit_transaction_id"], r["credit_transaction_id"], r["created_at"].astimezone(UTC))
