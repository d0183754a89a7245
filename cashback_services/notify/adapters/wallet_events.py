"""The wallet's protobuf events, mapped to notify's domain events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cashback.wallet.v1 import wallet_pb2

from cashback_kit.money import Money
from cashback_kit.pb import ts_from_pb
from cashback_services.notify.domain.events import CreditEvent, StreamedEvent

E = wallet_pb2.WalletEventType
_KINDS = {E.WALLET_EVENT_TYPE_CREDITED: "credited", E.WALLET_EVENT_TYPE_AVAILABLE: "available",
          E.WALLET_EVENT_TYPE_TRANSFERRED_OUT: "transferred_out", E.WALLET_EVENT_TYPE_TRANSFERRED_IN: "transferred_in",
          E.WALLET_EVENT_TYPE_CONVERTED: "converted", E.WALLET_EVENT_TYPE_REWARD_REDEEMED: "reward_redeemed"}


def ts(value: Any) -> datetime | None:
    return ts_from_pb(value, "ts") if value.seconds or value.nanos else None


def credit_event(event: wallet_pb2.WalletEvent) -> CreditEvent | None:
    """The credit event a wallet event is, or None for the types notify does not message.
    The events of transfers, conversions and rewards carry no order: each is one message."""
    kind = _KINDS.get(event.type)
    if kind is None:
        return None
    return CreditEvent(
        event_id=event.event_id, kind=kind, merchant_id=event.merchant_id, customer_id=event.customer_id,
        amount=Money(event.amount.currency_code, event.amount.amount_minor), order_id=event.order_id,
        lot_id=event.lot_id, available_at=ts(event.available_at), expires_at=ts(event.expires_at),
        occurred_at=ts(event.occurred_at))


def streamed_event(event: wallet_pb2.WalletEvent) -> StreamedEvent:
    return StreamedEvent(event.event_id, event.cursor, event.merchant_id, event.customer_id, credit_event(event))
