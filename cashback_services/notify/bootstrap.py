"""Wires the notify service: the servicer, the stream follower, the senders (in
every process) and the scheduler (in the leader)."""

from __future__ import annotations

from datetime import timedelta

from cashback.notify.v1 import notify_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts
from cashback_services.notify.deliveries import Sender
from cashback_services.notify.providers import build_providers
from cashback_services.notify.runtime import Leader, follow, send_forever
from cashback_services.notify.service import NotifyService
from cashback_services.notify.servicer import NotifyServicer
from cashback_services.notify.wallet_client import WalletGateway

SERVICE_NAME = "cashback.notify.v1.NotifyService"
SEND_CONCURRENCY_ENV = "NOTIFY_SEND_CONCURRENCY"


def send_concurrency(settings: Settings) -> int:
    """NOTIFY_SEND_CONCURRENCY: sends each process keeps in flight (default 32)."""
    raw = settings.notify_send_concurrency
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{SEND_CONCURRENCY_ENV} must be a whole number of sends, at least 1, not {raw!r}")
    return int(raw)


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    wallet = WalletGateway(settings)
    router, email = build_providers(settings)
    service = NotifyService(db, wallet)
    sender = Sender(db, router, email, wallet, lease=timedelta(seconds=settings.notify_lease_seconds),
                    concurrency=send_concurrency(settings))
    leader = Leader(service, settings.database_url)

    async def follower() -> None:
        await follow(db, wallet)

    async def senders() -> None:
        await send_forever(sender)

    async def scheduler() -> None:
        await leader.run()

    async def close() -> None:
        await router.close()
        await email.close()
        await wallet.close()

    parts = ServiceParts(SERVICE_NAME, NotifyServicer(service), notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                         background=[follower, senders, scheduler], on_stop=[close])
    return parts
