"""Scoring one order (or event) against candidate campaigns.

Two pure steps, so the service can lock exactly the usage rows it needs in
between:
  qualify() - conditions that need no usage (currency, window, channel, payment
              method, coupon, tier, prior orders, minimum, eligible lines) and
              the raw amount: per-line rates summed, rounded half-up ONCE.
  settle()  - caps and limits from a usage snapshot (max per order, per
              customer count/day/amount, budget; partial when only part is
              left), then stacking (best exclusive wins alone; credit and points are
              not compared by amount: see _best_exclusive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cashback_kit.money import Money, Rounding, div_round
from cashback_services.rules.domain.base import line_bases, line_is_eligible
from cashback_services.rules.domain.model import (
    AwardOut,
    EventIn,
    Line,
    OrderIn,
    Profile,
    Rule,
    ScoreOut,
    SkipCode,
    SkipOut,
    Trigger,
    Usage,
)
from cashback_services.rules.domain.words import bps_text, channel_text


@dataclass(frozen=True)
class Candidate:
    """A campaign that qualified, with its amount before limits."""

    rule: Rule
    amount: Money
    explanation: str


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(rule: Rule, when: datetime) -> str:
    """The calendar day in the campaign's zone: what "per day" limits count."""
    return when.astimezone(_zone(rule.timezone)).date().isoformat()


def _skip(rule: Rule, code: SkipCode, reason: str) -> SkipOut:
    return SkipOut(rule.campaign_id, rule.version, code, reason)


def precheck(rule: Rule, order: OrderIn, profile: Profile | None) -> SkipOut | None:
    """Conditions on the order as a whole; cheap, so the index can call it for
    every campaign it did not shortlist, to say why. With no profile, the
    conditions on the customer pass (could any customer earn here?)."""
    if rule.currency != order.currency:
        return _skip(rule, SkipCode.CURRENCY, f"the campaign pays in {rule.currency}, the order is in {order.currency}")
    window = _window_skip(rule, order.placed_at)
    if window:
        return window
    if rule.channels and order.channel not in rule.channels:
        wanted = ", ".join(sorted(channel_text(c) for c in rule.channels))
        return _skip(rule, SkipCode.CHANNEL, f"only for orders placed on {wanted}")
    if rule.payment_methods and order.payment_method.lower() not in rule.payment_methods:
        return _skip(rule, SkipCode.PAYMENT_METHOD,
                     f"only when paying with {', '.join(sorted(rule.payment_methods))}")
    if rule.coupon_codes and not rule.coupon_codes.intersection(c.lower() for c in order.coupon_codes):
        return _skip(rule, SkipCode.COUPON, "the order does not carry the campaign's coupon code")
    return _customer_skip(rule, profile)


def _window_skip(rule: Rule, when: datetime) -> SkipOut | None:
    if rule.starts_at is not None and when < rule.starts_at:
        return _skip(rule, SkipCode.OUTSIDE_WINDOW, "the campaign had not started yet")
    if rule.ends_at is not None and when >= rule.ends_at:
        return _skip(rule, SkipCode.OUTSIDE_WINDOW, "the campaign had already ended")
    return None


def _customer_skip(rule: Rule, profile: Profile | None) -> SkipOut | None:
    if profile is None:
        return None
    if rule.customer_tiers and profile.tier not in rule.customer_tiers:
        tiers = ", ".join(sorted(rule.customer_tiers))
        return _skip(rule, SkipCode.TIER, f"only for customers of tier {tiers}")
    if profile.prior_orders < rule.min_prior_orders:
        return _skip(rule, SkipCode.PRIOR_ORDERS,
                     f"needs {rule.min_prior_orders} earlier orders, the customer has {profile.prior_orders}")
    if rule.customer_segments and profile.segment not in rule.customer_segments:
        wanted = ", ".join(sorted(rule.customer_segments))
        now = f"is in {profile.segment}" if profile.segment else "has no segment (no recent order)"
        return _skip(rule, SkipCode.SEGMENT, f"only for customers in segment {wanted}; this customer {now}")
    if rule.max_prior_orders is not None and profile.prior_orders > rule.max_prior_orders:
        return _skip(rule, SkipCode.TOO_MANY_PRIOR_ORDERS, _too_many(rule.max_prior_orders, profile.prior_orders))
    return None


def _too_many(most: int, has: int) -> str:
    earlier = "an earlier order" if has == 1 else f"{has} earlier orders"
    if most == 0:
        return f"only for a customer's first order; this customer has {earlier}"
    return f"only for customers with at most {most} earlier orders; this customer has {earlier}"


