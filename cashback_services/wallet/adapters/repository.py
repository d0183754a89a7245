"""The customer repository: loads aggregates with ONE statement and writes
everything they changed with ONE statement (wallet_load / wallet_write,
migration 0003), as JSON documents in and out. With BEGIN and COMMIT that is
four statements per write, however many lots, holds and postings it touches,
and for a whole group of credits (batch.py) as for one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cashback_kit.db import Database
from cashback_kit.idempotency import Outcome
from cashback_kit.pgtx import Tx, connection, transaction
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.model import Allocation, Balance, Entry, Hold, Lot, Transaction
from cashback_services.wallet.domain.orders import AwardRecord, RefundRecord

Key = tuple[str, str]  # (merchant_id, customer_id)
IdemKey = tuple[str, str, str]  # (merchant_id, scope, key)
AwardKey = tuple[str, str, str]  # (merchant_id, kind, source_id)

_LOAD = "SELECT wallet_load($1::jsonb)::text"
_WRITE = "SELECT wallet_write($1::jsonb)"
# The same write with audit rows beside it: still one statement (a data-modifying CTE runs
# whether or not the query reads it), so an audited ops write costs no extra round trip.
_WRITE_AUDITED = """
WITH a AS (INSERT INTO wallet_audit (at, key_id, key_name, role, merchant_id, action, target, change)
           SELECT r.at, r.key_id, r.key_name, r.role, r.merchant_id, r.action, r.target, r.change
             FROM jsonb_to_recordset($2::jsonb) AS r(at timestamptz, key_id text, key_name text, role text,
                                                     merchant_id text, action text, target text, change json))
