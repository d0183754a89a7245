"""The delivery state machine, as a pure function of a send's result:

SCHEDULED → SENDING → SENT | FAILED | SUPPRESSED | SCHEDULED (retry) | DEAD

A send that may be tried again is retried with full-jitter exponential backoff
(a delay drawn uniformly from [0, cap], the cap doubling per attempt up to
`max_backoff`) until `retry_budget` has passed since the delivery was due; then
it is DEAD. DEAD and FAILED deliveries go back to SCHEDULED only by an operator's
RequeueDeliveries."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cashback_services.notify.domain.outcomes import Outcome, SendResult

SPENT = "the credit was already spent"
OPTED_OUT = "the customer opted out before it was sent"


@dataclass(frozen=True)
class RetryPolicy:
    budget: timedelta = timedelta(hours=24)
    base: float = 2.0  # seconds: the first retry's cap
    max_backoff: float = 600.0  # seconds: the cap stops growing here

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(max_backoff, base * 2^(attempts-1))]."""
        cap = min(self.max_backoff, self.base * 2.0 ** max(0, min(attempts - 1, 30)))
        return (rng or random).uniform(0.0, cap)


def outcome_values(row: dict[str, Any], result: SendResult, now: datetime, policy: RetryPolicy,
                   rng: random.Random | None = None) -> dict[str, Any]:
    """The columns a send's result sets on its delivery (`row` has attempts, scheduled_for, delivery_id)."""
    values: dict[str, Any] = {"lease_until": None, "error": result.error}
    if result.outcome is Outcome.SENT:
        values.update(status="SENT", sent_at=now, provider_message_id=result.provider_message_id)
    elif result.outcome is Outcome.RETRY:
        delay = max(policy.backoff(row["attempts"], rng), result.retry_after or 0.0)
        next_at = now + timedelta(seconds=delay)
        if next_at - row["scheduled_for"] <= policy.budget:
            values.update(status="SCHEDULED", next_attempt_at=next_at)
        else:
            values.update(status="DEAD", error=f"gave up after {row['attempts']} attempts over "
                                               f"{policy.budget}: {result.error}")
    elif result.outcome is Outcome.SUPPRESS:
        values.update(status="SUPPRESSED")
    elif result.outcome is Outcome.UNKNOWN:
        values.update(status="DEAD", error=f"{result.error}; not resent, to avoid a duplicate: check the "
                                           f"provider for {row['delivery_id']}")
    else:
        values.update(status="FAILED")
    return values
