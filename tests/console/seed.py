"""Data the browser tests start from, written over gRPC like any client: orders placed
last month (for the simulation) and a credited customer per merchant."""

from __future__ import annotations

from datetime import timedelta

import grpc
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer
from cashbackctl.campaigns import last_month
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack

# merchant -> (currency, price of each of last month's three orders in minor units, customer, credit)
MERCHANTS = {"m1": ("SAR", 10_000, "c-en", 2_500), "m2": ("IRR", 1_000_000, "c-fa", 730_000)}


def seed(stack: Stack) -> None:
    start, _ = last_month("UTC")
    with grpc.insecure_channel(stack.procs["rules"].target) as rch, \
            grpc.insecure_channel(stack.procs["wallet"].target) as wch, \
            grpc.insecure_channel(stack.procs["notify"].target) as nch:
        rules, wallet = rules_pb2_grpc.RulesServiceStub(rch), wallet_pb2_grpc.WalletServiceStub(wch)
        notify = notify_pb2_grpc.NotifyServiceStub(nch)
        for merchant, (currency, price, customer, credit) in MERCHANTS.items():
            for i in range(3):
                order = rules_pb2.Order(
                    merchant_id=merchant, order_id=f"last-month-{i}", customer_id=f"{customer}-{i % 2}",
                    currency_code=currency, channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                    lines=[rules_pb2.OrderLine(sku="s", quantity=1, unit_price=common_pb2.Money(
                        currency_code=currency, amount_minor=price))])
                order.placed_at.FromDatetime(start + timedelta(days=3, hours=i))
                rules.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order), metadata=bearer(TEST_KEYS["service"]),
                                 timeout=10)
            wallet.AdjustBalance(wallet_pb2.AdjustBalanceRequest(
                merchant_id=merchant, customer_id=customer, reason="welcome", idempotency_key=f"seed-{customer}",
                amount=common_pb2.Money(currency_code=currency, amount_minor=credit)),
                metadata=bearer(TEST_KEYS["ops"]), timeout=10)
        notify.UpsertContact(notify_pb2.UpsertContactRequest(contact=notify_pb2.Contact(
            merchant_id="m2", customer_id="c-fa", locale="fa-IR", timezone="Asia/Tehran", sms_opt_in=True)),
            metadata=bearer(TEST_KEYS["ops"]), timeout=10)
