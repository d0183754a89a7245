"""The wallet, as notify sees it: the event stream and the reads reminders and
expiry warnings need, over gRPC with the service key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

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

    async def _pages(self, rpc: Any, request: Any, items: str) -> AsyncIterator[Any]:
        """Every item of a paged List RPC, following next_page_token."""
        while True:
            resp = await rpc(request, metadata=self.md, timeout=DEADLINE)
            for item in getattr(resp, items):
                yield item
            if not resp.next_page_token:
                return
            request.page_token = resp.next_page_token

    def balances(self, merchant_id: str, min_available: common_pb2.Money,
                 inactive_since: datetime) -> AsyncIterator[wallet_pb2.CustomerBalance]:
        return self._pages(self.stub.ListBalances, wallet_pb2.ListBalancesRequest(
            merchant_id=merchant_id, min_available=min_available, inactive_since=ts_to_pb(inactive_since),
            page_size=500), "balances")

    def expiring(self, merchant_id: str, after: datetime,
                 before: datetime) -> AsyncIterator[wallet_pb2.ExpiringCredit]:
        return self._pages(self.stub.ListExpiringCredits, wallet_pb2.ListExpiringCreditsRequest(
            merchant_id=merchant_id, expires_after=ts_to_pb(after), expires_before=ts_to_pb(before),
            page_size=500), "credits")

    async def close(self) -> None:
        await self.channel.close()
