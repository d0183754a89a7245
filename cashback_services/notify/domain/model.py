"""Plain rules of notify: contacts, quiet hours, which channels a message goes
to, and retry backoff. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cashback_kit.errors import Violations
from cashback_services.notify.domain.phones import PhoneError, to_e164

KINDS = ("credited", "available", "reminder", "expiry_warning")
CHANNELS = ("sms", "email")
DEFAULT_WARNING_DAYS = (7, 1)


@dataclass(frozen=True)
class Contact:
    merchant_id: str
    customer_id: str
    phone_e164: str
    email: str
    locale: str
    timezone: str
    sms_opt_in: bool
    email_opt_in: bool


@dataclass(frozen=True)
class Policy:
    merchant_id: str
    expiry_warning_days: tuple[int, ...] = DEFAULT_WARNING_DAYS
    quiet_hours_start: str = ""
    quiet_hours_end: str = ""
    notify_on_credit: bool = True
    notify_on_available: bool = True
    shop_name: str = ""  # opens every built-in SMS, so the customer knows who writes
    default_region: str = ""  # ISO 3166 country for numbers written without one (e.g. IR)
    hijri_dates: bool = False  # Arabic: the Umm al-Qura date beside the Gregorian one
    latin_digits: bool = False  # Persian and Arabic: 0-9 instead of native digits


@dataclass(frozen=True)
class Target:
    channel: str
    to: str
    suppressed: str = ""  # why it won't be sent, or "" to send


def zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def normalise_contact(c: Contact, default_region: str = "") -> Contact:
    """The contact as stored: the phone in E.164 (read in the region of the contact's
    locale or the merchant's default region), the email trimmed; bad fields refused."""
    v = Violations()
    phone = c.phone_e164.strip()
    if phone:
        try:
            phone = to_e164(phone, c.locale, default_region)
        except PhoneError as exc:
            v.add("contact.phone_e164", str(exc))
    email = c.email.strip()
    if email and ("@" not in email or " " in email or len(email) > 254 or "." not in email.rsplit("@", 1)[-1]):
        v.add("contact.email", "not a valid email address")
    v.check(bool(c.customer_id) and len(c.customer_id) <= 128, "contact.customer_id", "required, at most 128 chars")
    v.check(bool(c.merchant_id), "contact.merchant_id", "required")
    v.check(zone_ok(c.timezone or "UTC"), "contact.timezone", f"unknown time zone {c.timezone!r}")
    v.check(len(c.locale) <= 35, "contact.locale", "too long")
    v.raise_if_any("invalid contact")
    return Contact(c.merchant_id, c.customer_id, phone, email, c.locale or "en", c.timezone or "UTC",
                   c.sms_opt_in, c.email_opt_in)


def parse_hhmm(value: str, field: str, v: Violations) -> time | None:
    if not value:
        return None
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        v.add(field, "expected HH:MM (24-hour), e.g. 22:00")
        return None


def after_quiet_hours(now: datetime, zone: str, start: str, end: str) -> datetime:
    """`now`, or the end of the quiet window in the customer's zone when now is inside it."""
    v = Violations()
    qs, qe = parse_hhmm(start, "start", v), parse_hhmm(end, "end", v)
    if qs is None or qe is None or qs == qe:
        return now
    tz = ZoneInfo(zone if zone_ok(zone) else "UTC")
    local = now.astimezone(tz)
    t = local.time()
    inside = (qs <= t < qe) if qs < qe else (t >= qs or t < qe)
    if not inside:
        return now
    end_day = local.date() if (qs < qe or t < qe) else local.date() + timedelta(days=1)
    return datetime.combine(end_day, qe, tzinfo=tz).astimezone(now.tzinfo)


def targets(contact: Contact, opted_out_numbers: set[str], channels: tuple[str, ...] = CHANNELS) -> list[Target]:
    out: list[Target] = []
    if "sms" in channels and contact.phone_e164:
        reason = ("the customer opted out of SMS" if not contact.sms_opt_in else
                  "the number replied STOP" if contact.phone_e164 in opted_out_numbers else "")
        out.append(Target("sms", contact.phone_e164, reason))
    if "email" in channels and contact.email:
        out.append(Target("email", contact.email, "" if contact.email_opt_in else "the customer opted out of email"))
    return out
