"""SMS and email providers against real peers: the twilio SDK against the local
Twilio-compatible server, aiosmtplib against a real aiosmtpd server."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from cashback_services.notify.adapters.providers import build_providers
from cashback_services.notify.adapters.providers.base import OutboundEmail, OutboundSms, Outcome, SendResult, SmsRouter
from cashback_services.notify.adapters.providers.logsink import LogSmsSink
from cashback_services.notify.adapters.providers.smtp_email import SmtpEmail
from cashback_services.notify.adapters.providers.twilio_sms import TwilioSms
from tests.notify import fake_twilio as ft
from tests.support.pgcluster import free_port


async def _send(fake: ft.FakeTwilio, to: str, read_timeout: float = 5.0) -> SendResult:
    sms = TwilioSms(ft.ACCOUNT_SID, ft.AUTH_TOKEN, ft.FROM_NUMBER, base_url=fake.base_url, timeout=read_timeout)
    try:
        return await sms.send(OutboundSms("d-1", to, "سلام"))
    finally:
        await sms.close()


@pytest.mark.parametrize(("number", "outcome"), [
    ("+966501234567", Outcome.SENT),
    (ft.STOP_NUMBER, Outcome.SUPPRESS),
    (ft.INVALID_NUMBER, Outcome.FAILED),
    (ft.UNREACHABLE, Outcome.FAILED),
    (ft.RATE_LIMITED, Outcome.RETRY),
    (ft.SERVER_ERROR, Outcome.RETRY),
])
async def test_twilio_answers_map_to_what_is_safe_to_do_next(number, outcome):
    async with ft.FakeTwilio() as fake:
        result = await _send(fake, number)
    assert result.outcome is outcome, result
    assert (len(fake.messages) == 1) is (outcome is Outcome.SENT)
    if outcome is Outcome.SENT:
        assert result.provider_message_id == fake.messages[0]["sid"]
        assert fake.messages[0]["Body"] == "سلام"


async def test_a_request_that_went_out_and_got_no_answer_is_unknown_not_retried():
    async with ft.FakeTwilio() as fake:
        result = await _send(fake, ft.HANG, read_timeout=0.5)
    assert result.outcome is Outcome.UNKNOWN


async def test_a_connection_refused_before_sending_is_safe_to_retry():
    sms = TwilioSms(ft.ACCOUNT_SID, ft.AUTH_TOKEN, ft.FROM_NUMBER, base_url=f"http://127.0.0.1:{free_port()}")
    try:
        result = await sms.send(OutboundSms("d-2", "+966501234567", "hi"))
    finally:
        await sms.close()
    assert result.outcome is Outcome.RETRY


class _Refuse550(Sink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 Message accepted"


async def test_email_goes_through_a_real_smtp_server_and_550_is_final():
    handler = _Refuse550()
    handler.received = []
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smtp = SmtpEmail("127.0.0.1", controller.port, "shop@example.test")
        ok = await smtp.send(OutboundEmail("d-3", "ali@example.test", "Cashback", "You earned 5 SAR"))
        refused = await smtp.send(OutboundEmail("d-4", "nobody@example.test", "Cashback", "x"))
    finally:
        controller.stop()
    assert ok.outcome is Outcome.SENT
    assert refused.outcome is Outcome.FAILED and "550" in refused.error
    assert len(handler.received) == 1 and b"You earned 5 SAR" in handler.received[0].content


async def test_an_smtp_server_that_is_down_is_retried():
    result = await SmtpEmail("127.0.0.1", free_port(), "shop@example.test", timeout=2).send(
        OutboundEmail("d-5", "ali@example.test", "s", "b"))
    assert result.outcome is Outcome.RETRY


class _Second(LogSmsSink):
    name = "second"


def test_a_second_provider_plugs_in_for_iranian_numbers_only():
    twilio, other = LogSmsSink(), _Second()
    router = SmsRouter(twilio, {"98": other})
    assert router.for_number("+989121234567") is other
    assert router.for_number("+966501234567") is twilio


def test_without_provider_settings_sms_and_email_go_to_log_sinks():
    from cashback_kit.config import Settings

    router, email = build_providers(Settings.from_env("notify", {}))
    assert router.default.name == "log-sms" and email.name == "log-email"
    router, email = build_providers(Settings.from_env("notify", {
        "TWILIO_ACCOUNT_SID": ft.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "x", "TWILIO_FROM": ft.FROM_NUMBER,
        "SMTP_HOST": "127.0.0.1"}))
    assert router.default.name == "twilio" and email.name == "smtp"
