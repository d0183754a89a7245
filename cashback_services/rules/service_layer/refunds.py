"""ReverseOrder: take back cashback in proportion to what was refunded, and
give the budget and per-customer usage back.

Lock order matches ScoreOrder's (customer row, then the budgets of campaigns
that have one, by campaign_id; the order row locked first is one ScoreOrder
never waits for), so a refund and a new order of the same customer never
deadlock. The answer is the stored Reversal's bytes (what a replay returns)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cashback_kit.db import Database
from cashback_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo, history_repo
from cashback_services.rules.adapters.codec import POINTS, points_campaigns, reversal_bytes
from cashback_services.rules.domain.model import ReversalOut, ReversedAward
from cashback_services.rules.domain.tiers import reversal_delta


def _replay(row, order_id: str, fingerprint: str, refund_id: str) -> bytes:  # type: ignore[no-untyped-def]
    check_same(row.fingerprint if row.order_id == order_id else "", fingerprint, f"refund_id {refund_id!r}")
    return bytes(row.reversal_body)


class Refunds:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db, self.now = db, now

    async def reverse(self, merchant_id: str, order_id: str, refund_id: str, amount: Money,
                      fingerprint: str) -> bytes:
        async with self.db.read() as conn:
            found = await history_repo.find_refund(conn, merchant_id, refund_id)
        if found is not None:
            return _replay(found, order_id, fingerprint, refund_id)
        async with self.db.write() as conn:
            order = await history_repo.find_order(conn, merchant_id, order_id, lock=True)
            found = await history_repo.find_refund(conn, merchant_id, refund_id)
            if found is not None:
                return _replay(found, order_id, fingerprint, refund_id)
            if order is None:
                raise NotFound(f"order {order_id!r} was never scored", reason="ORDER_NOT_SCORED")
            if amount.currency != order.currency:
                raise InvalidArgument(f"the order is in {order.currency}, the refund in {amount.currency}",
                                      field="refunded_amount.currency_code")
            total = order.refunded_minor + amount.minor
            if total > order.merchandise_minor:
                left = Money(order.currency, order.merchandise_minor - order.refunded_minor)
                raise FailedPrecondition(f"refunds would exceed the order's amount: only {left} is left to refund",
                                         reason="REFUND_EXCEEDS_ORDER")
            full = total == order.merchandise_minor
            await history_repo.lock_customer(conn, merchant_id, order.customer_id, -1 if full else 0)
            rows = await history_repo.order_awards(conn, merchant_id, order_id)
            # Only a campaign with a budget keeps a counter to give back to.
            budgeted = await campaign_repo.lock_budgets(conn, merchant_id, [r.campaign_id for r in rows])
            taken_back: list[ReversedAward] = []
            taken = Money.zero(order.currency)
            points_taken = 0
            in_points = points_campaigns(order.score_body)  # those awards were points, counted as minor units
            reversed_: list[tuple[str, int]] = []
            usage: list[tuple[str, int, int, str | None]] = []
            for r in rows:
                delta = reversal_delta(r.amount_minor, r.reversed_minor, order.merchandise_minor, total)
                if delta <= 0:
                    continue
                # The award stops counting against "max awards" once it is taken back in full.
                released = 1 if r.reversed_minor + delta == r.amount_minor else 0
                reversed_.append((r.campaign_id, delta))
                usage.append((r.campaign_id, -delta, -released, r.local_day))
                whole = Money(order.currency, order.merchandise_minor)
                if r.campaign_id in in_points:
                    points_taken += delta
                    amount_back, said = Money(POINTS, delta), f"{delta} of the {r.amount_minor} points"
                else:
                    amount_back = Money(order.currency, delta)
                    taken = taken + amount_back
                    said = f"{amount_back} of the {Money(order.currency, r.amount_minor)}"
                taken_back.append(ReversedAward(r.campaign_id, r.campaign_version, amount_back,
                                                f"{amount} of {whole} refunded: {said} award taken back"))
            # Each kind of change in one statement for all the order's awards (one round trip each).
            await history_repo.add_reversed(conn, merchant_id, order_id, reversed_)
            await campaign_repo.add_budget_used(conn, merchant_id, [(c, -d) for c, d in reversed_ if c in budgeted])
            await history_repo.release_usage(conn, merchant_id, order.customer_id, usage)
            reversal = reversal_bytes(ReversalOut(order_id, refund_id, taken, tuple(taken_back), points_taken))
            await history_repo.add_refunded(conn, merchant_id, order_id, total, full)
            await history_repo.insert_refund(
                conn, merchant_id=merchant_id, refund_id=refund_id, order_id=order_id, fingerprint=fingerprint,
                amount_minor=amount.minor, reversal_body=reversal,
                created_at=self.now())
            return reversal
