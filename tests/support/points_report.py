"""A merchant that runs points beside credit, written over gRPC like any client: the
program report's CLI and console tests read the same figures from it."""

from __future__ import annotations

import grpc
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack


def points_beside_credit(stack: Stack, merchant: str, checkout_key: str) -> None:
    """A 2% credit campaign and a 50% points campaign in SAR, and one order of 240.00 SAR
    placed now: 4.80 SAR of credit and 12,000 points (counted as money: 124.80 SAR)."""
    with (
        grpc.insecure_channel(stack.procs["rules"].target) as rch,
        grpc.insecure_channel(stack.procs["wallet"].target) as wch,
    ):
        rules, wallet = rules_pb2_grpc.RulesServiceStub(rch), wallet_pb2_grpc.WalletServiceStub(wch)
        for name, bps, unit in (
            ("Credit 2%", 200, rules_pb2.REWARD_UNIT_CREDIT),
            ("Points 50%", 5_000, rules_pb2.REWARD_UNIT_POINTS),
        ):
            campaign = rules_pb2.Campaign(
                merchant_id=merchant, name=name, percent_bps=bps, reward_unit=unit, currency_code="SAR",
                timezone="UTC", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE,
            )  # fmt: skip
            rules.CreateCampaign(
                rules_pb2.CreateCampaignRequest(campaign=campaign), metadata=bearer(TEST_KEYS["ops"]), timeout=10
            )
        price = common_pb2.Money(currency_code="SAR", amount_minor=24_000)
        order = rules_pb2.Order(
            merchant_id=merchant, order_id="o1", customer_id="dana", currency_code="SAR",
            channel=rules_pb2.CHANNEL_WEB, lines=[rules_pb2.OrderLine(sku="s", quantity=1, unit_price=price)],
        )  # fmt: skip
        order.placed_at.GetCurrentTime()
        wallet.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=bearer(checkout_key), timeout=10)
