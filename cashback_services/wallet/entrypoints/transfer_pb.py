"""TransferCredit's messages: shape checks in, the Transfer out."""

from __future__ import annotations

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2 as pb

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_kit.pb import fingerprint, require_id, ts_to_pb
from cashback_services.wallet.domain.transfers import Transfer
from cashback_services.wallet.service_layer.transfers import TransferCredit

MAX_NOTE = 500


def transfer_command(request: pb.TransferCreditRequest, amount: Money) -> TransferCredit:
    for name in ("merchant_id", "from_customer_id", "to_customer_id", "idempotency_key"):
        require_id(getattr(request, name), name)
    if len(request.note) > MAX_NOTE:
        raise InvalidArgument(f"note is longer than {MAX_NOTE} characters", field="note")
    return TransferCredit(request.merchant_id, request.from_customer_id, request.to_customer_id, amount,
                          request.idempotency_key, request.note, fingerprint(request))


def transfer_to_pb(t: Transfer) -> pb.Transfer:
    def m(minor: int) -> common_pb2.Money:
        return common_pb2.Money(currency_code=t.currency, amount_minor=minor)

    parts = []
    for p in t.parts:
        part = pb.TransferPart(amount=m(p.amount))
        expires = ts_to_pb(p.expires_at)
        if expires is not None:
            part.expires_at.CopyFrom(expires)
        parts.append(part)
    return pb.Transfer(
        transfer_id=t.transfer_id, merchant_id=t.merchant_id, from_customer_id=t.from_customer_id,
        to_customer_id=t.to_customer_id, amount=m(t.amount), note=t.note, parts=parts,
        debit_transaction_id=t.debit_transaction_id, credit_transaction_id=t.credit_transaction_id,
        created_at=ts_to_pb(t.created_at))
