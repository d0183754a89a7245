"""The rewards catalogue's and the transfer policy's messages: shape checks in, results out."""

from __future__ import annotations

import re
from datetime import datetime

from cashback.wallet.v1 import wallet_pb2 as pb

from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument
from cashback_kit.pb import fingerprint, require_id, ts_to_pb
from cashback_services.wallet.domain.rewards import Redemption, Reward
from cashback_services.wallet.service_layer.rewards import RedeemReward

# A BCP 47 language tag as the catalogue uses them: "fa", "ar", "en", "fa-IR", "zh-Hant-TW".
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")


def reward_from_pb(msg: pb.Reward) -> Reward:
    for name in ("merchant_id", "reward_id"):
        require_id(getattr(msg, name), f"reward.{name}")
    for locale in msg.names:
        if not _LOCALE.fullmatch(locale):
            raise InvalidArgument(
                "a name's key must be a locale such as fa, ar, en or fa-IR", field=f"reward.names[{locale[:16]}]"
            )
    if msg.points_cost > MAX_MINOR:
        raise InvalidArgument(f"points_cost must be at most {MAX_MINOR}", field="reward.points_cost")
    stock = msg.stock if msg.HasField("stock") else None
    return Reward(msg.merchant_id, msg.reward_id, dict(msg.names), msg.points_cost, stock, msg.active)


def reward_to_pb(r: Reward) -> pb.Reward:
    out = pb.Reward(
        merchant_id=r.merchant_id,
        reward_id=r.reward_id,
        names=r.names,
        points_cost=r.points_cost,
        active=r.active,
        redeemed_count=r.redeemed_count,
        updated_at=ts_to_pb(r.updated_at),
    )
    if r.stock is not None:
        out.stock = r.stock
    return out


def redeem_command(request: pb.RedeemRewardRequest) -> RedeemReward:
    for name in ("merchant_id", "customer_id", "reward_id", "idempotency_key"):
        require_id(getattr(request, name), name)
    return RedeemReward(
        request.merchant_id, request.customer_id, request.reward_id, request.idempotency_key, fingerprint(request)
    )


def redemption_to_pb(r: Redemption) -> pb.RewardRedemption:
    return pb.RewardRedemption(
        redemption_id=r.redemption_id,
        merchant_id=r.merchant_id,
        customer_id=r.customer_id,
        reward_id=r.reward_id,
        points=r.points,
        transaction_id=r.transaction_id,
        created_at=ts_to_pb(r.created_at),
    )


def policy_to_pb(merchant_id: str, require_known_receiver: bool, updated_at: datetime) -> pb.TransferPolicy:
    return pb.TransferPolicy(
        merchant_id=merchant_id, require_known_receiver=require_known_receiver, updated_at=ts_to_pb(updated_at)
    )
