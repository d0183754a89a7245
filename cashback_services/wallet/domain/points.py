"""Points, a second unit beside credit in the same ledger.

Points are lots, entries and balances like credit, in the unit POINTS
("PTS", never an ISO currency, so no request can name it as one). A
conversion is ONE ledger transaction with a leg in each unit, each balanced
through the customer's `merchant:conversion` account:

    credit -> points:  available(SAR) -a, conversion(SAR) +a,
                       conversion(PTS) -p, available(PTS) +p

Conversions are exact: the rate is `points` points per `per_minor` minor
units, and an amount converts only if it is a whole number of the rate's
steps, so nothing is rounded, and converting back gives back exactly what
was converted. The new lot takes the earliest expiry of the lots it came
from: converting never makes credit last longer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import gcd

from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.ledger import Account, EventType, TxType, check_balanced, take_from_lots
from cashback_services.wallet.domain.model import Entry, Transaction, new_id

POINTS = "PTS"


@dataclass(frozen=True)
class Rate:
    currency: str
    points: int
    per_minor: int

    def step(self, to_points: bool) -> int:
        """The smallest amount of the source unit that converts exactly."""
        g = gcd(self.points, self.per_minor)
        return self.per_minor // g if to_points else self.points // g

    def convert(self, amount: int, to_points: bool, field: str) -> int:
        step = self.step(to_points)
        if amount % step:
            unit = self.currency if to_points else POINTS
            raise InvalidArgument(f"{amount} {unit} is not a whole number of steps of {step} at this rate "
                                  f"({self.points} {POINTS} per {self.per_minor} {self.currency})", field=field,
                                  reason="NOT_A_WHOLE_STEP", metadata={"step": str(step)})
        out = amount * self.points // self.per_minor if to_points else amount * self.per_minor // self.points
        if out > MAX_MINOR:
            raise InvalidArgument(f"the conversion would give more than {MAX_MINOR}", field=field)
        return out


@dataclass(frozen=True)
class Conversion:
    transaction_id: str
    merchant_id: str
    customer_id: str
    to_points: bool
    rate: Rate
    credit: int
    points: int
    created_at: datetime


def convert(customer: Customer, rate: Rate, to_points: bool, amount: int, field: str) -> Conversion:
    """Convert `amount` of the customer's available credit (to_points) or
    points (not to_points). Refuses, changing nothing, an inexact amount or
    more than is available."""
    source, target = (rate.currency, POINTS) if to_points else (POINTS, rate.currency)
    got = rate.convert(amount, to_points, field)
    taken = take_from_lots(customer.spendable(source), amount)  # InsufficientCredit: nothing changed
    expiries = []
    for lot_id, part in taken:
        lot = customer.lots[lot_id]
        lot.debit(part)
        customer.lot_changed(lot)
        expiries.append(lot.expires_at)
    expires_at = min((e for e in expiries if e is not None), default=None)
    lot = customer.new_available_lot(target, "conversion", got, expires_at)

    legs = {source: {Account.AVAILABLE: -amount, Account.CONVERSION: amount},
            target: {Account.CONVERSION: -got, Account.AVAILABLE: got}}
    for unit, postings in legs.items():
        check_balanced(postings)
        customer.balance(unit).post(postings)
        customer.changed_balances.add(unit)
    entries = tuple(Entry(acc.value, unit, amt) for unit, postings in legs.items() for acc, amt in postings.items())
    tx = Transaction(new_id("tx"), TxType.CONVERSION.value, source, -amount, entries, customer.now,
                     reason=f"{rate.points} {POINTS} per {rate.per_minor} {rate.currency}")
    customer.transactions.append(tx)
    customer.emit(EventType.CONVERTED, source, amount, transaction_id=tx.transaction_id, lot_id=lot.lot_id,
                  expires_at=expires_at)
    credit, points = (amount, got) if to_points else (got, amount)
    return Conversion(tx.transaction_id, customer.merchant_id, customer.customer_id, to_points, rate, credit, points,
                      customer.now)
