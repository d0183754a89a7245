"""Keyed writes: `keyed` runs a write once per idempotency key inside the aggregate's
transaction (holds, adjustments, transfers, conversions); `run_keyed` runs a write that
keeps its own record (a transfer, a conversion) and retries a same-key race once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from cashback_kit.errors import Aborted, DomainError, FailedPrecondition
from cashback_kit.idempotency import Outcome, StoredFailure, replay
from cashback_services.wallet.adapters.repository import IdemKey, State
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.model import Transaction

T = TypeVar("T")


async def run_keyed(once: Callable[[], Awaitable[T | DomainError]]) -> T:
    """Run `once`; if another request committed the same idempotency key at the
    same moment (Aborted), run it again, when it is that key's replay. A
    refusal `once` returns (committed with its key's record) is raised here."""
    for attempt in range(2):
        try:
            result = await once()
        except Aborted:
            if attempt:
                raise
            continue
        if isinstance(result, DomainError):
            raise result
        return result
    raise AssertionError("unreachable")


def keyed(state: State, key: IdemKey, customer: Customer, fingerprint: str, idem_key: str,
          fresh: Callable[[], T], result_id: Callable[[T], str], stored: Callable[[str], T],
          remember: dict[str, Transaction] | None = None) -> T | FailedPrecondition:
    """Run `fresh` once per idempotency key: a replay gets the stored result (or
    its refusal again); a refusal for want of credit is stored too, and
    returned, so the caller's transaction commits the record before raising it."""
    what = f"idempotency_key {idem_key!r}"
    prior = replay(state.outcomes.get(key), fingerprint, what)
    if prior is not None:
        return stored(prior)
    try:
        value = fresh()
    except StoredFailure:
        raise
    except FailedPrecondition as exc:
        outcome = Outcome.failed(fingerprint, exc)
        state.outcomes[key] = outcome
        state.new_outcomes[key] = (customer.customer_id, outcome)
        return exc
    outcome = Outcome(fingerprint, result_id(value))
    state.outcomes[key] = outcome  # a second use in the same group is a replay
    state.new_outcomes[key] = (customer.customer_id, outcome)
    if remember is not None and isinstance(value, Transaction):
        remember[value.transaction_id] = value
    return value
