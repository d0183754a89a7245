"""The wallet, as notify sees it: the event stream and the reads reminders and
expiry warnings need, over gRPC with notify's service key. Takes and returns
notify's domain values; a failed call raises the kit's errors (Unavailable for
a wallet that is down or slow, the mapped DomainError otherwise), so the service
layer never sees gRPC or protobuf."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import grpc
from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.client import bearer, open_channel
from cashback_kit.config import Settings
from cashback_kit.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from cashback_kit.money import Money
from cashback_kit.pb import ts_to_pb
from cashback_services.notify.adapters.wallet_events import streamed_event, ts
from cashback_services.notify.domain.events import BalanceView, CustomerBalance, ExpiringCredit, StreamedEvent

DEADLINE = 10.0
T = TypeVar("T")
_MAPPED: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument, grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition, grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
}


def domain_error(exc: grpc.aio.AioRpcError, peer: str = "wallet") -> DomainError:
    """The kit error for a failed call to a peer service (its code and details, never its metadata)."""
    kind = _MAPPED.get(exc.code(), Unavailable)
    return kind(f"{peer} {exc.code().name}: {exc.details() or ''}".strip())


async def _call(fn: Callable[[], Awaitable[T]], peer: str = "wallet") -> T:
    try:
        return await fn()
    except grpc.aio.AioRpcError as exc:
        raise domain_error(exc, peer) from exc


async def pages(rpc: Any, request: Any, items: str, metadata: Any, peer: str = "wallet") -> AsyncIterator[Any]:
    """Every item of a paged List RPC of a peer, following next_page_token."""
    while True:
        resp = await _call(lambda: rpc(request, metadata=metadata, timeout=DEADLINE), peer)
        for item in getattr(resp, items):
            yield item
        if not resp.next_page_token:
            return
        request.page_token = resp.next_page_token


class WalletGateway:
    def __init__(self, settings: Settings) -> None:
        self.channel = open_channel(settings.wallet_target, settings)
        self.stub = wallet_pb2_grpc.WalletServiceStub(self.channel)
        self.md = bearer(settings.service_key)

    async def stream(self, after: int) -> AsyncIterator[StreamedEvent]:
        """The wallet's events after `after`; a broken stream raises the kit error."""
        call = self.stub.StreamEvents(wallet_pb2.StreamEventsRequest(after_cursor=after), metadata=self.md)
        try:
            async for resp in call:
                yield streamed_event(resp.event)
        except grpc.aio.AioRpcError as exc:
            raise domain_error(exc) from exc

    async def balance(self, merchant_id: str, customer_id: str, currency: str) -> BalanceView:
        resp = await _call(lambda: self.stub.GetBalance(wallet_pb2.GetBalanceRequest(
            merchant_id=merchant_id, customer_id=customer_id, currency_code=currency), metadata=self.md,
            timeout=DEADLINE))
        b = resp.balance
        expiry = ts(b.next_expiry_at) if b.HasField("next_expiry_at") else None
        return BalanceView(Money(b.available.currency_code or currency, b.available.amount_minor), expiry)

    def _pages(self, rpc: Any, request: Any, items: str) -> AsyncIterator[Any]:
        return pages(rpc, request, items, self.md)

    async def balances(self, merchant_id: str, min_available: Money,
                       inactive_since: datetime | None) -> AsyncIterator[CustomerBalance]:
        """Customers with at least `min_available` available and, when given, no order since `inactive_since`."""
        minimum = common_pb2.Money(currency_code=min_available.currency, amount_minor=min_available.minor)
        request = wallet_pb2.ListBalancesRequest(merchant_id=merchant_id, min_available=minimum, page_size=500)
        if inactive_since is not None:
            request.inactive_since.FromDatetime(inactive_since)
        async for cb in self._pages(self.stub.ListBalances, request, "balances"):
            available = cb.balance.available
            yield CustomerBalance(cb.customer_id, Money(available.currency_code or min_available.currency,
                                                        available.amount_minor))

    async def expiring(self, merchant_id: str, after: datetime, before: datetime) -> AsyncIterator[ExpiringCredit]:
        async for c in self._pages(self.stub.ListExpiringCredits, wallet_pb2.ListExpiringCreditsRequest(
                merchant_id=merchant_id, expires_after=ts_to_pb(after), expires_before=ts_to_pb(before),
                page_size=500), "credits"):
            yield ExpiringCredit(c.customer_id, Money(c.amount.currency_code, c.amount.amount_minor),
                                 ts(c.earliest_expiry), tuple(c.lot_ids))

    async def close(self) -> None:
        await self.channel.close()
