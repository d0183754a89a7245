"""Event -> deliveries as plain functions: what a wallet event means to notify,
and which deliveries one message to one customer becomes, given the contact,
policy, templates and opt-outs. No I/O: the stream follower loads these inputs,
calls `plan`, and inserts the result in the inbox's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cashback.wallet.v1 import wallet_pb2

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_kit.pb import ts_from_pb
from cashback_services.notify.domain import CHANNELS, Contact, Policy, after_quiet_hours, targets
from cashback_services.notify.rendering import MessageContext, render

E = wallet_pb2.WalletEventType
ContextFor = Callable[[str, str], MessageContext]  # (locale, zone) -> context


@dataclass(frozen=True)
class Message:
    """One message to one customer, before it meets the customer's contact."""
    merchant_id: str
    customer_id: str
    kind: str
    key_base: str  # the event, lot or campaign run this message is once per
    context: ContextFor


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


def for_customer(**fields: object) -> ContextFor:
    """A message context completed with the customer's locale and zone once the contact is known."""
    return lambda locale, zone: MessageContext(locale=locale, timezone=zone, **fields)  # type: ignore[arg-type]


def ts(value) -> datetime | None:
    return ts_from_pb(value, "ts") if value.seconds or value.nanos else None


def message_for_event(event: wallet_pb2.WalletEvent, policy: Policy) -> Message | None:
    """What a wallet event means to the customer, or None (other types, or the merchant turned it off)."""
    if event.type not in (E.WALLET_EVENT_TYPE_CREDITED, E.WALLET_EVENT_TYPE_AVAILABLE):
        return None
    credited = event.type == E.WALLET_EVENT_TYPE_CREDITED
    if (credited and not policy.notify_on_credit) or (not credited and not policy.notify_on_available):
        return None
    amount = Money(event.amount.currency_code, event.amount.amount_minor)
    kind = "credited" if credited else "available"
    # "Credit added" is once per event; "now available" once per lot.
    key = f"event:{event.event_id}" if credited else f"lot:{event.lot_id or event.event_id}"
    context = for_customer(kind=kind, amount=amount, available_at=ts(event.available_at),
                           expires_at=ts(event.expires_at), customer_id=event.customer_id,
                           merchant_id=event.merchant_id)
    return Message(event.merchant_id, event.customer_id, kind, key, context)


def plan(message: Message, contact: Contact | None, policy: Policy, templates: Mapping[str, tuple[str, str]],
         opted_out: set[str], now: datetime, channels: tuple[str, ...] = CHANNELS) -> list[PlannedDelivery]:
    """The deliveries of one message: one per reachable channel, SUPPRESSED where
    the customer opted out, moved past quiet hours. `templates` maps a channel to
    the merchant's (body, subject) for the contact's locale; none -> built-in."""
    if contact is None:
        return []  # no contact, nothing to send
    out = []
    for target in targets(contact, opted_out, channels):
        ctx = message.context(contact.locale, contact.timezone)
        custom = templates.get(target.channel)
        try:
            rendered = render(target.channel, ctx, *(custom or (None, None)))
        except InvalidArgument:
            # A stored template was test-rendered by SetTemplate; if real values still break it
            # (e.g. a longer amount past 2 segments), the built-in text goes out rather than nothing.
            rendered = render(target.channel, ctx)
        out.append(PlannedDelivery(
            dedupe_key=f"{message.key_base}:{message.kind}:{target.channel}:{message.customer_id}",
            channel=target.channel, to=target.to, status="SUPPRESSED" if target.suppressed else "SCHEDULED",
            error=target.suppressed, subject=rendered.subject, body=rendered.body, encoding=rendered.encoding,
            segments=rendered.segments,
            scheduled_for=after_quiet_hours(now, contact.timezone, policy.quiet_hours_start,
                                            policy.quiet_hours_end)))
    return out
