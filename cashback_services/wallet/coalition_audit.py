"""The auditor's checks of coalitions' settlement (run by auditor.audit):

  10. every settlement row is carried by its two transactions: the issuer's,
      on the issuer's customer, puts exactly +amount on `settlement:payable`;
      the redeemer's, on the redeemer's customer, exactly -amount on
      `settlement:receivable`; and the row's redemption has a part at that issuer;
  11. no settlement entry exists outside a settlement row's transactions;
  12. per (issuer, redeemer, currency), the settlement rows sum to the partner
      credit the redeemer's redemptions captured from the issuer's lots less
      what refunds gave back to them -- recomputed from the parts' holds and
      their allocations, which is where the lots record it;
  13. every partner redemption's parts add up to its amount, and each part's
      hold is on the issuer's customer for that amount.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.wallet.domain.ledger import Account

_ROWS = text("""
SELECT s.settlement_id, s.amount, s.issuer_merchant_id, s.redeemer_merchant_id, s.customer_id,
       p.merchant_id AS payable_merchant, p.customer_id AS payable_customer,
       r.merchant_id AS receivable_merchant, r.customer_id AS receivable_customer,
       (SELECT coalesce(sum(e.amount), 0) FROM wallet_entries e
         WHERE e.transaction_id = s.payable_transaction_id AND e.account = :payable) AS payable,
       (SELECT coalesce(sum(e.amount), 0) FROM wallet_entries e
         WHERE e.transaction_id = s.receivable_transaction_id AND e.account = :receivable) AS receivable,
       EXISTS (SELECT 1 FROM wallet_partner_parts pp WHERE pp.redemption_id = s.redemption_id
                  AND pp.issuer_merchant_id = s.issuer_merchant_id) AS has_part
  FROM wallet_settlements s
  LEFT JOIN wallet_transactions p ON p.transaction_id = s.payable_transaction_id
  LEFT JOIN wallet_transactions r ON r.transaction_id = s.receivable_transaction_id
""")

_STRAY = text("""
SELECT e.transaction_id, e.account, e.amount FROM wallet_entries e
 WHERE e.account IN (:payable, :receivable) AND NOT EXISTS (
   SELECT 1 FROM wallet_settlements s
    WHERE s.payable_transaction_id = e.transaction_id OR s.receivable_transaction_id = e.transaction_id)
""")

# Both sides per pair: the settlement rows, and the lots' side (captured less returned).
_PAIRS = text("""
WITH rows AS (
  SELECT issuer_merchant_id AS issuer, redeemer_merchant_id AS redeemer, currency, sum(amount) AS owed
    FROM wallet_settlements GROUP BY 1, 2, 3
), lots AS (
  SELECT pp.issuer_merchant_id AS issuer, pr.merchant_id AS redeemer, pr.currency,
         sum(h.captured - coalesce(ret.returned, 0)) AS owed
    FROM wallet_partner_parts pp
    JOIN wallet_partner_redemptions pr USING (redemption_id)
    JOIN wallet_holds h ON h.hold_id = pp.hold_id
    LEFT JOIN (SELECT hold_id, sum(returned) AS returned FROM wallet_hold_allocations GROUP BY hold_id) ret
      ON ret.hold_id = h.hold_id
   WHERE pp.issuer_merchant_id <> pr.merchant_id AND h.status = 'captured'
   GROUP BY 1, 2, 3
)
SELECT coalesce(r.issuer, l.issuer), coalesce(r.redeemer, l.redeemer), coalesce(r.currency, l.currency),
       coalesce(r.owed, 0), coalesce(l.owed, 0)
  FROM rows r FULL JOIN lots l ON r.issuer = l.issuer AND r.redeemer = l.redeemer AND r.currency = l.currency
 WHERE coalesce(r.owed, 0) <> coalesce(l.owed, 0)
""")

_PARTS = text("""
SELECT pr.redemption_id, pr.amount, coalesce(sum(pp.amount), 0) AS parts,
       count(*) FILTER (WHERE h.hold_id IS NULL OR h.merchant_id <> pp.issuer_merchant_id
                          OR h.customer_id <> pr.customer_id OR h.amount <> pp.amount) AS bad_parts
  FROM wallet_partner_redemptions pr
  LEFT JOIN wallet_partner_parts pp USING (redemption_id)
  LEFT JOIN wallet_holds h ON h.hold_id = pp.hold_id
 GROUP BY pr.redemption_id, pr.amount
HAVING coalesce(sum(pp.amount), 0) <> pr.amount
    OR count(*) FILTER (WHERE h.hold_id IS NULL OR h.merchant_id <> pp.issuer_merchant_id
                          OR h.customer_id <> pr.customer_id OR h.amount <> pp.amount) > 0
""")


def _row_problems(r: Any) -> list[str]:
    a = int(r.amount)
    want = {
        "issuer's transaction customer": ((r.payable_merchant, r.payable_customer), (r.issuer_merchant_id,
                                                                                    r.customer_id)),
        "redeemer's transaction customer": ((r.receivable_merchant, r.receivable_customer),
                                            (r.redeemer_merchant_id, r.customer_id)),
        "settlement:payable": (int(r.payable), a),
        "settlement:receivable": (int(r.receivable), -a),
        "a part of its redemption at the issuer": (bool(r.has_part), True),
    }
    return [f"{what} is {have}, expected {expected}" for what, (have, expected) in want.items() if have != expected]


async def settlement_violations(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(check, detail) pairs; empty when every settlement is carried by the lots."""
    acc = {"payable": Account.PAYABLE.value, "receivable": Account.RECEIVABLE.value}
    out = [("settlement", f"settlement {r.settlement_id}: {p}")
           for r in (await conn.execute(_ROWS, acc)).all() for p in _row_problems(r)]
    out += [("settlement", f"transaction {tx} puts {amt} on {account} outside any settlement")
            for tx, account, amt in (await conn.execute(_STRAY, acc)).all()]
    out += [("settlement", f"{issuer} owes {redeemer} {int(rows)} {cur} by its settlement rows, but "
             f"{int(lots)} by the partner credit captured less refunded")
            for issuer, redeemer, cur, rows, lots in (await conn.execute(_PAIRS)).all()]
    out += [("partner_redemption", f"redemption {rid} of {int(amount)}: parts sum to {int(parts)}, "
             f"{int(bad)} part(s) not held on the issuer's customer for their amount")
            for rid, amount, parts, bad in (await conn.execute(_PARTS)).all()]
    return out
