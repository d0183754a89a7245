"""SimulateCampaign: replay recorded orders placed in [from, to) against a
draft campaign, in placed_at order, with the draft's budget and per-customer
limits applied as the replay goes. Reads only; the draft is never stored.

Approximations, stated: a customer's prior-order count and tier spend are
rebuilt from the recorded orders (orders refunded in full since then do not
count, as today); the manual tier and the RFM segment are today's.

Bounded and off the event loop (issue 15, point 2): at most
`limits.simulation_max_orders` recorded orders are read (a wider window is
INVALID_ARGUMENT, reason SIMULATION_TOO_LARGE, never a silently cut answer), the
replay runs in a worker thread within `limits.simulation_seconds`, and
HeavyWork caps how many run at once per merchant and in the process."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo, history_repo
from cashback_services.rules.adapters.codec import order_from_body
from cashback_services.rules.domain.evaluate import local_day, qualify, settle
from cashback_services.rules.domain.model import Profile, Rule, SimulationOut, Usage
from cashback_services.rules.domain.tiers import TierPolicy, effective_tier
from cashback_services.rules.limits import RulesLimits
from cashback_services.rules.service_layer.cache import policy_from_json
from cashback_services.rules.service_layer.heavy import CHECK_EVERY, HeavyWork, past

WHAT = "SimulateCampaign"


class Simulator:
    def __init__(self, db: Database, limits: RulesLimits | None = None) -> None:
        self.db, self.limits = db, limits or RulesLimits()
        self.heavy = HeavyWork(self.limits.simulations_per_merchant, self.limits.simulations,
                               self.limits.simulation_seconds)

    async def simulate(self, m: str, rule: Rule, start: datetime, end: datetime) -> SimulationOut:
        """Merchant `m`'s recorded orders against the draft `rule`."""
        cap = self.limits.simulation_max_orders
        async with self.heavy.slot(m, WHAT):
            # A transaction, not db.read()'s autocommit: the orders come from a server-side cursor.
            async with self.db.engine.connect() as conn, conn.begin():
                policy = policy_from_json(await campaign_repo.tier_policy_json(conn, m))
                since = min(policy.since(start), default=start)
                rows = await history_repo.orders_between(conn, m, since, end, limit=cap + 1)
                if len(rows) > cap:
                    raise InvalidArgument(f"more than {cap} recorded orders fall in this window (with the tier "
                                          "policy's look-back); simulate a shorter one", field="from",
                                          reason="SIMULATION_TOO_LARGE")
                prior = await history_repo.prior_counts(conn, m, start)
                manual = await history_repo.manual_tiers(conn, m)
                segments = await _segments(conn, m, rule, rows, start)
            return await self.heavy.off_loop(_replay, rule, policy, rows, (prior, manual, segments), start)


async def _segments(conn: AsyncConnection, m: str, rule: Rule, rows: list[Any], start: datetime) -> dict[str, str]:
    """The segment (as last computed, as scoring reads it) of each customer the
    replay meets, when the draft is limited to segments."""
    if not rule.customer_segments:
        return {}
    replayed = sorted({r.customer_id for r in rows if r.placed_at >= start})
    return await history_repo.segments_of(conn, m, replayed, sorted(rule.customer_segments))


def _replay(rule: Rule, policy: TierPolicy, rows: list[Any],
            customers_now: tuple[dict[str, int], dict[str, str], dict[str, str]],
            start: datetime, deadline: float) -> SimulationOut:
    """The replay itself: plain CPU work, run in a worker thread. `customers_now`:
    prior order counts at `start`, today's manual tiers and segments."""
    prior, manual, segments = customers_now
    spend_log: dict[str, list[tuple[datetime, int]]] = defaultdict(list)  # customer -> (placed_at, net)
    budget_used = 0
    per_customer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    considered = matched = 0
    customers: set[str] = set()
    total = gmv = matched_gmv = 0
    for i, r in enumerate(rows):
        if i % CHECK_EVERY == 0:
            past(deadline, WHAT)
        net = r.merchandise_minor - r.refunded_minor
        if r.placed_at < start:
            spend_log[r.customer_id].append((r.placed_at, net))
            continue
        if r.currency != rule.currency:
            continue
        placed = r.placed_at
        order = order_from_body(bytes(r.order_body), placed)
        considered += 1
        gmv += r.merchandise_minor
        spends = {w: sum(n for t, n in spend_log[r.customer_id] if t >= policy.window_start(w, placed))
                  for w in policy.windows}
        profile = Profile(effective_tier(manual.get(r.customer_id, ""), policy, spends),
                          prior.get(r.customer_id, 0), segments.get(r.customer_id, ""))
        candidates, _ = qualify(order, [rule], profile)
        day = local_day(rule, placed)
        used = per_customer[r.customer_id]
        usage = {rule.campaign_id: Usage(budget_used, used[0], used[1], per_day[(r.customer_id, day)])}
        out = settle(candidates, usage, placed, order.currency)
        for award in out.awards:
            budget_used += award.amount.minor
            used[0] += award.amount.minor
            used[1] += 1
            per_day[(r.customer_id, day)] += 1
            total += award.amount.minor
        if out.awards:
            matched += 1
            matched_gmv += r.merchandise_minor
            customers.add(r.customer_id)
        spend_log[r.customer_id].append((r.placed_at, net))
        if not r.fully_refunded:
            prior[r.customer_id] = prior.get(r.customer_id, 0) + 1
    cur = rule.currency
    return SimulationOut(orders_considered=considered, orders_matched=matched, customers=len(customers),
                         total_cashback=Money(cur, total), gmv=Money(cur, gmv),
                         matched_gmv=Money(cur, matched_gmv))
