"""The auditor: recomputes the wallet from its entries and lots and reports
every difference. Plain functions over a connection; read-only. Run by every
wallet integration test (tests/wallet/conftest.py) and by `cashbackctl audit`.

Invariants:
  1. every transaction's entries sum to zero per currency;
  2. each maintained balance (available, pending, held, debt) equals the sum
     of its account's entries (debt is the negated receivable);
  3. per lot: amount (granted) = spent + expired + reversed + debited + held
     + remaining, none negative; available/pending balances equal the
     remaining of available/pending lots; expired lots hold nothing;
  4. held = sum of active holds = sum of the lots' held amounts;
  5. a hold's captured amount equals what its allocations captured;
  6. every ledger transaction wrote at least one outbox event;
  7-8. transfers clear the in-flight account (transfer_audit.py);
  9. conversions between credit and points are exact and recorded (points_audit.py);
  10-13. coalitions' settlement rows balance against the lots (coalition_audit.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.coalition_audit import settlement_violations
from cashback_services.wallet.domain.ledger import BALANCE_COLUMNS, Account, HoldStatus, LotStatus
from cashback_services.wallet.points_audit import conversion_violations
from cashback_services.wallet.transfer_audit import transfer_violations

Key = tuple[str, str, str]  # merchant, customer, currency
BALANCE_FIELDS = ("available", "pending", "held", "debt")


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


async def unbalanced_transactions(conn: AsyncConnection) -> list[Violation]:
    e = t.entries.c
    q = (select(e.transaction_id, e.currency, func.sum(e.amount))
         .group_by(e.transaction_id, e.currency).having(func.sum(e.amount) != 0))
    return [Violation("unbalanced", f"transaction {tx} sums to {int(s)} {cur}")
            for tx, cur, s in (await conn.execute(q)).all()]


async def _balances(conn: AsyncConnection) -> dict[Key, dict[str, int]]:
    rows = (await conn.execute(select(t.balances))).mappings().all()
    return {(r["merchant_id"], r["customer_id"], r["currency"]):
            {f: int(r[f]) for f in BALANCE_FIELDS} for r in rows}


async def balances_match_entries(conn: AsyncConnection) -> list[Violation]:
    e = t.entries.c
    q = (select(e.merchant_id, e.customer_id, e.currency, e.account, func.sum(e.amount))
         .where(e.account.in_([a.value for a in BALANCE_COLUMNS]))
         .group_by(e.merchant_id, e.customer_id, e.currency, e.account))
    expected: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BALANCE_FIELDS, 0))
    for m, c, cur, acc, s in (await conn.execute(q)).all():
        col, sign = BALANCE_COLUMNS[Account(acc)]
        expected[(m, c, cur)][col] += sign * int(s)
    stored = await _balances(conn)
    out = []
    for key in set(expected) | set(stored):
        want = expected.get(key, dict.fromkeys(BALANCE_FIELDS, 0))
        have = stored.get(key, dict.fromkeys(BALANCE_FIELDS, 0))
        for col in want:
            if want[col] != have[col]:
                out.append(Violation("balance", f"{key} {col} is {have[col]} but its entries sum to {want[col]}"))
            if have[col] < 0:
                out.append(Violation("balance", f"{key} {col} is negative: {have[col]}"))
    return out


async def lots_conserved(conn: AsyncConnection) -> list[Violation]:
    out = []
    by_key: dict[Key, dict[str, int]] = defaultdict(lambda: {"available": 0, "pending": 0, "held": 0})
    for lot in (await conn.execute(select(t.lots))).mappings().all():
        parts = ("remaining", "held", "spent", "expired", "reversed", "debited")
        total = sum(int(lot[p]) for p in parts)
        if total != int(lot["amount"]):
            out.append(Violation("lot", f"lot {lot['lot_id']} granted {lot['amount']} but accounts for {total}"))
        for p in parts:
            if int(lot[p]) < 0:
                out.append(Violation("lot", f"lot {lot['lot_id']} has negative {p}"))
        key = (lot["merchant_id"], lot["customer_id"], lot["currency"])
        if lot["status"] == LotStatus.EXPIRED.value and int(lot["remaining"]) != 0:
            out.append(Violation("lot", f"expired lot {lot['lot_id']} still has {lot['remaining']} remaining"))
        elif lot["status"] in by_key[key]:
            by_key[key][lot["status"]] += int(lot["remaining"])
        by_key[key]["held"] += int(lot["held"])
    stored = await _balances(conn)
    for key in set(by_key) | set(stored):
        have = stored.get(key, {"available": 0, "pending": 0, "held": 0})
        for col, want in by_key.get(key, {"available": 0, "pending": 0, "held": 0}).items():
            if have[col] != want:
                out.append(Violation("lots", f"{key} {col} is {have[col]} but its lots hold {want}"))
    return out


async def holds_match(conn: AsyncConnection) -> list[Violation]:
    active: dict[Key, int] = defaultdict(int)
    out = []
    allocs = defaultdict(list)
    for r in (await conn.execute(select(t.hold_allocations))).mappings().all():
        allocs[r["hold_id"]].append(r)
    for hold in (await conn.execute(select(t.holds))).mappings().all():
        key = (hold["merchant_id"], hold["customer_id"], hold["currency"])
        mine = allocs.get(hold["hold_id"], [])
        if sum(int(x["amount"]) for x in mine) != int(hold["amount"]):
            out.append(Violation("hold", f"hold {hold['hold_id']} allocations do not add up to its amount"))
        if sum(int(x["captured"]) for x in mine) != int(hold["captured"]):
            out.append(Violation("hold", f"hold {hold['hold_id']} captured differs from its allocations"))
        if hold["status"] == HoldStatus.ACTIVE.value:
            active[key] += int(hold["amount"])
        elif hold["status"] != HoldStatus.CAPTURED.value and int(hold["captured"]) != 0:
            out.append(Violation("hold", f"{hold['status']} hold {hold['hold_id']} has a capture"))
    stored = await _balances(conn)
    for key in set(active) | set(stored):
        have = stored.get(key, {"held": 0})["held"]
        if have != active.get(key, 0):
            out.append(Violation("held", f"{key} held is {have} but active holds sum to {active.get(key, 0)}"))
    return out


async def transactions_without_event(conn: AsyncConnection) -> list[Violation]:
    """Every ledger change must have reached the outbox in its transaction."""
    tx, ev = t.transactions.c, t.events.c
    q = (select(tx.transaction_id).select_from(
        t.transactions.outerjoin(t.events, ev.transaction_id == tx.transaction_id)).where(ev.id.is_(None)))
    return [Violation("outbox", f"transaction {tx_id} wrote no event") for tx_id in (await conn.execute(q)).scalars()]


async def audit(conn: AsyncConnection) -> list[Violation]:
    """Every invariant; an empty list means the books are right."""
    out: list[Violation] = []
    for check in (unbalanced_transactions, balances_match_entries, lots_conserved, holds_match,
                  transactions_without_event):
        out += await check(conn)
    linked = await transfer_violations(conn) + await conversion_violations(conn) + await settlement_violations(conn)
    return out + [Violation(check, detail) for check, detail in linked]


async def audit_database(url: str) -> list[Violation]:
    from cashback_kit.db import Database

    db = Database(url)
    try:
        async with db.read() as conn:
            return await audit(conn)
    finally:
        await db.dispose()
