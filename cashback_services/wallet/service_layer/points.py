"""Points: the merchant's rate (SetPointsRate) and conversions between credit
and points (ConvertCredit; domain/points.py decides, adapters/points.py
stores). A conversion is idempotent by (merchant_id, "convert", key) like the
other keyed writes: a replay returns the stored conversion, or its refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.errors import CurrencyMismatch, DomainError, FailedPrecondition, InvalidArgument
from cashback_services.wallet.adapters import points as repo
from cashback_services.wallet.adapters.repository import Want
from cashback_services.wallet.domain.points import POINTS, Conversion, Rate, convert
from cashback_services.wallet.service_layer.keyed_writes import keyed, run_keyed
from cashback_services.wallet.service_layer.write_path import WritePath

SCOPE = "convert"
MAX_RATE_POINTS = 1_000_000


@dataclass(frozen=True)
class ConvertCredit:
    merchant_id: str
    customer_id: str
    to_points: bool
    currency: str | None  # the credit's currency (to points); None when converting points
    amount: int  # in the unit converted from
    idempotency_key: str
    fingerprint: str


async def set_rate(svc: WritePath, merchant_id: str, new: Rate) -> datetime:
    if not 0 < new.points <= MAX_RATE_POINTS:
        raise InvalidArgument(f"points must be between 1 and {MAX_RATE_POINTS}", field="points")
    now = svc.clock()
    await repo.set_rate(svc.db, merchant_id, new, now)
    return now


async def convert_credit(svc: WritePath, cmd: ConvertCredit) -> Conversion:
    return await run_keyed(lambda: _once(svc, cmd))


async def _once(svc: WritePath, cmd: ConvertCredit) -> Conversion | DomainError:
    key = (cmd.merchant_id, SCOPE, cmd.idempotency_key)
    me = (cmd.merchant_id, cmd.customer_id)
    field = "credit.amount_minor" if cmd.to_points else "points"
    async with repo.locked(svc.db, svc.clock(), Want(customers=(me,), spend=(cmd.currency or POINTS,), idem=(key,)),
                           key) as (state, tx, found):
        customer = state.customers[me]
        customer.release_due_holds()
        current = await repo.rate(tx, cmd.merchant_id)
        if current is None and key not in state.outcomes:
            raise FailedPrecondition(f"merchant {cmd.merchant_id!r} has no points rate", reason="NO_POINTS_RATE")

        def fresh() -> Conversion:
            assert current is not None
            rate = current[0]
            if cmd.currency is not None and cmd.currency != rate.currency:
                raise CurrencyMismatch(f"credit is in {cmd.currency} but points convert from {rate.currency}",
                                       field="credit.currency_code")
            return convert(customer, rate, cmd.to_points, cmd.amount, field)

        result = keyed(state, key, customer, cmd.fingerprint, cmd.idempotency_key, fresh,
                       lambda c: c.transaction_id, lambda tx_id: found.stored[tx_id])
        if isinstance(result, Conversion) and result.transaction_id not in found.stored:
            found.new = result
    svc.committed(state)
    return result
