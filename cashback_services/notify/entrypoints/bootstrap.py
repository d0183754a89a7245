"""Wires the notify service: the servicer, the stream follower, the senders (in
every process) and the scheduler (in the leader)."""

from __future__ import annotations

from datetime import timedelta

from cashback.notify.v1 import notify_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts
from cashback_services.notify.adapters import render_pool
from cashback_services.notify.adapters.providers import build_providers
from cashback_services.notify.adapters.rules_client import RulesGateway
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.config import NotifySettings
from cashback_services.notify.domain.delivery_state import RetryPolicy
from cashback_services.notify.entrypoints.runtime import Leader, follow, send_forever
from cashback_services.notify.entrypoints.servicer import NotifyServicer
from cashback_services.notify.service_layer.sender import Sender
from cashback_services.notify.service_layer.service import NotifyService

SERVICE_NAME = "cashback.notify.v1.NotifyService"
SEND_CONCURRENCY_ENV = "NOTIFY_SEND_CONCURRENCY"


def send_concurrency(settings: Settings) -> int:
    """NOTIFY_SEND_CONCURRENCY: sends each process keeps in flight (default 32)."""
    raw = settings.notify_send_concurrency
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{SEND_CONCURRENCY_ENV} must be a whole number of sends, at least 1, not {raw!r}")
    return int(raw)


async def bootstrap(settings: Settings, db: Database, ns: NotifySettings | None = None) -> ServiceParts:
    ns = ns or NotifySettings()
    wallet = WalletGateway(settings)
    router, email = build_providers(settings, ns)
    renderer = render_pool.configure(ns.render_budget)
    renderer.start()
    rules = RulesGateway(settings)  # a promotion's audience (ListCustomers); the channel connects lazily
    service = NotifyService(db, wallet, renderer=renderer, rules=rules)
    sender = Sender(db, router, email, wallet, lease=timedelta(seconds=settings.notify_lease_seconds),
                    concurrency=send_concurrency(settings), retry=RetryPolicy(budget=ns.retry_budget))
    leader = Leader(service, settings.database_url, misfire_grace=ns.misfire_grace)

    async def follower() -> None:
        await follow(db, wallet, gather=ns.order_gather, renderer=renderer)

    async def senders() -> None:
        await send_forever(sender)

    async def scheduler() -> None:
        await leader.run()

    async def close() -> None:
        await router.close()
        await email.close()
        await wallet.close()
        await rules.close()
        renderer.close()

    parts = ServiceParts(SERVICE_NAME, NotifyServicer(service), notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                         background=[follower, senders, scheduler], on_stop=[close])
    return parts
