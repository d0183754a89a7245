"""Coalitions, partner redemptions and settlement rows (migration 0007), as SQL
on the kit's asyncpg pool. The ledger side of a partner redemption goes
through wallet_load / wallet_write like every write; these statements only
read and write the rows that link its parts and record the settlement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cashback_kit.errors import AlreadyExists
from cashback_kit.pgtx import Tx
from cashback_services.wallet.domain.coalitions import Coalition, Member, already_in_coalition
from cashback_services.wallet.domain.model import Hold
from cashback_services.wallet.domain.partner import Part, Redemption, Settlement

_COALITION = """
SELECT c.coalition_id, c.name, c.currency, c.proposed_by, c.created_at, c.activated_at,
       jsonb_agg(jsonb_build_object('merchant_id', m.merchant_id, 'joined_at', m.joined_at) ORDER BY m.seq)::text
  FROM wallet_coalitions c JOIN wallet_coalition_members m USING (coalition_id)
 WHERE c.coalition_id = $1 GROUP BY c.coalition_id"""
# Creating coalitions one at a time keeps "a merchant is in at most one" a plain check
# (the UNIQUE on members is the backstop); reads and partner checkouts are not blocked.
_LOCK_MEMBERS = "LOCK TABLE wallet_coalition_members IN SHARE ROW EXCLUSIVE MODE"
_TAKEN = """SELECT merchant_id, coalition_id FROM wallet_coalition_members WHERE merchant_id = ANY($1::text[])
 ORDER BY merchant_id LIMIT 1"""
_INSERT = """
WITH c AS (INSERT INTO wallet_coalitions (coalition_id, name, currency, proposed_by, created_at, activated_at)
           VALUES ($1, $2, $3, $4, $5, NULL))
INSERT INTO wallet_coalition_members (coalition_id, merchant_id, seq, joined_at)
SELECT $1, m.merchant_id, m.seq - 1, CASE WHEN m.merchant_id = $4 THEN $5 END
  FROM unnest($6::text[]) WITH ORDINALITY AS m(merchant_id, seq)"""
_LOCK = "SELECT 1 FROM wallet_coalitions WHERE coalition_id = $1 FOR UPDATE"
_JOIN = """
WITH m AS (UPDATE wallet_coalition_members SET joined_at = $3
            WHERE coalition_id = $1 AND merchant_id = $2 AND joined_at IS NULL)
