"""The delivery state machine alone: full-jitter backoff, the retry budget, and
what each outcome does to a delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cashback_services.notify.domain.delivery_state import RetryPolicy, outcome_values
from cashback_services.notify.domain.outcomes import Outcome, SendResult

DUE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _row(attempts: int) -> dict:
    return {"attempts": attempts, "scheduled_for": DUE, "delivery_id": "dl_1"}


def test_backoff_is_full_jitter_uniform_from_zero_to_a_cap_that_doubles_up_to_ten_minutes():
    policy, rng = RetryPolicy(), random.Random(7)
    for attempts, cap in ((1, 2.0), (2, 4.0), (5, 32.0), (9, 512.0), (10, 600.0), (40, 600.0)):
        draws = [policy.backoff(attempts, rng) for _ in range(2000)]
        assert 0.0 <= min(draws) and max(draws) <= cap
        # Equal jitter would never go below cap/2; full jitter spends about half its draws there.
        assert 0.4 < sum(d < cap / 2 for d in draws) / len(draws) < 0.6


def test_a_retry_inside_the_budget_is_rescheduled_and_one_past_it_is_dead():
    policy = RetryPolicy(budget=timedelta(hours=24))
    retry = SendResult(Outcome.RETRY, error="kavenegar 503")
    early = outcome_values(_row(3), retry, DUE + timedelta(hours=1), policy, random.Random(1))
    late = outcome_values(_row(90), retry, DUE + timedelta(hours=24), policy, random.Random(1))
    assert early["status"] == "SCHEDULED" and DUE + timedelta(hours=1) <= early["next_attempt_at"]
    assert early["next_attempt_at"] <= DUE + timedelta(hours=1, seconds=8)
    assert late["status"] == "DEAD" and "gave up after 90 attempts" in late["error"] and "503" in late["error"]


def test_a_providers_retry_after_is_respected():
    values = outcome_values(_row(1), SendResult(Outcome.RETRY, retry_after=120.0), DUE, RetryPolicy())
    assert values["next_attempt_at"] == DUE + timedelta(seconds=120)


def test_sent_failed_suppressed_and_unknown_end_the_delivery():
    policy = RetryPolicy()
    sent = outcome_values(_row(1), SendResult(Outcome.SENT, provider_message_id="8792343"), DUE, policy)
    assert (sent["status"], sent["provider_message_id"], sent["sent_at"]) == ("SENT", "8792343", DUE)
    assert outcome_values(_row(1), SendResult(Outcome.FAILED), DUE, policy)["status"] == "FAILED"
    assert outcome_values(_row(1), SendResult(Outcome.SUPPRESS), DUE, policy)["status"] == "SUPPRESSED"
    unknown = outcome_values(_row(1), SendResult(Outcome.UNKNOWN, error="timeout"), DUE, policy)
    assert unknown["status"] == "DEAD" and "not resent" in unknown["error"] and "dl_1" in unknown["error"]
