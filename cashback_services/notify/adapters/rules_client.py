"""Rules, as notify sees it: the customers of a promotion's audience
(ListCustomers), over gRPC with notify's service key, whose role may call that
and nothing else in rules. Yields plain customer ids; a failed call raises the
kit's errors, like the wallet gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashback_kit.client import bearer, open_channel
from cashback_kit.config import Settings
from cashback_services.notify.adapters.wallet_client import pages

PAGE = 500


class RulesGateway:
    def __init__(self, settings: Settings) -> None:
        self.channel = open_channel(settings.rules_target, settings)
        self.stub = rules_pb2_grpc.RulesServiceStub(self.channel)
        self.md = bearer(settings.service_key)

    async def customers(
        self, merchant_id: str, segments: tuple[str, ...], tiers: tuple[str, ...], inactive_days: int
    ) -> AsyncIterator[str]:
        """Every customer rules lists for the filters, in customer_id order."""
        request = rules_pb2.ListCustomersRequest(
            merchant_id=merchant_id, segments=segments, tiers=tiers, inactive_days=inactive_days, page_size=PAGE
        )
        async for c in pages(self.stub.ListCustomers, request, "customers", self.md, peer="rules"):
            yield c.customer_id

    async def close(self) -> None:
        await self.channel.close()
