"""Helpers for wallet tests over real gRPC."""

from __future__ import annotations

import uuid

import grpc
from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2 as pb
from cashback.wallet.v1 import wallet_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

from tests.support.servers import auth


def money(minor: int, currency: str = "SAR") -> common_pb2.Money:
    return common_pb2.Money(currency_code=currency, amount_minor=minor)


def stub(channel: grpc.aio.Channel) -> wallet_pb2_grpc.WalletServiceStub:
    return wallet_pb2_grpc.WalletServiceStub(channel)


OPS = auth("ops")


async def adjust(s: wallet_pb2_grpc.WalletServiceStub, minor: int, customer: str = "c1",
                 merchant: str = "m1", currency: str = "SAR") -> pb.Transaction:
    resp = await s.AdjustBalance(pb.AdjustBalanceRequest(
        merchant_id=merchant, customer_id=customer, amount=money(minor, currency), reason="goodwill",
        idempotency_key=uuid.uuid4().hex), metadata=OPS)
    return resp.transaction


async def balance(s: wallet_pb2_grpc.WalletServiceStub, customer: str = "c1", merchant: str = "m1",
                  currency: str = "SAR") -> pb.Balance:
    resp = await s.GetBalance(pb.GetBalanceRequest(merchant_id=merchant, customer_id=customer,
                                                   currency_code=currency), metadata=OPS)
    return resp.balance


def violations(err: grpc.aio.AioRpcError) -> list[str]:
    """The field paths of a BadRequest in the rich status details."""
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    if not raw:
        return []
    status = status_pb2.Status.FromString(raw)
    out = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out += [v.field for v in bad.field_violations]
    return out
