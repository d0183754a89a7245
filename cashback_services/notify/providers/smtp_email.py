"""Email through aiosmtplib. 4xx and connections that never opened are retried;
5xx (e.g. 550 mailbox unavailable) is final; a timeout after DATA is unknown."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from cashback_services.notify.providers.base import OutboundEmail, Outcome, SendResult


class SmtpEmail:
    name = "smtp"

    def __init__(self, host: str, port: int, from_addr: str, *, timeout: float = 10.0) -> None:
        self.host, self.port, self.from_addr, self.timeout = host, port, from_addr, timeout

    async def send(self, msg: OutboundEmail) -> SendResult:
        message = EmailMessage()
        message["From"] = self.from_addr
        message["To"] = msg.to
        message["Subject"] = msg.subject
        message["Message-ID"] = f"<{msg.delivery_id}@cashback>"
        message.set_content(msg.body)
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=self.timeout)
        except aiosmtplib.SMTPConnectError as exc:
            return SendResult(Outcome.RETRY, error=f"smtp connect failed: {exc}")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            outcome = Outcome.FAILED if any(c >= 500 for c in codes) else Outcome.RETRY
            return SendResult(outcome, error=f"smtp recipient refused {codes}")
        except aiosmtplib.SMTPResponseException as exc:
            outcome = Outcome.FAILED if exc.code >= 500 else Outcome.RETRY
            return SendResult(outcome, error=f"smtp {exc.code}: {exc.message}")
        except aiosmtplib.SMTPTimeoutError as exc:
            return SendResult(Outcome.UNKNOWN, error=f"smtp timeout: {exc}")
        except (aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            return SendResult(Outcome.RETRY, error=f"smtp connection problem: {type(exc).__name__}")
        return SendResult(Outcome.SENT, provider_message_id=message["Message-ID"])

    async def close(self) -> None:
        return None
