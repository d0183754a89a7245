"""Credit events -> messages -> deliveries, as plain functions: which message a
customer gets for an order's credit, and which deliveries one message becomes
given the contact, policy, templates and opt-outs. No I/O: the service layer
loads these inputs, calls `plan`, and stores the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.notify.domain.events import CreditEvent
from cashback_services.notify.domain.model import CHANNELS, Contact, Policy, after_quiet_hours, targets
from cashback_services.notify.domain.phones import calling_code
from cashback_services.notify.domain.rendering import MessageContext, Rendered, RenderJob, render

# Iranian advertising lines must close a promotional SMS with the opt-out keyword.
IRAN_OPT_OUT = "لغو۱۱"
PROMOTIONAL = ("reminder", "promotion")


@dataclass(frozen=True)
class Message:
    """One message to one customer, before it meets the customer's contact."""
    merchant_id: str
    customer_id: str
    kind: str
    key_base: str  # the order, event, lot set or campaign run this message is once per
    context: Mapping[str, Any] = field(default_factory=dict)  # MessageContext fields but locale and zone


@dataclass(frozen=True)
class PlannedDelivery:
    dedupe_key: str
    channel: str
    to: str
    status: str  # SCHEDULED | SUPPRESSED
    error: str
    subject: str
    body: str
    encoding: str
    segments: int
    scheduled_for: datetime


def for_customer(**fields: Any) -> dict[str, Any]:
    """A message's values; the contact's locale and zone and the merchant's style join them in `plan`."""
    return dict(fields)


def wanted(kind: str, policy: Policy) -> bool:
    return policy.notify_on_credit if kind == "credited" else policy.notify_on_available


def message_for_credits(credits: Sequence[CreditEvent]) -> Message | None:
    """One message for all the credit of one order (or one credit without an order) of
    one kind: the amounts added up; usable from the latest date among them; "now"
    when every part was usable the moment it was credited."""
    if not credits:
        return None
    first = credits[0]
    currency = first.amount.currency
    same = [c for c in credits if c.amount.currency == currency]
    total = Money(currency, sum(c.amount.minor for c in same))
    availables = [c.available_at for c in same if c.available_at is not None]
    expiries = [c.expires_at for c in same if c.expires_at is not None]
    fields = for_customer(kind=first.kind, amount=total, available_at=max(availables, default=None),
                          expires_at=min(expiries, default=None), customer_id=first.customer_id,
                          merchant_id=first.merchant_id,
                          available_now=first.kind == "credited" and all(c.usable_at_once() for c in same))
    return Message(first.merchant_id, first.customer_id, first.kind, first.group, fields)


def context_for(message: Message, contact: Contact, policy: Policy, now: datetime) -> MessageContext:
    fields = {"kind": message.kind, "now": now, **message.context}
    return MessageContext(locale=contact.locale, timezone=contact.timezone, shop=policy.shop_name,
                          latin_digits=policy.latin_digits, hijri_beside=policy.hijri_dates, **fields)


def render_jobs(message: Message, contact: Contact | None, policy: Policy,
                templates: Mapping[str, tuple[str, str]], opted_out: set[str], now: datetime,
                channels: tuple[str, ...] = CHANNELS) -> dict[str, RenderJob]:
    """What `plan` will need rendered: per reachable channel, the merchant's template
    (or the built-in one) with the message's values. The service layer renders these
    in the render workers and hands the results to `plan`."""
    if contact is None:
        return {}
    ctx = context_for(message, contact, policy, now)
    jobs = {}
    for target in targets(contact, opted_out, channels):
        footer = IRAN_OPT_OUT if (target.channel == "sms" and message.kind in PROMOTIONAL
                                  and calling_code(target.to) == "98") else ""
        body, subject = templates.get(target.channel) or (None, None)
        jobs[target.channel] = RenderJob(target.channel, ctx, body, subject, footer)
    return jobs


def _render_here(job: RenderJob) -> Rendered | str:
    try:
        return render(job.channel, job.ctx, job.body, job.subject, footer=job.footer)
    except InvalidArgument as exc:
        return exc.message


def plan(message: Message, contact: Contact | None, policy: Policy, templates: Mapping[str, tuple[str, str]],
         opted_out: set[str], now: datetime, channels: tuple[str, ...] = CHANNELS,
         not_before: datetime | None = None,
         rendered: Mapping[str, Rendered | str] | None = None) -> list[PlannedDelivery]:
    """The deliveries of one message: one per reachable channel, SUPPRESSED where
    the customer opted out, moved past quiet hours (and past `not_before`). `templates`
    maps a channel to the merchant's (body, subject) for the contact's locale; none -> built-in.
    `rendered` is each channel's render (or the reason it failed), from `render_jobs`;
    without it, renders here. A failed render fails that delivery alone (FAILED, with the
    reason), so one merchant's broken template never holds up anyone else's messages."""
    if contact is None:
        return []  # no contact, nothing to send
    jobs = render_jobs(message, contact, policy, templates, opted_out, now, channels)
    start = max(now, not_before or now)
    out = []
    for target in targets(contact, opted_out, channels):
        result = (rendered or {}).get(target.channel) if rendered is not None else _render_here(jobs[target.channel])
        if result is None:
            result = "not rendered"
        status, error = ("SUPPRESSED", target.suppressed) if target.suppressed else ("SCHEDULED", "")
        if isinstance(result, str):
            if not target.suppressed:
                status, error = "FAILED", f"template: {result}"[:500]
            result = Rendered("", "", "", 0)
        out.append(PlannedDelivery(
            dedupe_key=f"{message.merchant_id}:{message.key_base}:{message.kind}:{target.channel}:{message.customer_id}",
            channel=target.channel, to=target.to, status=status, error=error, subject=result.subject,
            body=result.body, encoding=result.encoding, segments=result.segments,
            scheduled_for=after_quiet_hours(start, contact.timezone, policy.quiet_hours_start,
                                            policy.quiet_hours_end)))
    return out
