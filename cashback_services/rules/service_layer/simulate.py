"""SimulateCampaign: replay recorded orders placed in [from, to) against a
draft campaign, in placed_at order, with the draft's budget and per-customer
limits applied as the replay goes. Reads only; the draft is never stored.

Approximations, stated: a customer's prior-order count and rolling spend are
rebuilt from the recorded orders (orders refunded in full since then do not
count, as today); the manual tier is today's."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo, history_repo
from cashback_services.rules.adapters.codec import order_from_body
from cashback_services.rules.domain.evaluate import local_day, qualify, settle
from cashback_services.rules.domain.model import Profile, Rule, SimulationOut, Usage
from cashback_services.rules.domain.tiers import effective_tier
from cashback_services.rules.service_layer.cache import policy_from_json


class Simulator:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def simulate(self, m: str, rule: Rule, start: datetime, end: datetime) -> SimulationOut:
        """Merchant `m`'s recorded orders against the draft `rule`."""
        async with self.db.read() as conn:
            policy = policy_from_json(await campaign_repo.tier_policy_json(conn, m))
            lookback = timedelta(days=max(policy.windows, default=0))
            rows = await history_repo.orders_between(conn, m, start - lookback, end)
            prior = await history_repo.prior_counts(conn, m, start)
            manual = await history_repo.manual_tiers(conn, m)
        spend_log: dict[str, list[tuple[datetime, int]]] = defaultdict(list)  # customer -> (placed_at, net)
        budget_used = 0
        per_customer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        per_day: dict[tuple[str, str], int] = defaultdict(int)
        considered = matched = 0
        customers: set[str] = set()
        total = gmv = matched_gmv = 0
        for r in rows:
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
            spends = {w: sum(n for t, n in spend_log[r.customer_id] if t >= placed - timedelta(days=w))
                      for w in policy.windows}
            profile = Profile(effective_tier(manual.get(r.customer_id, ""), policy, spends),
                              prior.get(r.customer_id, 0))
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
