"""Notify's own settings, read once by main() from the environment (the kit's
Settings holds what every service shares)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

KAVENEGAR_API = "https://api.kavenegar.com"
SMTP_TLS_MODES = ("starttls", "tls", "none")
PROVIDERS = ("kavenegar", "twilio", "log")


def _seconds(e: Mapping[str, str], name: str, default: float) -> float:
    raw = e.get(name, "") or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def parse_routes(text: str) -> dict[str, str]:
    """SMS_ROUTES, e.g. "98=kavenegar,*=twilio": calling code -> provider; "*" for the rest."""
    routes: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        code, sep, provider = (x.strip() for x in item.partition("="))
        if not sep or not (code == "*" or code.isdigit()) or provider not in PROVIDERS:
            raise ValueError(f"SMS_ROUTES item {item!r}: expected <calling code or *>=<{'|'.join(PROVIDERS)}>")
        routes[code] = provider
    return routes


@dataclass(frozen=True)
class NotifySettings:
    kavenegar_api_key: str = ""
    kavenegar_sender: str = ""
    kavenegar_api_base_url: str = KAVENEGAR_API
    sms_routes: str = ""  # "" = +98 to Kavenegar when its key is set, the rest to Twilio
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"
    smtp_ca_file: str = ""  # a private CA for the relay's certificate; "" = the system's
    retry_budget: timedelta = timedelta(hours=24)
    misfire_grace: timedelta = timedelta(hours=1)
    order_gather: timedelta = timedelta(seconds=3)
    render_budget: float = 0.5  # seconds one merchant template may take to render

    @classmethod
    def from_env(cls, e: Mapping[str, str]) -> NotifySettings:
        tls = (e.get("SMTP_TLS", "") or "none").lower()
        if tls not in SMTP_TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {tls!r}")
        routes = e.get("SMS_ROUTES", "")
        parse_routes(routes)  # refuse a bad value at start-up, not at the first send
        return cls(
            kavenegar_api_key=e.get("KAVENEGAR_API_KEY", ""),
            kavenegar_sender=e.get("KAVENEGAR_SENDER", ""),
            kavenegar_api_base_url=e.get("KAVENEGAR_API_BASE_URL", "") or KAVENEGAR_API,
            sms_routes=routes,
            smtp_username=e.get("SMTP_USERNAME", ""),
            smtp_password=e.get("SMTP_PASSWORD", ""),
            smtp_tls=tls,
            smtp_ca_file=e.get("SMTP_CA_FILE", ""),
            retry_budget=timedelta(seconds=_seconds(e, "NOTIFY_RETRY_BUDGET_SECONDS", 86_400)),
            misfire_grace=timedelta(seconds=_seconds(e, "NOTIFY_MISFIRE_GRACE_SECONDS", 3_600)),
            order_gather=timedelta(seconds=_seconds(e, "NOTIFY_ORDER_GATHER_SECONDS", 3)),
            render_budget=_seconds(e, "NOTIFY_RENDER_BUDGET_SECONDS", 0.5) or 0.5,
        )
