"""TransferCredit: one customer's available credit to another customer of the
same merchant (domain/transfers.py decides; adapters/transfers.py writes).

Runs alone, not in a write group: it is rare next to checkout traffic, and the
transfer row is written beside the group's one statement. Idempotent by
(merchant_id, "transfer", idempotency_key) like Authorize and Adjust: a replay
returns the stored transfer, or raises its stored refusal again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.errors import DomainError
from cashback_kit.money import Money
from cashback_services.wallet.adapters import transfers as repo
from cashback_services.wallet.adapters.repository import Want
from cashback_services.wallet.domain.transfers import Transfer, transfer
from cashback_services.wallet.service_layer.keyed_writes import keyed, run_keyed
from cashback_services.wallet.service_layer.write_path import WritePath

SCOPE = "transfer"


@dataclass(frozen=True)
class TransferCredit:
    merchant_id: str
    from_customer_id: str
    to_customer_id: str
    amount: Money
    idempotency_key: str
    note: str
    fingerprint: str


async def transfer_credit(svc: WritePath, cmd: TransferCredit) -> Transfer:
    return await run_keyed(lambda: _once(svc, cmd))


async def _once(svc: WritePath, cmd: TransferCredit) -> Transfer | DomainError:
    key = (cmd.merchant_id, SCOPE, cmd.idempotency_key)
    sender_key, receiver_key = (cmd.merchant_id, cmd.from_customer_id), (cmd.merchant_id, cmd.to_customer_id)
    want = Want(customers=(sender_key, receiver_key), spend=(cmd.amount.currency,), idem=(key,))
    async with repo.locked(svc.db, svc.clock(), want, key) as (state, tx, found):
        for customer in state.customers.values():
            customer.release_due_holds()
        sender, receiver = state.customers[sender_key], state.customers[receiver_key]
        known_only = key not in state.outcomes and await repo.require_known_receiver(tx, cmd.merchant_id)
        result = keyed(state, key, sender, cmd.fingerprint, cmd.idempotency_key,
                       lambda: transfer(sender, receiver, cmd.amount.currency, cmd.amount.minor, cmd.note,
                                        known_receiver_only=known_only),
                       lambda t: t.transfer_id, lambda transfer_id: found.stored[transfer_id])
        if isinstance(result, Transfer) and result.transfer_id not in found.stored:
            found.new = result
    svc.committed(state)
    return result


async def set_policy(svc: WritePath, merchant_id: str, require_known_receiver: bool) -> datetime:
    """The merchant's transfer policy; it applies to transfers from the next one on."""
    now = svc.clock()
    await repo.set_policy(svc.db, merchant_id, require_known_receiver, now)
    return now
