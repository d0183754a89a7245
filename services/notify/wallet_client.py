"""The wallet, as notify sees it: the event stream and the reads reminders and
expiry warnings need, over gRPC with the service key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer, open_channel
from cashback_kit.config import Settings
from cashback_kit.pb import ts_to_pb

DEADLINE = 10.0


class WalletGateway:
    def __init__(self, settings: Settings) -> None:
        self.channel = open_channel(settings.wallet_target, settings)
        self.stub = wallet_pb2_grpc.WalletServiceStub(self.channel)
        self.md = bearer(settings.service_key)

    async def stream(self, after: int) -> AsyncIterator[wallet_pb2.WalletEvent]:
        call = self.stub.StreamEvents(wallet_pb2.StreamEventsRequest(after_cursor=after), metadata=self.md)
        async for resp in call:
            yield resp.event

    async def balance(self, merchant_id: str, customer_id: str, currency: str) -> wallet_pb2.Balance:
        resp = await self.stub.GetBalance(wallet_pb2.GetBalanceRequest(
            merchant_id=merchant_id, customer_id=customer_id, currency_code=currency), metadata=self.md,
            timeout=DEADLINE)
        return resp.balance

    async def balances(self, merchant_id: str, min_available: common_pb2.Money,
                       inactive_since: datetime) -> AsyncIterator[wallet_pb2.CustomerBalance]:
        token = ""
        while True:
            resp = await self.stub.ListBalances(wallet_pb2.ListBalancesRequest(
                merchant_id=merchant_id, min_available=min_available, inactive_since=ts_to_pb(inactive_since),
                page_size=500, page_token=token), metadata=self.md, timeout=DEADLINE)
            for b in resp.balances:
                yield b
            token = resp.next_page_token
            if not token:
                return

    async def expiring(self, merchant_id: str, after: datetime,
                       before: datetime) -> AsyncIterator[wallet_pb2.ExpiringCredit]:
        token = ""
        while True:
            resp = await self.stub.ListExpiringCredits(wallet_pb2.ListExpiringCreditsRequest(
                merchant_id=merchant_id, expires_after=ts_to_pb(after), expires_before=ts_to_pb(before),
                page_size=500, page_token=token), metadata=self.md, timeout=DEADLINE)
            for c in resp.credits:
                yield c
            token = resp.next_page_token
            if not token:
                return

    async def close(self) -> None:
        await self.channel.close()