UPDATE wallet_coalitions SET activated_at = $4::timestamptz
 WHERE coalition_id = $1 AND activated_at IS NULL AND $4::timestamptz IS NOT NULL"""
# Whose credit a partner checkout may spend: the other members where this customer has
# a wallet at all (no empty wallets are created at partners).
_PARTNERS = """
SELECT c.coalition_id, c.currency, c.activated_at IS NOT NULL,
       ARRAY(SELECT o.merchant_id FROM wallet_coalition_members o
               JOIN wallet_customers w ON w.merchant_id = o.merchant_id AND w.customer_id = $2
              WHERE o.coalition_id = c.coalition_id AND o.merchant_id <> $1 ORDER BY o.merchant_id)
  FROM wallet_coalition_members m JOIN wallet_coalitions c USING (coalition_id) WHERE m.merchant_id = $1"""
_INSERT_REDEMPTION = """
WITH r AS (INSERT INTO wallet_partner_redemptions (redemption_id, coalition_id, merchant_id, customer_id, order_id,
                                                   currency, amount, expires_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
INSERT INTO wallet_partner_parts (redemption_id, seq, issuer_merchant_id, hold_id, amount)
SELECT $1, p.* FROM unnest($10::int[], $11::text[], $12::text[], $13::bigint[]) AS p"""
_REDEMPTIONS = """
SELECT to_jsonb(r)::text,
       (SELECT jsonb_agg(to_jsonb(p) || jsonb_build_object('status', h.status, 'captured', h.captured,
                                                           'closed_at', h.closed_at) ORDER BY p.seq)
          FROM wallet_partner_parts p JOIN wallet_holds h USING (hold_id)
         WHERE p.redemption_id = r.redemption_id)::text
  FROM wallet_partner_redemptions r WHERE r.merchant_id = $1 AND {where} ORDER BY r.created_at, r.redemption_id"""
_INSERT_SETTLEMENTS = """INSERT INTO wallet_settlements
SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_settlements, $1::jsonb) r"""
_FLOWS = """SELECT issuer_merchant_id, redeemer_merchant_id, sum(amount) FROM wallet_settlements
 WHERE coalition_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1, 2"""


@dataclass(frozen=True)
class Partners:
    coalition_id: str
    currency: str
    active: bool
    merchant_ids: tuple[str, ...]  # the other members where the customer has a wallet


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _coalition(row: Any) -> Coalition:
    members = tuple(Member(m["merchant_id"], datetime.fromisoformat(m["joined_at"]).astimezone(UTC)
                           if m["joined_at"] else None) for m in json.loads(row[6]))
    return Coalition(row[0], row[1], row[2], row[3], members, row[4].astimezone(UTC), _utc(row[5]))


async def coalition(tx: Tx, coalition_id: str) -> Coalition | None:
    row = await tx.fetchrow(_COALITION, coalition_id)
    return _coalition(row) if row is not None else None


async def create(tx: Tx, new: Coalition) -> Coalition:
    """The coalition as stored: `new`, or the same proposal made before. Refuses
    another proposal under the id, and members already in a coalition."""
    await tx.execute(_LOCK_MEMBERS)
    existing = await coalition(tx, new.coalition_id)
    if existing is not None:
        if not existing.same_proposal(new):
            raise AlreadyExists(f"coalition_id {new.coalition_id!r} names another coalition",
                                reason="COALITION_EXISTS")
        return existing
    taken = await tx.fetchrow(_TAKEN, list(new.merchant_ids))
    if taken is not None:
        raise already_in_coalition(taken[0], taken[1])
    await tx.execute(_INSERT, new.coalition_id, new.name, new.currency, new.proposed_by, new.created_at,
                     list(new.merchant_ids))
    return new


async def locked(tx: Tx, coalition_id: str) -> Coalition | None:
    await tx.execute(_LOCK, coalition_id)
    return await coalition(tx, coalition_id)


async def save_join(tx: Tx, c: Coalition, merchant_id: str) -> None:
    joined_at = next(m.joined_at for m in c.members if m.merchant_id == merchant_id)
    await tx.execute(_JOIN, c.coalition_id, merchant_id, joined_at, c.activated_at)


async def partners(tx: Tx, merchant_id: str, customer_id: str) -> Partners | None:
    row = await tx.fetchrow(_PARTNERS, merchant_id, customer_id)
    return Partners(row[0], row[1], bool(row[2]), tuple(row[3])) if row is not None else None


async def insert_redemption(tx: Tx, r: Redemption) -> None:
    parts = sorted(r.parts, key=lambda p: p.seq)
    await tx.execute(_INSERT_REDEMPTION, r.redemption_id, r.coalition_id, r.merchant_id, r.customer_id, r.order_id,
                     r.currency, r.amount, r.expires_at, r.created_at, [p.seq for p in parts],
                     [p.issuer for p in parts], [p.hold_id for p in parts], [p.amount for p in parts])


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _redemption(doc: str, parts_doc: str) -> tuple[Redemption, list[Hold]]:
    """The redemption, and its parts' holds as they stand (status and capture, no allocations)."""
    r = json.loads(doc)
    rows = json.loads(parts_doc or "[]")
    parts = tuple(Part(int(p["seq"]), p["issuer_merchant_id"], p["hold_id"], int(p["amount"])) for p in rows)
    expires_at, created_at = _ts(r["expires_at"]), _ts(r["created_at"])
    assert expires_at is not None and created_at is not None
    red = Redemption(r["redemption_id"], r["coalition_id"], r["merchant_id"], r["customer_id"], r["order_id"],
                     r["currency"], int(r["amount"]), expires_at, created_at, parts)
    holds = [Hold(p["hold_id"], r["order_id"], r["currency"], int(p["amount"]), expires_at, created_at, p["status"],
                  int(p["captured"]), _ts(p["closed_at"])) for p in rows]
    return red, holds


async def redemption(tx: Tx, merchant_id: str, redemption_id: str) -> tuple[Redemption, list[Hold]] | None:
    rows = await tx.fetch(_REDEMPTIONS.format(where="r.redemption_id = $2"), merchant_id, redemption_id)
    return _redemption(rows[0][0], rows[0][1]) if rows else None


async def redemptions_of_order(tx: Tx, merchant_id: str, order_id: str) -> list[Redemption]:
    rows = await tx.fetch(_REDEMPTIONS.format(where="r.order_id = $2"), merchant_id, order_id)
    return [_redemption(r[0], r[1])[0] for r in rows]


async def insert_settlements(tx: Tx, rows: list[Settlement]) -> None:
    if not rows:
        return
    doc = [{"settlement_id": s.settlement_id, "coalition_id": s.coalition_id, "redemption_id": s.redemption_id,
            "issuer_merchant_id": s.issuer, "redeemer_merchant_id": s.redeemer, "customer_id": s.customer_id,
            "currency": s.currency, "amount": s.amount, "refund_id": s.refund_id,
            "payable_transaction_id": s.payable_transaction_id,
            "receivable_transaction_id": s.receivable_transaction_id, "created_at": s.created_at.isoformat()}
           for s in rows]
    await tx.execute(_INSERT_SETTLEMENTS, json.dumps(doc))


async def flows(tx: Tx, coalition_id: str, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(issuer, redeemer, what the issuer owes the redeemer) over [start, end)."""
    return [(r[0], r[1], int(r[2])) for r in await tx.fetch(_FLOWS, coalition_id, start, end)]
