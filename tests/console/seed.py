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


def showcase(stack: Stack) -> None:
    """Campaigns and paid orders of today, so list, customer and report pages have something to show."""
    campaigns = {"m1": [("Welcome 10%", 1000, "30 SAR"), ("mada 7%", 700, "30 SAR")],
                 "m2": [("خوش‌آمد ۱۰٪", 1000, "50,000 toman"), ("یلدا ۵٪", 500, "")]}
    keys = {"m1": TEST_KEYS["checkout"], "m2": TEST_KEYS["checkout_m2"]}
    from cashbackctl.units import parse_amount

    with grpc.insecure_channel(stack.procs["rules"].target) as rch, \
            grpc.insecure_channel(stack.procs["wallet"].target) as wch:
        rules, wallet = rules_pb2_grpc.RulesServiceStub(rch), wallet_pb2_grpc.WalletServiceStub(wch)
        for merchant, (currency, price, customer, _) in MERCHANTS.items():
            for name, bps, cap in campaigns[merchant]:
                c = rules_pb2.Campaign(merchant_id=merchant, name=name, percent_bps=bps, currency_code=currency,
                                       status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, expires_after_days=90,
                                       timezone="Asia/Tehran" if currency == "IRR" else "Asia/Riyadh")
                if cap:
                    m = parse_amount(cap, "cap")
                    c.max_per_order.CopyFrom(common_pb2.Money(currency_code=m.currency, amount_minor=m.minor))
                rules.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=bearer(TEST_KEYS["ops"]),
                                     timeout=10)
            for i in range(4):
                order = rules_pb2.Order(
                    merchant_id=merchant, order_id=f"today-{i}", customer_id=customer if i % 2 else f"{customer}-{i}",
                    currency_code=currency, channel=rules_pb2.CHANNEL_WEB, payment_method="mada" if i else "card",
                    lines=[rules_pb2.OrderLine(sku="s", quantity=1, unit_price=common_pb2.Money(
                        currency_code=currency, amount_minor=price * (i + 2)))])
                order.placed_at.GetCurrentTime()
                wallet.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=bearer(keys[merchant]),
                                  timeout=10)
