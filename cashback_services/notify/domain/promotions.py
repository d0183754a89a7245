"""Promotions as plain values: what a merchant asks for (audience, channels,
texts per language, when) and which text a customer gets. No I/O; the checks
of a request are in service_layer/promotion_checks.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.money import Money
from cashback_services.notify.domain.rendering import language

# Rules' RFM segments (rules/domain/rfm.py; tests/notify/test_promotions.py keeps the two equal):
# notify imports nothing from rules, and a misspelt segment should be refused when the promotion
# is created, not found empty when it is sent.
SEGMENT_NAMES = (
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "recent_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
LANGUAGES = ("fa", "ar", "en")
STATUSES = ("SCHEDULED", "SENDING", "SENT", "CANCELLED")
OPEN = ("SCHEDULED", "SENDING")
KIND = "promotion"


@dataclass(frozen=True)
class PromotionText:
    locale: str
    sms_body: str = ""
    email_subject: str = ""
    email_body: str = ""


@dataclass(frozen=True)
class Audience:
    segments: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    min_available: Money | None = None  # None or 0: no balance condition
    inactive_days: int = 0

    @property
    def needs_balance(self) -> bool:
        return self.min_available is not None and self.min_available.minor > 0


@dataclass(frozen=True)
class PromotionDraft:
    merchant_id: str
    promotion_id: str
    name: str
    audience: Audience
    channels: tuple[str, ...]
    texts: tuple[PromotionText, ...]
    send_at: datetime | None = None


def text_for(texts: tuple[PromotionText, ...], locale: str) -> PromotionText:
    """The text in the customer's language, else the first one the merchant wrote."""
    lang = language(locale)
    return next((t for t in texts if language(t.locale) == lang), texts[0])


def templates_for(texts: tuple[PromotionText, ...], locale: str) -> tuple[dict[str, tuple[str, str]], str]:
    """(body, subject) per channel for a contact's locale, as `plan` takes templates, and the
    locale to render them in: the contact's, or the text's own when it is another language's
    (an English text to an Arabic reader keeps English digits and no right-to-left mark)."""
    t = text_for(texts, locale)
    same = language(t.locale) == language(locale)
    return {"sms": (t.sms_body, ""), "email": (t.email_body, t.email_subject)}, locale if same else t.locale
