"""Email through a real relay: aiosmtpd requiring AUTH over STARTTLS (and over
implicit TLS) with a self-signed certificate made here; wrong or missing
credentials (535, 530) are configuration errors that are retried and logged,
never FAILED."""

from __future__ import annotations

import logging
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cashback_kit.config import Settings
from cashback_services.notify.adapters.providers import build_providers
from cashback_services.notify.adapters.providers.smtp_email import SmtpEmail
from cashback_services.notify.config import NotifySettings
from cashback_services.notify.domain.outcomes import OutboundEmail, Outcome
from tests.support.pgcluster import free_port

USER, PASSWORD = "shop@example.test", "relay-password"
MAIL = OutboundEmail("dl_mail", "ali@example.test", "Cashback", "You earned 5 SAR")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


class Relay:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)


def _relay(cert: tuple[Path, Path], implicit: bool = False) -> tuple[Controller, Relay]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*cert)
    handler = Relay()
    # With implicit TLS aiosmtpd does not see the session as TLS and would hide AUTH if told
    # to require TLS for it; the whole connection is TLS anyway.
    tls = {"ssl_context": server_ctx, "auth_require_tls": False} if implicit else \
        {"tls_context": server_ctx, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), auth_required=True,
                            authenticator=_authenticator, **tls)
    controller.start()
    return controller, handler


def _client(port: int, cert: tuple[Path, Path], tls: str = "starttls", **kw) -> SmtpEmail:
    return SmtpEmail("127.0.0.1", port, USER, tls=tls, tls_context=ssl.create_default_context(cafile=str(cert[0])),
                     timeout=5, **kw)


async def test_a_relay_requiring_starttls_and_auth_takes_the_email_with_the_right_credentials(cert):
    controller, relay = _relay(cert)
    try:
        result = await _client(controller.port, cert, username=USER, password=PASSWORD).send(MAIL)
    finally:
        controller.stop()
    assert result.outcome is Outcome.SENT
    assert len(relay.received) == 1 and b"You earned 5 SAR" in relay.received[0]


async def test_implicit_tls_works_too(cert):
    controller, relay = _relay(cert, implicit=True)
    try:
        result = await _client(controller.port, cert, tls="tls", username=USER, password=PASSWORD).send(MAIL)
    finally:
        controller.stop()
    assert result.outcome is Outcome.SENT and len(relay.received) == 1


async def test_wrong_or_missing_credentials_are_retried_and_logged_not_failed(cert, caplog):
    controller, relay = _relay(cert)
    try:
        with caplog.at_level(logging.ERROR, logger="cashback.notify.smtp"):
            wrong = await _client(controller.port, cert, username=USER, password="not-it").send(MAIL)
            missing = await _client(controller.port, cert).send(MAIL)
    finally:
        controller.stop()
    assert wrong.outcome is Outcome.RETRY and "535" in wrong.error
    assert missing.outcome is Outcome.RETRY and "530" in missing.error
    assert relay.received == []
    logged = {getattr(r, "code", None) for r in caplog.records if r.levelno == logging.ERROR}
    assert {530, 535} <= logged
    assert not any(PASSWORD in r.getMessage() or "not-it" in r.getMessage() for r in caplog.records)


def test_the_smtp_settings_reach_the_provider_and_a_bad_tls_mode_is_refused():
    env = {"SMTP_HOST": "relay.example.test", "SMTP_PORT": "587", "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD,
           "SMTP_TLS": "STARTTLS"}
    _, email = build_providers(Settings.from_env("notify", env), NotifySettings.from_env(env))
    assert isinstance(email, SmtpEmail)
    assert (email.port, email.username, email.password, email.tls) == (587, USER, PASSWORD, "starttls")
    assert email.tls_context is not None
    with pytest.raises(ValueError, match="SMTP_TLS"):
        NotifySettings.from_env({"SMTP_TLS": "ssl3"})
