"""The checks of a CreatePromotion request, each problem with its field's path:
audience, channels, a text per language for each channel, and every text
test-rendered (sandboxed, in the render workers) within the SMS segment budget."""

from __future__ import annotations

from datetime import datetime, timedelta

from cashback_kit.errors import Violations
from cashback_kit.validation import MAX_NAME_CHARS, check_id, check_text
from cashback_services.notify.domain.model import CHANNELS
from cashback_services.notify.domain.planning import IRAN_OPT_OUT
from cashback_services.notify.domain.promotions import (
    KIND,
    LANGUAGES,
    SEGMENT_NAMES,
    PromotionDraft,
    PromotionText,
)
from cashback_services.notify.domain.rendering import RenderJob, language, sample_contexts

TEXT_MAX = 4000
MAX_FILTER_VALUES = 100
MAX_INACTIVE_DAYS = 36_500
LATEST_SEND = timedelta(days=366)


def check_draft(d: PromotionDraft, now: datetime) -> None:
    """Every field of a CreatePromotion request, each problem with its path."""
    v = Violations()
    check_id(v, "promotion_id", d.promotion_id, required=False)
    v.check(bool(d.name.strip()), "name", "required")
    check_text(v, "name", d.name, max_chars=MAX_NAME_CHARS)
    a = d.audience
    v.check(len(a.segments) <= MAX_FILTER_VALUES, "audience.segments", f"at most {MAX_FILTER_VALUES}")
    for i, s in enumerate(a.segments):
        v.check(
            s in SEGMENT_NAMES,
            f"audience.segments[{i}]",
            f"unknown segment {s[:64]!r}; one of {', '.join(SEGMENT_NAMES)}",
        )
    v.check(len(a.tiers) <= MAX_FILTER_VALUES, "audience.tiers", f"at most {MAX_FILTER_VALUES}")
    for i, tier in enumerate(a.tiers):
        v.check(bool(tier.strip()), f"audience.tiers[{i}]", "a tier name, not empty")
        check_text(v, f"audience.tiers[{i}]", tier, max_chars=128)
    v.check(0 <= a.inactive_days <= MAX_INACTIVE_DAYS, "audience.inactive_days", f"0 (any) to {MAX_INACTIVE_DAYS} days")
    v.check(bool(d.channels), "channels", "at least one of SMS, EMAIL")
    v.check(1 <= len(d.texts) <= len(LANGUAGES), "texts", "one text per language: fa, ar, en")
    seen: set[str] = set()
    for i, t in enumerate(d.texts):
        _check_text(v, f"texts[{i}]", t, d.channels, seen)
    if d.send_at is not None:
        v.check(d.send_at <= now + LATEST_SEND, "send_at", "at most a year ahead")
    v.raise_if_any("invalid promotion")


def _check_text(v: Violations, path: str, t: PromotionText, channels: tuple[str, ...], seen: set[str]) -> None:
    lang = t.locale.replace("_", "-").split("-")[0].lower()
    v.check(lang in LANGUAGES, f"{path}.locale", "fa, ar or en (a region may follow: fa-IR)")
    v.check(lang not in seen, f"{path}.locale", f"a second text for {lang!r}")
    seen.add(lang)
    check_text(v, f"{path}.locale", t.locale, max_chars=35)
    needed = {"sms": ("sms_body",), "email": ("email_subject", "email_body")}
    for channel in CHANNELS:
        for name in needed[channel]:
            value = getattr(t, name)
            if channel in channels:
                v.check(bool(value.strip()), f"{path}.{name}", f"required: the promotion goes by {channel}")
            check_text(
                v,
                f"{path}.{name}",
                value,
                max_chars=300 if name == "email_subject" else TEXT_MAX,
                multiline=name != "email_subject",
            )


def check_jobs(d: PromotionDraft) -> list[tuple[str, RenderJob]]:
    """The renders Create does before it stores a promotion, with the field each one checks:
    every text with every sample shape of values, a Persian SMS with «لغو۱۱» in its segment
    budget (its customers are Iranian numbers, and a +98 number always gets the line)."""
    jobs: list[tuple[str, RenderJob]] = []
    for i, t in enumerate(d.texts):
        for ctx in sample_contexts(KIND, t.locale):
            if "sms" in d.channels and t.sms_body.strip():
                end = IRAN_OPT_OUT if language(t.locale) == "fa" else ""
                jobs.append((f"texts[{i}].sms_body", RenderJob("sms", ctx, t.sms_body, "", end)))
            if "email" in d.channels and t.email_body.strip():
                jobs.append((f"texts[{i}].email_body", RenderJob("email", ctx, t.email_body, t.email_subject)))
    return jobs
