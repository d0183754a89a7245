"""The auditor's check of conversions between credit and points (run by
auditor.audit):

  9. every conversion record's transaction is a CONVERSION on that customer
     whose entries are exactly: the unit converted from leaves available
     into merchant:conversion, the unit converted to comes out of
     merchant:conversion into available, in the record's amounts (which the
     database holds exactly at the record's rate); and no CONVERSION
     transaction lacks its record.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.wallet.domain.ledger import Account
from cashback_services.wallet.domain.points import POINTS

_CONVERSIONS = text("""
SELECT v.transaction_id, v.customer_id, v.to_points, v.currency, v.credit, v.points,
       t.customer_id AS tx_customer, t.type,
       (SELECT coalesce(jsonb_object_agg(e.account || '/' || e.currency, e.amount), '{}')
          FROM wallet_entries e WHERE e.transaction_id = v.transaction_id) AS entries
  FROM wallet_conversions v LEFT JOIN wallet_transactions t ON t.transaction_id = v.transaction_id
""")
_UNRECORDED = text("""
SELECT t.transaction_id FROM wallet_transactions t
 WHERE t.type = 'conversion'
   AND NOT EXISTS (SELECT 1 FROM wallet_conversions v WHERE v.transaction_id = t.transaction_id)
""")


async def conversion_violations(conn: AsyncConnection) -> list[tuple[str, str]]:
    out = []
    for r in (await conn.execute(_CONVERSIONS)).all():
        (src, a), (dst, p) = ((r.currency, r.credit), (POINTS, r.points))
        if not r.to_points:
            (src, a), (dst, p) = (dst, p), (src, a)
        want = {f"{Account.AVAILABLE}/{src}": -a, f"{Account.CONVERSION}/{src}": a,
                f"{Account.CONVERSION}/{dst}": -p, f"{Account.AVAILABLE}/{dst}": p}
        have = {k: int(v) for k, v in r.entries.items()}
        if (r.tx_customer, r.type) != (r.customer_id, "conversion") or have != want:
            out.append(("conversion", f"conversion {r.transaction_id}: entries {r.entries} on "
                                      f"{r.tx_customer}/{r.type}, expected {want} on {r.customer_id}"))
    out += [("conversion", f"conversion transaction {tx} has no conversion record")
            for (tx,) in (await conn.execute(_UNRECORDED)).all()]
    return out
