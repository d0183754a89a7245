"""SMS and email providers, chosen from the configuration."""

from __future__ import annotations

from cashback_kit.config import Settings
from cashback_services.notify.providers.base import EmailProvider, SmsProvider, SmsRouter
from cashback_services.notify.providers.logsink import LogEmailSink, LogSmsSink


def build_providers(settings: Settings, by_country_code: dict[str, SmsProvider] | None = None,
                    ) -> tuple[SmsRouter, EmailProvider]:
    """Twilio when configured, else a log sink; SMTP when configured, else a log
    sink. `by_country_code` plugs in other SMS providers per calling code (e.g.
    "98" for Iran, which Twilio does not deliver to)."""
    default: SmsProvider
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        from cashback_services.notify.providers.twilio_sms import TwilioSms

        default = TwilioSms(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from,
                            base_url=settings.twilio_api_base_url)
    else:
        default = LogSmsSink()
    email: EmailProvider
    if settings.smtp_host:
        from cashback_services.notify.providers.smtp_email import SmtpEmail

        email = SmtpEmail(settings.smtp_host, settings.smtp_port, settings.smtp_from or "cashback@localhost")
    else:
        email = LogEmailSink()
    return SmsRouter(default, by_country_code), email