SELECT wallet_write($1::jsonb)"""


# RefundOrder's two statements (migration 0013): the decision's load in autocommit (the lock lasts
# the statement, never the call to rules), with the version of what it read and whether partner
# credit paid for the order; then the write, made only if the version is still that one.
_PEEK = "SELECT wallet_load_order($1::jsonb)::text"
_WRITE_IF = "SELECT wallet_write_if($1::jsonb, $2, $3::jsonb)"


@dataclass(frozen=True)
class AuditRow:
    """One wallet_audit row: which key (id, never the key) changed what, when."""

    at: datetime
    key_id: str
    key_name: str
    role: str
    merchant_id: str
    action: str
    target: str
    change: dict[str, Any]


@dataclass(frozen=True)
class Want:
    """What an operation needs loaded: whose aggregates (customers given, the
    owners of holds, or the owner of an order), and which lots, holds and records."""

    customers: tuple[Key, ...] = ()
    holds: tuple[tuple[str, str], ...] = ()  # (merchant_id, hold_id): capture, void
    order: tuple[str, str] | None = None  # (merchant_id, order_id): its captured holds and lots
    spend: tuple[str, ...] = ()  # currencies whose spendable lots to load, all of them
    # (merchant_id, customer_id, currency, amount): the spendable lots in spend order until they
    # cover the amount (all of them if they do not), for a caller that knows what it will spend.
    spend_upto: tuple[tuple[str, str, str, int], ...] = ()
    idem: tuple[IdemKey, ...] = ()
    awards: tuple[AwardKey, ...] = ()
    refund: tuple[str, str] | None = None  # (merchant_id, refund_id)
    skip_locked: bool = False

    @classmethod
    def merge(cls, wants: list[Want]) -> Want:
        """One load for a group of calls (none of which names an order or a refund)."""
        def union(name: str) -> tuple[Any, ...]:
            return tuple(sorted({item for w in wants for item in getattr(w, name)}))

        upto: dict[tuple[str, str, str], int] = {}
        for w in wants:  # calls that spend from the same lots need what they spend together
            for m, c, cur, amount in w.spend_upto:
                upto[(m, c, cur)] = upto.get((m, c, cur), 0) + amount
        return cls(customers=union("customers"), holds=union("holds"), spend=union("spend"), idem=union("idem"),
                   awards=union("awards"), spend_upto=tuple(sorted((*k, v) for k, v in upto.items())))


@dataclass
class State:
    """The loaded aggregates and records, and the records a use case adds."""

    now: datetime
    customers: dict[Key, Customer] = field(default_factory=dict)
    outcomes: dict[IdemKey, Outcome] = field(default_factory=dict)
    awards: dict[AwardKey, AwardRecord] = field(default_factory=dict)
    refunds: dict[tuple[str, str], RefundRecord] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)  # results of stored adjustments
    missing: str | None = None  # "order": the owner to lock was not found
    new_outcomes: dict[IdemKey, tuple[str, Outcome]] = field(default_factory=dict)  # key -> (customer, outcome)
    new_awards: list[AwardRecord] = field(default_factory=list)
    changed_awards: list[AwardRecord] = field(default_factory=list)
    new_refunds: list[RefundRecord] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)  # written with the changes

    def only(self) -> Customer:
        (customer,) = self.customers.values()
        return customer

    def owner(self, hold_id: str) -> Customer | None:
        """The customer whose loaded holds include `hold_id`."""
        return next((c for c in self.customers.values() if hold_id in c.holds), None)


@asynccontextmanager
async def locked(db: Database, now: datetime, want: Want) -> AsyncIterator[State]:
    """BEGIN, lock and load; the block decides; write and COMMIT (or roll back
    if the block raises)."""
    async with transaction(db) as tx:
        state = await load(tx, now, want)
        yield state
        await write(tx, state)


async def load(tx: Tx, now: datetime, want: Want) -> State:
    """Lock the customers and load their aggregates: one statement."""
    return _parse(now, orjson.loads(await tx.fetchval(_LOAD, _dumps(_request(now, want)))))


async def write(tx: Tx, state: State) -> None:
    """Write every change: one statement (none if nothing changed)."""
    doc = _changes(state)
    if doc is not None and state.audit:
        await tx.fetchval(_WRITE_AUDITED, _dumps(doc), _dumps([vars(r) for r in state.audit]))
    elif doc is not None:
        await tx.fetchval(_WRITE, _dumps(doc))


@dataclass
class Peeked:
    """An order's aggregate loaded in autocommit (its lock ended with the statement), and the version
    of what was loaded (the row versions of everything such a load reads) that `write_if` checks."""

    state: State
    want: Want
    version: str
    partnered: bool  # partner credit paid for the order (its refund locks the issuers too)


async def peek_order(db: Database, now: datetime, want: Want) -> Peeked:
    """One statement: lock (for the statement only), settle and load the owner of `want.order`."""
    assert want.order is not None
    async with connection(db) as s:
        doc = orjson.loads(await s.fetchval(_PEEK, _dumps(_request(now, want))))
    return Peeked(_parse(now, doc), want, str(doc.get("version", "")), bool(doc.get("partnered")))


async def write_if(db: Database, peeked: Peeked) -> bool:
    """One statement: write what the domain changed on `peeked.state` if, under the customer's lock,
    the version of what it was decided on is unchanged (False, nothing written, when it is not)."""
    doc = _changes(peeked.state)
    assert not peeked.state.audit, "an audited write takes the locked path"
    if doc is None:
        return True
    async with connection(db) as s:
        return bool(await s.fetchval(_WRITE_IF, _dumps(_request(peeked.state.now, peeked.want)), peeked.version,
                                     _dumps(doc)))


# -- load -------------------------------------------------------------------------------


def _request(now: datetime, want: Want) -> dict[str, Any]:
    doc: dict[str, Any] = {"now": now, "customers": [list(k) for k in want.customers]}
    for name in ("order", "refund"):
        if getattr(want, name) is not None:
            doc[name] = list(getattr(want, name))
    for name in ("holds", "spend", "spend_upto", "idem", "awards"):
        if getattr(want, name):
            doc[name] = list(getattr(want, name))
    if want.skip_locked:
        doc["skip_locked"] = True
    return doc


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value is not None else None


def _tsr(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _lot(r: dict[str, Any]) -> Lot:
    return Lot(r["lot_id"], r["currency"], r["source"], r["order_id"], r["campaign_id"], int(r["amount"]),
               r["status"], _tsr(r["available_at"]), _ts(r["expires_at"]), _tsr(r["created_at"]),
               *(int(r[k]) for k in ("remaining", "held", "spent", "expired", "reversed", "debited")))


def _hold(r: dict[str, Any], allocs: list[Allocation]) -> Hold:
    return Hold(r["hold_id"], r["order_id"], r["currency"], int(r["amount"]), _tsr(r["expires_at"]),
                _tsr(r["created_at"]), r["status"], int(r["captured"]), _ts(r["closed_at"]), allocs)


def award_record(r: dict[str, Any]) -> AwardRecord:
    """A wallet_awards row as to_jsonb renders it (bytea as \\x-hex)."""
    return AwardRecord(
        r["merchant_id"], r["kind"], r["source_id"], r["customer_id"], r["fingerprint"],
        bytes.fromhex(r["score"][2:]), r["currency"], earned=int(r["earned"]), credited=int(r["credited"]),
        debt_repaid=int(r["debt_repaid"]), base=int(r["base"]), refunded=int(r["refunded"]),
        credit_returned=int(r["credit_returned"]), placed_at=_tsr(r["placed_at"]), created_at=_tsr(r["created_at"]))


def refund_record(r: dict[str, Any]) -> RefundRecord:
    return RefundRecord(
        r["merchant_id"], r["refund_id"], r["order_id"], r["customer_id"], r["fingerprint"], r["currency"],
        refunded_amount=int(r["refunded_amount"]), credit_returned=int(r["credit_returned"]),
        cashback_reversed=int(r["cashback_reversed"]), debt=int(r["debt"]), created_at=_tsr(r["created_at"]))


def transaction_from_row(r: dict[str, Any]) -> Transaction:
    """A wallet_transactions row with its entries, as to_jsonb renders them."""
    return Transaction(
        r["transaction_id"], r["type"], r["currency"], int(r["amount"]),
        tuple(Entry(e["account"], e["currency"], int(e["amount"])) for e in r["entries"]),
        _tsr(r["created_at"]), r["order_id"], r["hold_id"], r["refund_id"], r["reason"])


def _parse(now: datetime, doc: dict[str, Any]) -> State:
    state = State(now, missing=doc.get("missing"))
    for r in doc.get("customers", []):
        c = Customer(r["merchant_id"], r["customer_id"], now, _ts(r["last_order_at"]), _ts(r["first_earned_at"]),
                     _ts(r["first_redeemed_at"]))
        state.customers[c.key] = c
    for r in doc.get("balances", []):
        state.customers[(r["merchant_id"], r["customer_id"])].balances[r["currency"]] = Balance(
            r["currency"], *(int(r[k]) for k in ("available", "pending", "held", "debt")))
    for r in doc.get("lots", []):
        state.customers[(r["merchant_id"], r["customer_id"])].lots[r["lot_id"]] = _lot(r)
    allocs: dict[str, list[Allocation]] = {}
    for r in doc.get("allocations", []):
        allocs.setdefault(r["hold_id"], []).append(
            Allocation(r["lot_id"], int(r["seq"]), int(r["amount"]), int(r["captured"]), int(r["returned"])))
    for r in doc.get("holds", []):
        state.customers[(r["merchant_id"], r["customer_id"])].holds[r["hold_id"]] = _hold(
            r, allocs.get(r["hold_id"], []))
    for r in doc.get("idem", []):
        state.outcomes[(r["merchant_id"], r["scope"], r["key"])] = Outcome(
            r["fingerprint"], r["result_id"], r["error_code"], r["error_message"], r.get("error_reason"))
    for r in doc.get("transactions", []):
        state.transactions[r["transaction_id"]] = transaction_from_row(r)
    for r in doc.get("awards", []):
        state.awards[(r["merchant_id"], r["kind"], r["source_id"])] = award_record(r)
    for r in doc.get("refunds", []):
        state.refunds[(r["merchant_id"], r["refund_id"])] = refund_record(r)
    return state


# -- write ------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """What orjson does not write itself: bytes, as PostgreSQL's bytea input takes them (\\x-hex).
    (Datetimes it writes as ISO 8601 with their offset, as PostgreSQL reads them.)"""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(doc: dict[str, Any] | list[Any]) -> str:
    """A document for wallet_load/wallet_write. orjson: the encoding was ~10% of the wallet's CPU
    per checkout call with the standard library's json."""
    return orjson.dumps(doc, default=_json).decode()


