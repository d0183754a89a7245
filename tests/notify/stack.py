"""rules + wallet + notify in-process over real gRPC, notify's SMS going to the
local Kavenegar-compatible server (+98) and the local Twilio-compatible one (the
rest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_services.notify.config import NotifySettings
from cashback_services.notify.entrypoints.bootstrap import bootstrap
from tests.notify import fake_kavenegar as fk
from tests.notify import fake_twilio as ft
from tests.support.servers import ServiceHandle, auth, running_service


@dataclass
class NotifyStack:
    rules: ServiceHandle
    wallet: ServiceHandle
    notify: ServiceHandle
    twilio: ft.FakeTwilio
    kavenegar: fk.FakeKavenegar

    @property
    def n(self) -> notify_pb2_grpc.NotifyServiceStub:
        return notify_pb2_grpc.NotifyServiceStub(self.notify.channel)

    @property
    def w(self) -> wallet_pb2_grpc.WalletServiceStub:
        return wallet_pb2_grpc.WalletServiceStub(self.wallet.channel)

    @property
    def r(self) -> rules_pb2_grpc.RulesServiceStub:
        return rules_pb2_grpc.RulesServiceStub(self.rules.channel)

    async def contact(self, customer: str, phone: str, locale: str = "fa-IR", zone: str = "Asia/Tehran",
                      email: str = "") -> None:
        await self.n.UpsertContact(notify_pb2.UpsertContactRequest(contact=notify_pb2.Contact(
            merchant_id="m1", customer_id=customer, phone_e164=phone, email=email, locale=locale, timezone=zone,
            sms_opt_in=True, email_opt_in=bool(email))), metadata=auth("ops"))

    async def campaign(self, currency: str = "IRR", bps: int = 1000, pending_days: int = 14,
                       name: str = "10%") -> None:
        c = rules_pb2.Campaign(merchant_id="m1", name=name, status=rules_pb2.CAMPAIGN_STATUS_ACTIVE,
                               currency_code=currency, percent_bps=bps, timezone="Asia/Tehran",
                               pending_days=pending_days, expires_after_days=90)
        await self.r.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=auth("ops"))


def irr_order(order_id: str, customer: str, amount: int, placed_at: datetime) -> rules_pb2.Order:
    o = rules_pb2.Order(merchant_id="m1", order_id=order_id, customer_id=customer, currency_code="IRR",
                        channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                        lines=[rules_pb2.OrderLine(sku="s1", unit_price=common_pb2.Money(
                            currency_code="IRR", amount_minor=amount), quantity=1)])
    o.placed_at.FromDatetime(placed_at)
    return o


async def eventually(check: Callable[[], object], within: float = 15.0, step: float = 0.1) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


@asynccontextmanager
async def notify_stack(database_url: str, *, sweep: str = "0") -> AsyncIterator[NotifyStack]:
    async with ft.FakeTwilio() as twilio, fk.FakeKavenegar() as kavenegar, \
            running_service("rules", database_url=database_url) as rules, \
            running_service("wallet", database_url=database_url,
                            env={"RULES_TARGET": rules.target, "WALLET_SWEEP_INTERVAL_SECONDS": sweep}) as wallet:
        env = {"WALLET_TARGET": wallet.target, "RULES_TARGET": rules.target, "TWILIO_ACCOUNT_SID": ft.ACCOUNT_SID,
               "TWILIO_AUTH_TOKEN": ft.AUTH_TOKEN, "TWILIO_FROM": ft.FROM_NUMBER,
               "TWILIO_API_BASE_URL": twilio.base_url, "KAVENEGAR_API_KEY": fk.API_KEY,
               "KAVENEGAR_SENDER": fk.SENDER, "KAVENEGAR_API_BASE_URL": kavenegar.base_url,
               "NOTIFY_ORDER_GATHER_SECONDS": "1"}
        ns = NotifySettings.from_env(env)
        async with running_service("notify", database_url=database_url, env=env,
                                   bootstrap=lambda settings, db: bootstrap(settings, db, ns)) as notify:
            yield NotifyStack(rules, wallet, notify, twilio, kavenegar)


def days_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)
