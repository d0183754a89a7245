"""The rewards catalogue: products or activities a customer buys with points.

A redemption is ONE ledger transaction on one customer, in points only:

    customer:available(PTS) -p, rewards:redeemed(PTS) +p

Points are taken earliest expiry first (the spend order of credit), so the
points that would expire soonest are the ones spent. The reward's stock is
decided here on the row read under its lock (adapters/rewards.py) and taken
down by one in the same database transaction; a CHECK keeps it at zero or
above whatever the code does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cashback_kit.errors import FailedPrecondition, InsufficientCredit
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.ledger import Account, EventType, TxType, take_from_lots
from cashback_services.wallet.domain.model import new_id
from cashback_services.wallet.domain.points import POINTS

MAX_NAME = 200


@dataclass(frozen=True)
class Reward:
    merchant_id: str
    reward_id: str
    names: dict[str, str]  # locale -> name
    points_cost: int
    stock: int | None  # None: unlimited
    active: bool
    redeemed_count: int = 0
    updated_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    merchant_id: str
    customer_id: str
    reward_id: str
    points: int
    transaction_id: str
    created_at: datetime


def redeem(customer: Customer, reward: Reward) -> Redemption:
    """Spend the reward's cost of the customer's available points. Refuses,
    changing nothing, an inactive reward, one out of stock, or a customer
    with fewer points than it costs (each with its reason)."""
    meta = {"reward_id": reward.reward_id}
    if not reward.active:
        raise FailedPrecondition(f"reward {reward.reward_id!r} is not active", reason="REWARD_INACTIVE", metadata=meta)
    if reward.stock is not None and reward.stock <= 0:
        raise FailedPrecondition(f"reward {reward.reward_id!r} is out of stock", reason="OUT_OF_STOCK", metadata=meta)
    cost = reward.points_cost
    try:
        taken = take_from_lots(customer.spendable(POINTS), cost)
    except InsufficientCredit:
        have = sum(lot.remaining for lot in customer.spendable(POINTS))
        raise FailedPrecondition(
            f"the reward costs {cost} points, {have} available",
            reason="INSUFFICIENT_POINTS",
            metadata={**meta, "points_cost": str(cost), "available": str(have)},
        ) from None
    for lot_id, part in taken:
        lot = customer.lots[lot_id]
        lot.debit(part)
        customer.lot_changed(lot)
    redemption_id = new_id("rr")
    tx = customer.post(
        TxType.REWARD,
        POINTS,
        {Account.AVAILABLE: -cost, Account.REWARDS_REDEEMED: cost},
        reason=f"reward {reward.reward_id} redemption {redemption_id}",
    )
    customer.emit(EventType.REWARD_REDEEMED, POINTS, cost, transaction_id=tx)
    return Redemption(
        redemption_id, customer.merchant_id, customer.customer_id, reward.reward_id, cost, tx, customer.now
    )
