"""Email through aiosmtplib, to a local MTA or a real relay (SMTP_USERNAME,
SMTP_PASSWORD, SMTP_TLS = starttls | tls | none).

4xx and connections that never opened are retried; 5xx about the message or
the recipient (e.g. 550 mailbox unavailable) is final; 530 and 535 (the relay
wants authentication, or refused ours) are configuration errors: logged loudly
and retried, since the message is fine; a timeout after DATA is unknown."""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage

import aiosmtplib

from cashback_services.notify.domain.outcomes import OutboundEmail, Outcome, SendResult

log = logging.getLogger("cashback.notify.smtp")
CONFIG_CODES = {530: "the relay requires authentication", 535: "the relay refused the credentials",
                534: "the relay wants a stronger authentication mechanism", 538: "the relay requires TLS"}


class SmtpEmail:
    name = "smtp"

    def __init__(self, host: str, port: int, from_addr: str, *, username: str = "", password: str = "",
                 tls: str = "none", tls_context: ssl.SSLContext | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.from_addr, self.timeout = host, port, from_addr, timeout
        self.username, self.password, self.tls = username, password, tls
        self.tls_context = tls_context

    async def send(self, msg: OutboundEmail) -> SendResult:
        message = EmailMessage()
        message["From"] = self.from_addr
        message["To"] = msg.to
        message["Subject"] = msg.subject
        message["Message-ID"] = f"<{msg.delivery_id}@cashback>"
        message.set_content(msg.body)
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=self.timeout,
                                  username=self.username or None, password=self.password or None,
                                  use_tls=self.tls == "tls", start_tls=self.tls == "starttls",
                                  tls_context=self.tls_context)
        except aiosmtplib.SMTPConnectError as exc:
            return SendResult(Outcome.RETRY, error=f"smtp connect failed: {exc}")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            outcome = Outcome.FAILED if any(c >= 500 for c in codes) else Outcome.RETRY
            return SendResult(outcome, error=f"smtp recipient refused {codes}")
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in CONFIG_CODES:
                log.error("the SMTP relay refused our configuration; email waits and is retried",
                          extra={"code": exc.code, "reason": CONFIG_CODES[exc.code], "delivery_id": msg.delivery_id})
                return SendResult(Outcome.RETRY, error=f"smtp {exc.code}: {CONFIG_CODES[exc.code]}")
            outcome = Outcome.FAILED if exc.code >= 500 else Outcome.RETRY
            return SendResult(outcome, error=f"smtp {exc.code}: {exc.message}")
        except aiosmtplib.SMTPTimeoutError as exc:
            return SendResult(Outcome.UNKNOWN, error=f"smtp timeout: {exc}")
        except aiosmtplib.SMTPException as exc:
            # e.g. STARTTLS or AUTH not offered: the relay and our settings disagree.
            log.error("SMTP session failed before sending; email waits and is retried",
                      extra={"error": type(exc).__name__, "delivery_id": msg.delivery_id})
            return SendResult(Outcome.RETRY, error=f"smtp: {type(exc).__name__}: {exc}")
        except (ssl.SSLError, OSError) as exc:
            return SendResult(Outcome.RETRY, error=f"smtp connection problem: {type(exc).__name__}")
        return SendResult(Outcome.SENT, provider_message_id=message["Message-ID"])

    async def close(self) -> None:
        return None
