"""Transfers of credit between two customers of one merchant.

A transfer is two ledger transactions, one per customer, linked through the
`transfer:in_flight` clearing account (TigerBeetle's linked transfers): the
sender's TRANSFER_OUT moves available credit into in-flight, the receiver's
TRANSFER_IN moves it out of in-flight into available credit. Each leg is
balanced on its own and touches one customer, so the ledger stays partitioned
by customer; together the legs net the in-flight account to zero (the auditor
checks it per transfer). Both legs are decided here, on the two aggregates
loaded under their locks, and written in one database transaction.

Only available credit moves, earliest expiry first (the spend order); the
receiver gets one new lot per expiry date it took, so transferred credit
expires when it would have expired in the sender's wallet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.errors import FailedPrecondition, InvalidArgument
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.ledger import Account, EventType, TxType, take_from_lots
from cashback_services.wallet.domain.model import new_id
from cashback_services.wallet.domain.points import POINTS


@dataclass(frozen=True)
class TransferPart:
    amount: int
    expires_at: datetime | None


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    merchant_id: str
    from_customer_id: str
    to_customer_id: str
    currency: str
    amount: int
    note: str
    parts: tuple[TransferPart, ...]
    debit_transaction_id: str
    credit_transaction_id: str
    created_at: datetime


def _check_currency(customer: Customer, currency: str, field: str) -> None:
    """A wallet that holds credit only in other currencies cannot send or take this one."""
    others = sorted(cur for cur in customer.balances if cur not in (currency, POINTS))
    if others and currency not in customer.balances:
        raise FailedPrecondition(f"{field}'s credit is in {others[0]}, not {currency}", reason="CURRENCY_MISMATCH",
                                 metadata={"field": field, "currency": others[0]})


def transfer(sender: Customer, receiver: Customer, currency: str, amount: int, note: str, *,
             known_receiver_only: bool = False) -> Transfer:
    """Move `amount` of the sender's available credit to the receiver. Refuses
    (changing nothing) a transfer to oneself, to a customer with no wallet
    history when the merchant takes known receivers only, between wallets of
    different currencies, or of more than the sender's available credit."""
    if sender.key == receiver.key:
        raise InvalidArgument("a customer cannot transfer credit to themselves", field="to_customer_id",
                              reason="SELF_TRANSFER")
    if known_receiver_only and not receiver.balances:
        # No balance row in any unit: the wallet never held anything for this customer here.
        raise FailedPrecondition("to_customer_id has no wallet history at this merchant, which takes transfers "
                                 "to known customers only", reason="UNKNOWN_RECEIVER",
                                 metadata={"field": "to_customer_id"})
    _check_currency(sender, currency, "from_customer_id")
    _check_currency(receiver, currency, "to_customer_id")
    taken = take_from_lots(sender.spendable(currency), amount)  # InsufficientCredit: nothing changed

    by_expiry: dict[datetime | None, int] = {}  # in spend order: earliest expiry first
    for lot_id, part in taken:
        lot = sender.lots[lot_id]
        lot.debit(part)
        sender.lot_changed(lot)
        by_expiry[lot.expires_at] = by_expiry.get(lot.expires_at, 0) + part
    parts = tuple(TransferPart(part, expires_at) for expires_at, part in by_expiry.items())

    transfer_id = new_id("tr")
    ref = f"transfer {transfer_id}"  # the note is the customers' text: it stays in the transfer row
    debit = sender.post(TxType.TRANSFER_OUT, currency, {Account.AVAILABLE: -amount, Account.IN_FLIGHT: amount},
                        reason=ref)
    sender.emit(EventType.TRANSFERRED_OUT, currency, amount, transaction_id=debit)
    for p in parts:
        receiver.new_available_lot(currency, "transfer", p.amount, p.expires_at)
    credit = receiver.post(TxType.TRANSFER_IN, currency, {Account.IN_FLIGHT: -amount, Account.AVAILABLE: amount},
                           reason=ref)
    receiver.emit(EventType.TRANSFERRED_IN, currency, amount, transaction_id=credit, expires_at=parts[0].expires_at)
    return Transfer(transfer_id, sender.merchant_id, sender.customer_id, receiver.customer_id, currency, amount,
                    note, parts, debit, credit, sender.now)