def _row(obj: Any, **extra: Any) -> dict[str, Any]:
    """A dataclass's fields as a row (one level: dataclasses.asdict copies deeply, and costs it)."""
    return {**extra, **vars(obj)}


def _customer_rows(c: Customer, doc: dict[str, list[Any]]) -> None:
    me = {"merchant_id": c.merchant_id, "customer_id": c.customer_id}
    doc["new_lots"] += [_row(c.lots[i], **me) for i in c.new_lots]
    doc["lots"] += [_row(c.lots[i], **me) for i in sorted(c.changed_lots)]
    for ids, holds_key, allocs_key in ((c.new_holds, "new_holds", "new_allocations"),
                                       (sorted(c.changed_holds), "holds", "allocations")):
        for hold_id in ids:
            hold = c.holds[hold_id]
            row = _row(hold, **me)
            del row["allocations"]
            doc[holds_key].append(row)
            doc[allocs_key] += [_row(a, hold_id=hold_id, **me) for a in hold.allocations]
    for tx in c.transactions:
        row = _row(tx, **me)
        del row["entries"]
        doc["transactions"].append(row)
        doc["entries"] += [_row(e, transaction_id=tx.transaction_id, **me) for e in tx.entries]
    doc["events"] += [_row(e, **me) for e in c.events]
    doc["balances"] += [_row(c.balances[cur], updated_at=c.now, **me) for cur in sorted(c.changed_balances)]
    if c.touched:
        doc["customers"].append({**me, "last_order_at": c.last_order_at, "first_earned_at": c.first_earned_at,
                                 "first_redeemed_at": c.first_redeemed_at})
    if c.settle_after:
        doc["settle"].append([c.merchant_id, c.customer_id])


def _changes(state: State) -> dict[str, Any] | None:
    """Everything to write, as wallet_write takes it; None when nothing changed."""
    names = ("new_lots", "lots", "new_holds", "holds", "new_allocations", "allocations", "transactions", "entries",
             "events", "balances", "customers", "settle", "idem", "new_awards", "awards", "refunds")
    doc: dict[str, list[Any]] = {name: [] for name in names}
    for customer in state.customers.values():
        _customer_rows(customer, doc)
    for (merchant_id, scope, key), (customer_id, outcome) in state.new_outcomes.items():
        doc["idem"].append({"merchant_id": merchant_id, "scope": scope, "key": key, "customer_id": customer_id,
                            **vars(outcome), "created_at": state.now})
    doc["new_awards"] = [_row(a) for a in state.new_awards]
    doc["awards"] = [_row(a) for a in state.changed_awards]
    doc["refunds"] = [_row(r) for r in state.new_refunds]
    if not any(doc.values()):
        return None
    out: dict[str, Any] = {k: v for k, v in doc.items() if v}
    out["now"] = state.now
    return out
