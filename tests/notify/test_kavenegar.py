"""Kavenegar through its REST API, against the local Kavenegar-compatible server:
what each status means for a delivery, a lost answer settled by localid, routing
+98 to Kavenegar, and a 10-minute outage that loses no message."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.providers import build_providers
from cashback_services.notify.adapters.providers.base import SmsRouter
from cashback_services.notify.adapters.providers.kavenegar_sms import KavenegarSms, receptor
from cashback_services.notify.adapters.providers.logsink import LogEmailSink
from cashback_services.notify.config import NotifySettings
from cashback_services.notify.domain.outcomes import OutboundSms, Outcome
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.sender import Sender
from tests.notify import fake_kavenegar as fk

TEHRAN = "+989121234567"


def _provider(fake: fk.FakeKavenegar, **kw) -> KavenegarSms:
    return KavenegarSms(fk.API_KEY, fk.SENDER, base_url=fake.base_url, **kw)


def _sms(to: str = TEHRAN, delivery_id: str = "") -> OutboundSms:
    return OutboundSms(delivery_id or f"dl_{uuid.uuid4().hex}", to, "سلام")


def test_iranian_numbers_go_to_kavenegar_in_national_form_and_others_with_00():
    assert receptor(TEHRAN) == "09121234567"
    assert receptor("+966501234567") == "00966501234567"


async def test_a_send_is_accepted_with_its_message_id_and_the_localid_is_the_delivery_id():
    async with fk.FakeKavenegar() as fake:
        sms = _provider(fake)
        result = await sms.send(_sms(delivery_id="dl_1"))
        await sms.close()
    assert result.outcome is Outcome.SENT and result.provider_message_id == fake.messages[0]["messageid"]
    assert fake.messages[0]["receptor"] == "09121234567" and fake.messages[0]["localid"] == "dl_1"
    assert fake.messages[0]["sender"] == fk.SENDER


async def test_server_errors_and_a_wrong_api_key_are_retried_not_failed():
    async with fk.FakeKavenegar() as fake:
        sms = _provider(fake)
        fake.failing = 500
        down = await sms.send(_sms())
        wrong = KavenegarSms("not-the-key", base_url=fake.base_url)
        refused = await wrong.send(_sms())
        await sms.close()
        await wrong.close()
    assert down.outcome is Outcome.RETRY and "500" in down.error
    assert refused.outcome is Outcome.RETRY and "403" in refused.error and fake.messages == []


async def test_status_411_is_failed_418_is_retried_and_logged_loudly(caplog):
    async with fk.FakeKavenegar() as fake:
        sms = _provider(fake)
        fake.failing = 411
        bad = await sms.send(_sms())
        fake.failing = 418
        with caplog.at_level(logging.ERROR, logger="cashback.notify.kavenegar"):
            broke = await sms.send(_sms())
        await sms.close()
    assert bad.outcome is Outcome.FAILED and "receptor invalid" in bad.error
    assert broke.outcome is Outcome.RETRY and "credit" in broke.error
    assert any(r.levelno == logging.ERROR and getattr(r, "status", None) == 418 for r in caplog.records)


async def test_an_answer_lost_after_kavenegar_took_the_message_is_settled_as_sent_without_sending_twice():
    async with fk.FakeKavenegar() as fake:
        sms = _provider(fake)
        fake.lose_answers = 1
        result = await sms.send(_sms(delivery_id="dl_lost"))
        again = await sms.send(_sms(delivery_id="dl_lost"))  # a resend with the same localid
        await sms.close()
    assert result.outcome is Outcome.SENT and result.provider_message_id == fake.messages[0]["messageid"]
    assert again.provider_message_id == result.provider_message_id
    assert len(fake.messages) == 1


async def test_a_request_lost_before_kavenegar_took_it_is_retried():
    async with fk.FakeKavenegar() as fake:
        sms = _provider(fake)
        fake.drop_requests = 1
        result = await sms.send(_sms())
        await sms.close()
    assert result.outcome is Outcome.RETRY and "never arrived" in result.error and fake.messages == []


def _settings(**env: str) -> tuple[Settings, NotifySettings]:
    return Settings.from_env("notify", env), NotifySettings.from_env(env)


async def test_with_a_kavenegar_key_plus_98_goes_to_kavenegar_and_the_rest_to_twilio():
    router, _ = build_providers(*_settings(KAVENEGAR_API_KEY="k", TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t",
                                           TWILIO_FROM="+15005550006"))
    assert router.for_number(TEHRAN).name == "kavenegar"
    assert router.for_number("+966501234567").name == "twilio"
    await router.close()


async def test_sms_routes_override_the_default_routing_and_a_route_to_an_unconfigured_provider_is_refused():
    router, _ = build_providers(*_settings(KAVENEGAR_API_KEY="k", SMS_ROUTES="98=kavenegar,966=kavenegar,*=log"))
    assert router.for_number("+966501234567").name == "kavenegar"
    assert router.for_number("+15005550006").name == "log-sms"
    await router.close()
    with pytest.raises(ValueError, match="twilio"):
        build_providers(*_settings(SMS_ROUTES="98=twilio"))
    with pytest.raises(ValueError, match="SMS_ROUTES"):
        NotifySettings.from_env({"SMS_ROUTES": "98:kavenegar"})


async def test_a_ten_minute_kavenegar_outage_loses_no_message(pg_url):
    """Sends keep failing with 5xx for 10 minutes of a controlled clock; with the
    retry budget (24 h) and full-jitter backoff every message goes out once after."""
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    start = datetime.now(UTC)
    clock = {"now": start}
    n = 40
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries), [dict(
            delivery_id=f"dl_{uuid.uuid4().hex}", dedupe_key=f"outage:{i}", merchant_id="m1", customer_id=f"c{i}",
            kind="credited", channel="sms", status="SCHEDULED", to_addr=f"+98912{i:07d}", subject="", body="سلام",
            encoding="UCS-2", segments=1, attempts=0, scheduled_for=start, next_attempt_at=start,
            provider_message_id="", error="", created_at=start) for i in range(n)])
    async with fk.FakeKavenegar(failing=503) as fake:
        sms = _provider(fake)
        sender = Sender(db, SmsRouter(sms), LogEmailSink(), None, clock=lambda: clock["now"])
        while clock["now"] < start + timedelta(minutes=40):
            if clock["now"] >= start + timedelta(minutes=10):
                fake.failing = None  # the outage ends
            await sender.send_due(limit=n)
            clock["now"] += timedelta(seconds=20)
        await sms.close()
    async with db.read() as conn:
        statuses = [r[0] for r in await conn.execute(select(t.deliveries.c.status))]
    await db.dispose()
    assert statuses == ["SENT"] * n
    assert sorted(m["receptor"] for m in fake.messages) == sorted(f"0912{i:07d}" for i in range(n))
    assert fake.requests > 2 * n  # they really were refused during the outage and tried again
