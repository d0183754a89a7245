"""The rules port over gRPC: the service key on every call, a deadline, and
the kit channel's transparent retry of UNAVAILABLE (safe: ScoreOrder,
ScoreEvent and ReverseOrder are idempotent by their natural keys). Errors
from rules reach the interceptor as AioRpcError and map there (UNAVAILABLE /
DEADLINE_EXCEEDED -> UNAVAILABLE; INVALID_ARGUMENT, ALREADY_EXISTS, ... pass
through). Scoring raises the kit's `Unavailable` instead when rules cannot be
reached, so the award handler can still answer a retry it already credited."""

from __future__ import annotations

import grpc
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashback_kit.client import bearer, open_channel
from cashback_kit.config import Settings
from cashback_kit.errors import Unavailable
from cashback_kit.money import Money
from cashback_kit.pb import ts_from_pb, utcnow
from cashback_services.wallet.domain.customer import AwardLine
from cashback_services.wallet.domain.orders import Reversed, Scored

DEADLINE_SECONDS = 5.0
_DOWN = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a score with no awards and no total


def scored_from_pb(score: rules_pb2.Score, currency: str) -> Scored:
    awards = []
    for award in score.awards:
        available_at = ts_from_pb(award.available_at, "available_at") if award.HasField("available_at") else utcnow()
        expires_at = ts_from_pb(award.expires_at, "expires_at") if award.HasField("expires_at") else None
        awards.append(AwardLine(award.campaign_id, award.amount.currency_code, award.amount.amount_minor,
                                available_at, expires_at))
    return Scored(currency, awards, score.SerializeToString(deterministic=True))


def _down(exc: grpc.aio.AioRpcError) -> Exception:
    """Rules unreachable -> the kit's Unavailable; any other answer passes through as it came."""
    if exc.code() in _DOWN:
        return Unavailable("the rules service is unavailable; retry later", reason="RULES_UNAVAILABLE")
    return exc


class GrpcRules:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._stubbed: rules_pb2_grpc.RulesServiceAsyncStub | None = None
        self._md = bearer(settings.service_key)

    def _stub(self) -> rules_pb2_grpc.RulesServiceAsyncStub:
        # Opened lazily, inside the running loop, and never at import time; one stub for the channel
        # (a stub builds a callable per RPC of the service: not something to do per call).
        if self._stubbed is None:
            self._channel = open_channel(self._settings.rules_target, self._settings)
            self._stubbed = rules_pb2_grpc.RulesServiceStub(self._channel)
        return self._stubbed

    async def score_order(self, payload: object) -> Scored:
        assert isinstance(payload, rules_pb2.Order)
        try:
            resp = await self._stub().ScoreOrder(
                rules_pb2.ScoreOrderRequest(order=payload), metadata=self._md, timeout=DEADLINE_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise _down(exc) from exc
        return scored_from_pb(resp.score, payload.currency_code)

    async def score_event(self, payload: object) -> Scored:
        assert isinstance(payload, rules_pb2.ScoreEventRequest)
        try:
            resp = await self._stub().ScoreEvent(payload, metadata=self._md, timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise _down(exc) from exc
        score = resp.score
        currency = score.total.currency_code or next(
            (a.amount.currency_code for a in score.awards if a.amount.currency_code), NO_CURRENCY
        )
        return scored_from_pb(score, currency)

    async def reverse_order(self, merchant_id: str, order_id: str, refund_id: str, amount: Money) -> Reversed:
        req = rules_pb2.ReverseOrderRequest(
            merchant_id=merchant_id, order_id=order_id, refund_id=refund_id,
            refunded_amount=common_pb2.Money(currency_code=amount.currency, amount_minor=amount.minor),
        )
        resp = await self._stub().ReverseOrder(req, metadata=self._md, timeout=DEADLINE_SECONDS)
        total = resp.reversal.total
        return Reversed(total.currency_code or amount.currency, total.amount_minor, resp.reversal.points_total)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stubbed = None, None
