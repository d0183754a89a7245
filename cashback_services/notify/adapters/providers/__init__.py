"""SMS and email providers, chosen from the configuration."""

from __future__ import annotations

import ssl

from cashback_kit.config import Settings
from cashback_services.notify.adapters.providers.base import EmailProvider, SmsProvider, SmsRouter
from cashback_services.notify.adapters.providers.logsink import LogEmailSink, LogSmsSink
from cashback_services.notify.config import NotifySettings, parse_routes


def sms_providers(settings: Settings, ns: NotifySettings) -> dict[str, SmsProvider]:
    """Each SMS provider that is configured, by name, plus the log sink."""
    out: dict[str, SmsProvider] = {"log": LogSmsSink(settings.hardening.fingerprint_secret)}
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        from cashback_services.notify.adapters.providers.twilio_sms import TwilioSms

        out["twilio"] = TwilioSms(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from,
                                  base_url=settings.twilio_api_base_url)
    if ns.kavenegar_api_key:
        from cashback_services.notify.adapters.providers.kavenegar_sms import KavenegarSms

        out["kavenegar"] = KavenegarSms(ns.kavenegar_api_key, ns.kavenegar_sender, base_url=ns.kavenegar_api_base_url)
    return out


def sms_router(settings: Settings, ns: NotifySettings) -> SmsRouter:
    """SMS_ROUTES when set (e.g. "98=kavenegar,*=twilio"); else +98 to Kavenegar when its
    key is set (Twilio has not delivered to Iran since March 2025) and the rest to Twilio,
    or to the log sink when Twilio is not configured."""
    providers = sms_providers(settings, ns)
    routes = parse_routes(ns.sms_routes)
    if not routes:
        routes = {"*": "twilio" if "twilio" in providers else "log"}
        if "kavenegar" in providers:
            routes["98"] = "kavenegar"
    missing = sorted({p for p in routes.values() if p not in providers})
    if missing:
        raise ValueError(f"SMS_ROUTES names {', '.join(missing)}, which is not configured")
    default = providers[routes.pop("*", "twilio" if "twilio" in providers else "log")]
    return SmsRouter(default, {code: providers[name] for code, name in routes.items()})


def email_provider(settings: Settings, ns: NotifySettings) -> EmailProvider:
    """SMTP when SMTP_HOST is set, else a log sink."""
    if not settings.smtp_host:
        return LogEmailSink(settings.hardening.fingerprint_secret)
    from cashback_services.notify.adapters.providers.smtp_email import SmtpEmail

    context = ssl.create_default_context(cafile=ns.smtp_ca_file or None) if ns.smtp_tls != "none" else None
    return SmtpEmail(settings.smtp_host, settings.smtp_port, settings.smtp_from or "cashback@localhost",
                     username=ns.smtp_username, password=ns.smtp_password, tls=ns.smtp_tls, tls_context=context)


def build_providers(settings: Settings, ns: NotifySettings | None = None) -> tuple[SmsRouter, EmailProvider]:
    ns = ns or NotifySettings()
    return sms_router(settings, ns), email_provider(settings, ns)