def rate_for(rule: Rule, line: Line, tier: str) -> int:
    """The most specific rate: SKU override, category override (first listed
    in the campaign wins when a line is in several), tier rate, percent."""
    if line.sku in rule.sku_bps:
        return rule.sku_bps[line.sku]
    for category, bps in rule.category_bps.items():
        if category in line.category_ids:
            return bps
    if tier in rule.tier_bps:
        return rule.tier_bps[tier]
    return rule.percent_bps or 0


def qualify_rule(rule: Rule, order: OrderIn, profile: Profile, bases: list[Money],
                 whole: Money) -> Candidate | SkipOut:
    skipped = precheck(rule, order, profile)
    if skipped:
        return skipped
    if rule.min_order is not None and whole < rule.min_order:
        return _skip(rule, SkipCode.BELOW_MINIMUM, f"the order is below the minimum of {rule.min_order}")
    eligible = 0  # minor units; plain ints in this loop, which runs per line per campaign
    weighted = 0  # Σ base × bps, exact: rounding happens once below
    rates: set[int] = set()
    any_line = False
    for line, base in zip(order.lines, bases, strict=True):
        if not line_is_eligible(line, rule.include_skus, rule.include_categories,
                                rule.exclude_skus, rule.exclude_categories):
            continue
        any_line = True
        bps = rate_for(rule, line, profile.tier)
        eligible += base.minor
        weighted += base.minor * bps
        rates.add(bps)
    if not any_line:
        return _skip(rule, SkipCode.NO_ELIGIBLE_LINES, "no item in the order is covered by the campaign")
    if rule.fixed is not None:
        # A fixed reward is paid as-is (no rate, no rounding) once at least one
        # line is covered; caps and limits still bound it in settle().
        return Candidate(rule, rule.fixed, f"fixed {rule.shown(rule.fixed)}")
    amount = Money(order.currency, div_round(weighted, 10_000, Rounding.HALF_UP))
    base = Money(order.currency, eligible)
    if len(rates) == 1:
        how = f"{bps_text(next(iter(rates)))} of {base}"
    else:
        how = f"per-item rates ({', '.join(bps_text(r) for r in sorted(rates))}) on {base}"
    return Candidate(rule, amount, how)


def could_pay(order: OrderIn, rules: list[Rule]) -> list[Rule]:
    """Of `rules` (past precheck for some customer), those that pay on this
    order for some customer: the order's minimum met and a line covered. What
    scoring locks and reads before it knows the customer; qualify() with the
    customer's profile never picks a rule outside it."""
    bases = line_bases(order)
    whole = sum(b.minor for b in bases)
    return [rule for rule in rules
            if (rule.min_order is None or whole >= rule.min_order.minor)
            and any(line_is_eligible(line, rule.include_skus, rule.include_categories, rule.exclude_skus,
                                     rule.exclude_categories) for line in order.lines)]


def qualify(order: OrderIn, rules: list[Rule], profile: Profile,
            shortlist: set[str] | None = None) -> tuple[list[Candidate], list[SkipOut]]:
    """Rules not in `shortlist` (the index's pick) only get their skip reason."""
    bases = line_bases(order)
    whole = Money.zero(order.currency)
    for b in bases:
        whole = whole + b
    candidates: list[Candidate] = []
    skipped: list[SkipOut] = []
    for rule in rules:
        if rule.trigger is not Trigger.ORDER:
            continue
        if shortlist is not None and rule.campaign_id not in shortlist:
            skipped.append(precheck(rule, order, profile) or _no_lines(rule))
            continue
        out = qualify_rule(rule, order, profile, bases, whole)
        (skipped if isinstance(out, SkipOut) else candidates).append(out)  # type: ignore[arg-type]
    return candidates, skipped


def _no_lines(rule: Rule) -> SkipOut:
    return _skip(rule, SkipCode.NO_ELIGIBLE_LINES, "no item in the order is covered by the campaign")


def qualify_event(event: EventIn, rules: list[Rule],
                  profile: Profile | None) -> tuple[list[Candidate], list[SkipOut]]:
    candidates: list[Candidate] = []
    skipped: list[SkipOut] = []
    for rule in rules:
        if rule.trigger is not Trigger.EVENT:
            continue
        out = (
            _skip(rule, SkipCode.EVENT_TYPE, f"rewards {rule.event_type!r} events, not {event.event_type!r}")
            if rule.event_type != event.event_type
            else _window_skip(rule, event.occurred_at)
            or (_skip(rule, SkipCode.CHANNEL, "not for events from this channel")
                if rule.channels and event.channel not in rule.channels else None)
            or _customer_skip(rule, profile)
        )
        if out is not None:
            skipped.append(out)
        elif rule.fixed is None or not rule.fixed:
            skipped.append(_skip(rule, SkipCode.ZERO_AMOUNT, "the campaign pays nothing for events"))
        else:
            candidates.append(Candidate(rule, rule.fixed, f"fixed {rule.shown(rule.fixed)} per {rule.event_type}"))
    return candidates, skipped


