"""The auditor's checks of transfers (run by auditor.audit):

  7. every transfer's two legs clear the in-flight account: its TRANSFER_OUT
     (on the sender) and TRANSFER_IN (on the receiver) put +amount and
     -amount on `transfer:in_flight`, and move -amount and +amount of the
     customers' credit;
  8. no in-flight entry belongs to anything but a recorded transfer, so the
     in-flight account of every merchant and currency nets to zero.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.wallet.domain.ledger import Account

_LEGS = text("""
SELECT t.transfer_id, t.merchant_id, t.from_customer_id, t.to_customer_id, t.currency, t.amount,
       d.customer_id AS debit_customer, d.amount AS debit_amount, d.type AS debit_type,
       c.customer_id AS credit_customer, c.amount AS credit_amount, c.type AS credit_type,
       (SELECT coalesce(sum(e.amount), 0) FROM wallet_entries e
         WHERE e.transaction_id = t.debit_transaction_id AND e.account = :acc) AS debit_in_flight,
       (SELECT coalesce(sum(e.amount), 0) FROM wallet_entries e
         WHERE e.transaction_id = t.credit_transaction_id AND e.account = :acc) AS credit_in_flight
  FROM wallet_transfers t
  LEFT JOIN wallet_transactions d ON d.transaction_id = t.debit_transaction_id
  LEFT JOIN wallet_transactions c ON c.transaction_id = t.credit_transaction_id
""")

_STRAY = text("""
SELECT e.transaction_id, e.amount FROM wallet_entries e
 WHERE e.account = :acc AND NOT EXISTS (
   SELECT 1 FROM wallet_transfers t
    WHERE t.debit_transaction_id = e.transaction_id OR t.credit_transaction_id = e.transaction_id)
""")

_NET = text("""
SELECT merchant_id, currency, sum(amount) FROM wallet_entries WHERE account = :acc
 GROUP BY merchant_id, currency HAVING sum(amount) <> 0
""")


def _leg_problems(r: Any) -> list[str]:
    a = int(r.amount)
    want = {
        "debit leg's customer": (r.debit_customer, r.from_customer_id),
        "credit leg's customer": (r.credit_customer, r.to_customer_id),
        "debit leg's type": (r.debit_type, "transfer_out"),
        "credit leg's type": (r.credit_type, "transfer_in"),
        "debit leg's change to credit": (r.debit_amount, -a),
        "credit leg's change to credit": (r.credit_amount, a),
        "in-flight in by the debit leg": (int(r.debit_in_flight), a),
        "in-flight out by the credit leg": (int(r.credit_in_flight), -a),
    }
    return [f"{what} is {have}, expected {expected}" for what, (have, expected) in want.items() if have != expected]


async def transfer_violations(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(check, detail) pairs; empty when every transfer clears."""
    acc = {"acc": Account.IN_FLIGHT.value}
    out = [("transfer", f"transfer {r.transfer_id}: {p}")
           for r in (await conn.execute(_LEGS, acc)).all() for p in _leg_problems(r)]
    out += [("in_flight", f"transaction {tx} moves {amt} through in-flight outside any transfer")
            for tx, amt in (await conn.execute(_STRAY, acc)).all()]
    out += [("in_flight", f"merchant {m} in-flight {cur} nets to {int(s)}, not 0")
            for m, cur, s in (await conn.execute(_NET, acc)).all()]
    return out
