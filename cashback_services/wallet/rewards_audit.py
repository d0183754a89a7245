"""The auditor's check of the rewards catalogue (run by auditor.audit):

14. every reward redemption's transaction is a REWARD on that customer whose
    entries are exactly customer:available(PTS) -p and rewards:redeemed(PTS)
    +p, in the record's points; no REWARD transaction lacks its record; and
    each reward's redeemed_count (taken with its stock in one statement)
    equals the number of its redemption records, so stock never moved
    without a redemption or the other way round.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.wallet.domain.ledger import Account, TxType
from cashback_services.wallet.domain.points import POINTS

_REDEMPTIONS = text("""
SELECT r.redemption_id, r.transaction_id, r.customer_id, r.points, t.customer_id AS tx_customer, t.type,
       (SELECT coalesce(jsonb_object_agg(e.account || '/' || e.currency, e.amount), '{}')
          FROM wallet_entries e WHERE e.transaction_id = r.transaction_id) AS entries
  FROM wallet_reward_redemptions r LEFT JOIN wallet_transactions t ON t.transaction_id = r.transaction_id
""")
_UNRECORDED = text("""
SELECT t.transaction_id FROM wallet_transactions t
 WHERE t.type = :type
   AND NOT EXISTS (SELECT 1 FROM wallet_reward_redemptions r WHERE r.transaction_id = t.transaction_id)
""")
_COUNTS = text("""
SELECT w.merchant_id, w.reward_id, w.redeemed_count,
       (SELECT count(*) FROM wallet_reward_redemptions r
         WHERE r.merchant_id = w.merchant_id AND r.reward_id = w.reward_id) AS records
  FROM wallet_rewards w
""")


async def reward_violations(conn: AsyncConnection) -> list[tuple[str, str]]:
    out = []
    for r in (await conn.execute(_REDEMPTIONS)).all():
        want = {f"{Account.AVAILABLE}/{POINTS}": -r.points, f"{Account.REWARDS_REDEEMED}/{POINTS}": r.points}
        have = {k: int(v) for k, v in r.entries.items()}
        if (r.tx_customer, r.type) != (r.customer_id, TxType.REWARD.value) or have != want:
            out.append(
                (
                    "reward",
                    f"redemption {r.redemption_id}: entries {r.entries} on {r.tx_customer}/{r.type}, "
                    f"expected {want} on {r.customer_id}",
                )
            )
    out += [
        ("reward", f"reward transaction {tx} has no redemption record")
        for (tx,) in (await conn.execute(_UNRECORDED, {"type": TxType.REWARD.value})).all()
    ]
    out += [
        ("reward", f"reward {m}/{rid}: redeemed_count {n} but {records} redemption records")
        for m, rid, n, records in (await conn.execute(_COUNTS)).all()
        if n != records
    ]
    return out
