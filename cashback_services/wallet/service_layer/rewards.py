"""The rewards catalogue: UpsertReward, ListRewards, RedeemReward
(domain/rewards.py decides, adapters/rewards.py stores). A redemption is
idempotent by (merchant_id, "redeem", key) like the other keyed writes: a
replay returns the stored redemption, or its refusal (INSUFFICIENT_POINTS,
OUT_OF_STOCK and REWARD_INACTIVE are stored as the key's outcome, as a hold
refused for want of credit is)."""

from __future__ import annotations

from dataclasses import dataclass

from cashback_kit.errors import DomainError, InvalidArgument, NotFound
from cashback_services.wallet.adapters import rewards as repo
from cashback_services.wallet.adapters.repository import Want
from cashback_services.wallet.domain.points import POINTS
from cashback_services.wallet.domain.rewards import MAX_NAME, Redemption, Reward, redeem
from cashback_services.wallet.service_layer.keyed_writes import keyed, run_keyed
from cashback_services.wallet.service_layer.write_path import WritePath

SCOPE = "redeem"
MAX_LOCALES = 20


@dataclass(frozen=True)
class RedeemReward:
    merchant_id: str
    customer_id: str
    reward_id: str
    idempotency_key: str
    fingerprint: str


def check_reward(reward: Reward) -> None:
    """What the catalogue refuses to store, each naming its field."""
    if reward.points_cost <= 0:
        raise InvalidArgument("points_cost must be positive", field="reward.points_cost")
    if reward.stock is not None and reward.stock < 0:
        raise InvalidArgument("stock must not be negative", field="reward.stock")
    if not reward.names:
        raise InvalidArgument("at least one name is required", field="reward.names")
    if len(reward.names) > MAX_LOCALES:
        raise InvalidArgument(f"at most {MAX_LOCALES} names", field="reward.names")
    for locale, name in reward.names.items():
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidArgument(f"the name must have 1 to {MAX_NAME} characters", field=f"reward.names[{locale}]")


async def upsert_reward(svc: WritePath, reward: Reward) -> Reward:
    check_reward(reward)
    return await repo.upsert(svc.db, reward, svc.clock())


async def list_rewards(
    svc: WritePath, merchant_id: str, active_only: bool, size: int, token: str
) -> tuple[list[Reward], str]:
    return await repo.page(svc.db, merchant_id, active_only, size, token)


async def redeem_reward(svc: WritePath, cmd: RedeemReward) -> Redemption:
    return await run_keyed(lambda: _once(svc, cmd))


async def _once(svc: WritePath, cmd: RedeemReward) -> Redemption | DomainError:
    key = (cmd.merchant_id, SCOPE, cmd.idempotency_key)
    me = (cmd.merchant_id, cmd.customer_id)
    async with repo.locked(svc.db, svc.clock(), Want(customers=(me,), spend=(POINTS,), idem=(key,)), key) as (
        state,
        tx,
        found,
    ):
        customer = state.customers[me]
        customer.release_due_holds()
        # The reward's row lock is taken after the customer's, on every path: no deadlock.
        reward = None if key in state.outcomes else await repo.for_update(tx, cmd.merchant_id, cmd.reward_id)

        def fresh() -> Redemption:
            if reward is None:
                raise NotFound(f"reward {cmd.reward_id!r} not found")
            return redeem(customer, reward)

        result = keyed(
            state,
            key,
            customer,
            cmd.fingerprint,
            cmd.idempotency_key,
            fresh,
            lambda r: r.redemption_id,
            lambda redemption_id: found.stored[redemption_id],
        )
        if isinstance(result, Redemption) and result.redemption_id not in found.stored:
            found.new = result
    svc.committed(state)
    return result
