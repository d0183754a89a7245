"""What a checkout service does, in 60 lines: quote, award, redeem.

Run it against `make run`:  .venv/bin/python examples/checkout_demo.py
It reads the checkout key from var/api-keys.json (or CASHBACK_CHECKOUT_KEY).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime

import grpc
from cashback.common.v1.common_pb2 import Money
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc


def checkout_key() -> str:
    if os.environ.get("CASHBACK_CHECKOUT_KEY"):
        return os.environ["CASHBACK_CHECKOUT_KEY"]
    keys = json.load(open(os.environ.get("CASHBACK_API_KEYS_FILE", "var/api-keys.json")))["keys"]
    return next(k["key"] for k in keys if k["role"] == "checkout")


def main() -> int:
    merchant, customer = os.environ.get("CASHBACK_MERCHANT", "m1"), sys.argv[1] if len(sys.argv) > 1 else "c-100"
    md = (("authorization", f"Bearer {checkout_key()}"),)
    rules = rules_pb2_grpc.RulesServiceStub(grpc.insecure_channel(os.environ.get("RULES_ADDR", "127.0.0.1:50051")))
    wallet = wallet_pb2_grpc.WalletServiceStub(grpc.insecure_channel(os.environ.get("WALLET_ADDR", "127.0.0.1:50052")))
    sar = lambda minor: Money(currency_code="SAR", amount_minor=minor)  # noqa: E731

    # An order of 2 × 250.00 SAR paid by mada on the web, placed now. The seed's campaigns credit it at
    # once (no return window), so the next order can spend it.
    order = rules_pb2.Order(merchant_id=merchant, order_id=f"demo-{uuid.uuid4().hex[:8]}", customer_id=customer,
                            currency_code="SAR", channel=rules_pb2.CHANNEL_WEB, payment_method="mada",
                            lines=[rules_pb2.OrderLine(sku="kettle-1", category_ids=["kitchen"],
                                                       unit_price=sar(25000), quantity=2)])
    order.placed_at.FromDatetime(datetime.now(UTC))

    quote = rules.QuoteOrder(rules_pb2.QuoteOrderRequest(order=order), metadata=md, timeout=5).score
    print(f"1. quote: this order earns {quote.total.amount_minor / 100:.2f} SAR")
    for a in quote.awards:
        print(f"     {a.explanation}")

    award = wallet.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=md, timeout=10)
    print(f"2. paid → AwardOrder credited {award.credited.amount_minor / 100:.2f} SAR (retry-safe by order_id)")

    for _ in range(50):  # usable at once: the balance shows it as available
        bal = wallet.GetBalance(wallet_pb2.GetBalanceRequest(merchant_id=merchant, customer_id=customer,
                                                             currency_code="SAR"), metadata=md, timeout=5).balance
        if bal.available.amount_minor >= award.credited.amount_minor:
            break
        time.sleep(0.2)
    print(f"3. balance: available {bal.available.amount_minor / 100:.2f}, pending {bal.pending.amount_minor / 100:.2f}")

    spend = min(bal.available.amount_minor, 2000)
    hold = wallet.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
        merchant_id=merchant, customer_id=customer, order_id=f"{order.order_id}-next", amount=sar(spend),
        idempotency_key=f"auth-{order.order_id}"), metadata=md, timeout=5).hold
    captured = wallet.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(
        merchant_id=merchant, hold_id=hold.hold_id), metadata=md, timeout=5).hold
    print(f"4. next order pays {captured.captured.amount_minor / 100:.2f} SAR with credit (hold {hold.hold_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
