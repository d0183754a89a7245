"""The real rules service and the real wallet, in-process over real gRPC,
with the wallet's RULES_TARGET pointing at rules. They share one database
here (their tables and Alembic version tables are distinct)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.servers import ServiceHandle, auth, running_service


def ts(dt: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(dt)
    return out


def sar(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="SAR", amount_minor=minor)


@dataclass
class Stack:
    rules: ServiceHandle
    wallet: ServiceHandle

    @property
    def w(self) -> wallet_pb2_grpc.WalletServiceStub:
        return wallet_pb2_grpc.WalletServiceStub(self.wallet.channel)

    @property
    def r(self) -> rules_pb2_grpc.RulesServiceStub:
        return rules_pb2_grpc.RulesServiceStub(self.rules.channel)

    async def campaign(self, *, bps: int = 1000, pending_days: int = 0, expires_after_days: int = 0,
                       event_type: str = "", fixed: int = 0, points: bool = False) -> rules_pb2.Campaign:
        c = rules_pb2.Campaign(
            merchant_id="m1", name="test campaign", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE,
            currency_code="SAR", starts_at=ts(datetime(2020, 1, 1, tzinfo=UTC)),
            ends_at=ts(datetime(2100, 1, 1, tzinfo=UTC)), timezone="UTC", pending_days=pending_days,
            expires_after_days=expires_after_days,
        )
        if event_type:
            c.trigger = rules_pb2.TRIGGER_EVENT
            c.event_type = event_type
        if points:  # a points campaign: `fixed` is a number of points
            c.reward_unit = rules_pb2.REWARD_UNIT_POINTS
        if fixed and points:
            c.fixed_points = fixed
        elif fixed:
            c.fixed.CopyFrom(sar(fixed))
        else:
            c.percent_bps = bps
        resp = await self.r.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=auth("ops"))
        return resp.campaign


def order(order_id: str, merchandise: int, *, customer: str = "c1", wallet_paid: int = 0,
          placed_at: datetime | None = None) -> rules_pb2.Order:
    o = rules_pb2.Order(
        merchant_id="m1", order_id=order_id, customer_id=customer, currency_code="SAR",
        channel=rules_pb2.CHANNEL_WEB, payment_method="card",
        lines=[rules_pb2.OrderLine(sku="sku-1", unit_price=sar(merchandise), quantity=1)],
    )
    o.placed_at.CopyFrom(ts(placed_at or datetime.now(UTC)))
    if wallet_paid:
        o.wallet_paid.CopyFrom(sar(wallet_paid))
    return o


@asynccontextmanager
async def running_stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_service("rules", database_url=database_url) as rules:
        async with running_service("wallet", database_url=database_url,
                                   env={"RULES_TARGET": rules.target}) as wallet:
            yield Stack(rules, wallet)
