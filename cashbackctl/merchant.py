"""The merchant's currency and a customer's, found from their own data.

The contract has no merchant settings record, so the CLI never guesses a default
(a SAR default showed IRR customers a 0.00 SAR balance). In order: --currency /
CASHBACK_CURRENCY; the one currency the merchant's campaigns use; the one
currency the wallet holds for the merchant. Otherwise the command asks for it."""

from __future__ import annotations

import grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashbackctl.common import call, call_failed, ctx, fail


def merchant_currency(required: bool = True) -> str:
    c = ctx()
    if c.currency:
        return c.currency
    with c.stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        listed = call(stub.ListCampaigns, rules_pb2.ListCampaignsRequest(
            merchant_id=c.merchant, page_size=500)).campaigns
    codes = {x.currency_code for x in listed if x.currency_code}
    if len(codes) == 1:
        c.currency = codes.pop()
        return c.currency
    with c.stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        try:
            # With no currency_code the wallet answers in the merchant's only currency, or refuses.
            stats = stub.GetProgramStats(wallet_pb2.GetProgramStatsRequest(merchant_id=c.merchant),
                                         metadata=c.metadata(), timeout=30).stats
            c.currency = stats.earned.currency_code
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                call_failed(exc)
    if not c.currency and required:
        fail(f"cannot tell merchant {c.merchant}'s currency from its campaigns or wallet; "
             "pass --currency (or set CASHBACK_CURRENCY)")
    return c.currency


def customer_currency(customer_id: str) -> str:
    """The currency of the customer's latest credit transaction, else the merchant's. Points
    ("PTS", not a currency) are skipped: a customer's latest move may be a reward."""
    c = ctx()
    if c.currency:
        return c.currency
    with c.stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        txs = call(stub.ListTransactions, wallet_pb2.ListTransactionsRequest(
            merchant_id=c.merchant, customer_id=customer_id, page_size=20))
    credit = [t.amount.currency_code for t in txs.transactions if t.amount.currency_code != "PTS"]
    return credit[0] if credit else merchant_currency()