def _limit(c: Candidate, usage: Usage) -> tuple[Money, list[str]] | SkipOut:
    rule, amount, notes = c.rule, c.amount, []
    if rule.max_per_order is not None and amount > rule.max_per_order:
        amount = rule.max_per_order
        notes.append(f"capped at {rule.shown(rule.max_per_order)} per order")
    if rule.max_awards_per_customer and usage.customer_count >= rule.max_awards_per_customer:
        return _skip(rule, SkipCode.CUSTOMER_LIMIT,
                     f"the customer already earned from this campaign {usage.customer_count} times, the limit")
    if rule.max_awards_per_day and usage.customer_day_count >= rule.max_awards_per_day:
        return _skip(rule, SkipCode.CUSTOMER_LIMIT, "the customer already earned from this campaign today, the limit")
    if rule.max_per_customer is not None:
        left = rule.max_per_customer.minor - usage.customer_amount
        if left <= 0:
            return _skip(rule, SkipCode.CUSTOMER_LIMIT,
                         f"the customer already earned the campaign's maximum of {rule.max_per_customer}")
        if amount.minor > left:
            amount = Money(amount.currency, left)
            cap = rule.shown(rule.max_per_customer)
            notes.append(f"limited to the {rule.shown(amount)} left of {cap} per customer")
    if rule.budget is not None:
        left = rule.budget.minor - usage.budget_used
        if left <= 0:
            return _skip(rule, SkipCode.BUDGET_SPENT, "the campaign's budget is spent")
        if amount.minor > left:
            amount = Money(amount.currency, left)
            notes.append(f"limited to the {rule.shown(amount)} left in the budget")
    if not amount:
        return _skip(rule, SkipCode.ZERO_AMOUNT, f"{c.explanation} rounds to nothing")
    return amount, notes


def _best_exclusive(exclusive: list[tuple[Candidate, AwardOut]]) -> tuple[Candidate, AwardOut]:
    """The exclusive award that applies alone. In one unit: the best amount, then the
    higher priority, then the older campaign. Points and minor units of credit are not
    comparable amounts, so between the best credit and the best points award the
    merchant's priority decides, and at equal priority credit wins (money the customer
    can spend at once, at a cost the merchant knows without a points rate)."""
    def best_of(pairs: list[tuple[Candidate, AwardOut]]) -> tuple[Candidate, AwardOut]:
        return max(pairs, key=lambda p: (p[1].amount.minor, p[0].rule.priority, -p[0].rule.seq))

    credit = [p for p in exclusive if not p[0].rule.points]
    points = [p for p in exclusive if p[0].rule.points]
    if not credit or not points:
        return best_of(exclusive)
    best_credit, best_points = best_of(credit), best_of(points)
    return best_points if best_points[0].rule.priority > best_credit[0].rule.priority else best_credit


def settle(candidates: list[Candidate], usage: dict[str, Usage], when: datetime,
           currency: str, awarded_at: datetime | None = None) -> ScoreOut:
    """Apply limits from the usage snapshot, then stacking. `when` is placed_at
    (or occurred_at); the pending period starts at the later of it and
    `awarded_at` (the moment of the award), so the return window is never over
    before the credit exists (issue 15, point 3)."""
    start = max(when, awarded_at) if awarded_at is not None else when
    out = ScoreOut(currency)
    awarded: list[tuple[Candidate, AwardOut]] = []
    for c in candidates:
        limited = _limit(c, usage.get(c.rule.campaign_id, Usage()))
        if isinstance(limited, SkipOut):
            out.skipped.append(limited)
            continue
        amount, notes = limited
        rule = c.rule
        available = start + timedelta(days=rule.pending_days)
        expires = available + timedelta(days=rule.expires_after_days) if rule.expires_after_days else None
        text = "; ".join([f"{c.explanation} = {rule.shown(c.amount)}" if rule.fixed is None else c.explanation,
                          *notes])
        awarded.append((c, AwardOut(rule.campaign_id, rule.version, amount, f"{rule.name}: {text}",
                                    available, expires, local_day(rule, when), rule.points)))
    exclusive = [pair for pair in awarded if pair[0].rule.exclusive]
    if exclusive:
        best = _best_exclusive(exclusive)
        for c, _ in awarded:
            if c is not best[0]:
                out.skipped.append(_skip(c.rule, SkipCode.EXCLUSIVE,
                                         f"the exclusive campaign {best[0].rule.name!r} applies instead"))
        awarded = [best]
    out.awards = [a for _, a in awarded]
    return out
