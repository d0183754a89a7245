"""QuoteOrder, ScoreOrder and ScoreEvent.

ScoreOrder and ScoreEvent take five statements (adapters/score_repo.py): one
read on the fast path (generation, customer, spend, and the stored score of a
replay), then BEGIN, one statement that locks the customer and the budgets the
call may spend and reads their usage, the pure domain deciding, one statement
writing everything, COMMIT.

The candidates -- hence which budgets to lock and which usage to read -- depend
on the customer's profile (tier, prior orders), which is read before the lock.
If the locked profile differs (another order of the same customer committed in
between), the transaction is rolled back and run again with it: rare, and
never wrong. Budgets of campaigns that have one are locked in campaign_id order
and updated exactly; a campaign without a budget is never locked or updated by
an order (what it paid is summed from the award rows).

The campaign snapshot is taken (generation checked) before the transaction, so
an index rebuild never holds row locks. A campaign paused or edited in that
instant may still score one order with the version it had; the award records
that version, and budgets stay exact because they are read under the lock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, AlreadyExists
from cashback_kit.idempotency import check_same
from cashback_services.rules.adapters import codec, history_repo, score_repo
from cashback_services.rules.adapters.codec import skipped_entry
from cashback_services.rules.domain.base import merchandise
from cashback_services.rules.domain.evaluate import Candidate, could_pay, local_day, qualify, qualify_event, settle
from cashback_services.rules.domain.model import (
    EventIn,
    OrderIn,
    Profile,
    Rule,
    ScoreOut,
    SkipCode,
    SkipOut,
    SkippedDetail,
    Usage,
    shows,
)
from cashback_services.rules.domain.tiers import TierPolicy, effective_tier
from cashback_services.rules.service_layer.awardable import check_awardable
from cashback_services.rules.service_layer.cache import MerchantCache, Snapshot
from cashback_services.rules.service_layer.customers import load_profile, needs_spend, profile_of


def _usage_from(days: dict[str, str], budgets: dict[str, int], per_customer: dict[str, tuple[int, int]],
                per_day: dict[tuple[str, str], int]) -> dict[str, Usage]:
    """Usage per campaign (keys of `days`: campaign -> its local day of the order)."""
    out: dict[str, Usage] = {}
    for cid in sorted(days):
        amount, count = per_customer.get(cid, (0, 0))
        out[cid] = Usage(budgets.get(cid, 0), amount, count, per_day.get((cid, days[cid]), 0))
    return out


def _replay(stored: score_repo.Stored, fingerprint: str, key: str) -> bytes:
    if stored.score_body is None:  # ImportOrders stores past orders with no score
        raise AlreadyExists(f"{key} was imported as a past order; it is history, not scored")
    check_same(stored.fingerprint, fingerprint, key)
    return codec.unpack(stored.score_body)


def _judge(snap: Snapshot, order: OrderIn, profile: Profile) -> tuple[list[Candidate], dict[str, SkipOut | None]]:
    """Qualify the campaigns that pass precheck and cover a line of the order
    (in campaign order); each is a candidate (None) or has its reason. The rest
    only need a reason, which skips.py keeps."""
    live, every_line = snap.skips.live(order, profile)
    short = sorted(every_line | snap.index.line_matches(order, live), key=snap.skips.position.__getitem__)
    candidates, skipped = qualify(order, [snap.index.by_id[cid] for cid in short], profile)
    judged: dict[str, SkipOut | None] = dict.fromkeys(short)
    judged.update((s.campaign_id, s) for s in skipped)
    return candidates, judged


def _order_score(snap: Snapshot, order: OrderIn, profile: Profile, judged: dict[str, SkipOut | None],
                 out: ScoreOut, detail: SkippedDetail = SkippedDetail.ALL) -> bytes:
    """The serialized Score, `skipped` in campaign order (every order campaign
    that did not qualify), then what settle() refused -- as the full evaluation
    lists them -- cut to `detail`. Only ALL needs the cached list of every
    campaign: the campaigns a shorter answer keeps were all judged one by one.
    (Entries of a repeated field may follow the other fields: one Score.)"""
    limited, out.skipped = out.skipped, []
    score = codec.score_bytes(out, merchant_id=order.merchant_id, customer_id=order.customer_id,
                              order_id=order.order_id)
    if detail is SkippedDetail.ALL:
        head = snap.skips.serialized(order, profile, judged)
    else:
        own = sorted((s for s in judged.values() if s is not None and shows(detail, s.code)),
                     key=lambda s: snap.skips.position[s.campaign_id])
        head = b"".join(skipped_entry(s) for s in own)
    out.skipped = limited
    return score + head + b"".join(skipped_entry(s) for s in limited if shows(detail, s.code))


_ATTEMPTS = 5


@dataclass(frozen=True)
class _Plan:
    """What one scoring transaction locks and reads before it knows the
    customer: from the campaign snapshot in hand, the campaigns the call could
    pay for any customer (could_pay), their local days, and the spend windows
    of the tier policy."""

    snap: Snapshot | None
    usage_ids: frozenset[str]
    budget_ids: frozenset[str]
    days: frozenset[str]
    since: list[datetime]

    @classmethod
    def of(cls, snap: Snapshot | None, rules: list[Rule], when: datetime) -> _Plan:
        return cls(snap, frozenset(r.campaign_id for r in rules),
                   frozenset(r.campaign_id for r in rules if r.budget is not None),
                   frozenset(local_day(r, when) for r in rules),
                   _windows(snap.policy, when) if snap is not None else [])

    def covers(self, candidates: list[Candidate], when: datetime) -> bool:
        """Whether what was locked and read is all the candidates need (the
        snapshot may have changed since the plan was made)."""
        return all(x.rule.campaign_id in self.usage_ids and local_day(x.rule, when) in self.days
                   and (x.rule.budget is None or x.rule.campaign_id in self.budget_ids) for x in candidates)


# A scoring transaction's work once it has locked and loaded: judge, settle, write; the score.
_Decide = Callable[["score_repo.ScoreTx", Snapshot, "score_repo.Loaded", Profile, "_Plan"], Awaitable[bytes]]


class _Stale(Exception):
    """What was locked and read does not cover what the customer, as read under
    the lock, needs with the merchant's current campaigns. Carries those: the
    next attempt plans with them."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__()
        self.snap = snap


def _profile(loaded: score_repo.Loaded, snap: Snapshot, plan: _Plan, when: datetime) -> Profile:
    """The customer as read under the lock; _Stale if their tier needs a spend
    the plan did not ask for (the campaigns changed meanwhile, or none were in hand)."""
    row = loaded.customer
    if not needs_spend(snap.policy, row):
        return profile_of(row, snap.policy)
    if plan.since != _windows(snap.policy, when):
        raise _Stale(snap)
    return Profile(tier=effective_tier(row.manual_tier, snap.policy,
                                       dict(zip(snap.policy.windows, loaded.spends, strict=True))),
                   prior_orders=row.order_count, segment=row.segment)


def _judge_event(snap: Snapshot, event: EventIn, profile: Profile) -> tuple[list[Candidate], list[SkipOut], str]:
    """The paying candidates of an event, the skipped, and the score's currency:
    that of the first paying campaign (oldest), or of the oldest event campaign."""
    rules = snap.index.event_rules()
    candidates, skipped = qualify_event(event, rules, profile)
    currency = candidates[0].rule.currency if candidates else rules[0].currency if rules else ""
    skipped += [SkipOut(x.rule.campaign_id, x.rule.version, SkipCode.CURRENCY,
                        f"pays in {x.rule.currency}, this event is scored in {currency}")
                for x in candidates if x.rule.currency != currency]
    return [x for x in candidates if x.rule.currency == currency], skipped, currency


def _windows(policy: TierPolicy, at: datetime) -> list[datetime]:
    return policy.since(at) if policy.tiers and policy.currency else []


async def _load(tx: score_repo.ScoreTx, what: str, key: str, merchant_id: str, customer_id: str, plan: _Plan,
                when: datetime, *, add_orders: int) -> score_repo.Loaded:
    policy = plan.snap.policy if plan.snap is not None else TierPolicy()
    return await tx.load(what, key, merchant_id, customer_id, add_orders=add_orders,
                         budget_ids=sorted(plan.budget_ids), usage_ids=sorted(plan.usage_ids),
                         days=sorted(plan.days), currency=policy.currency or "", since=plan.since, until=when)


def _usage_of(candidates: list[Candidate], loaded: score_repo.Loaded, when: datetime) -> dict[str, Usage]:
    days = {x.rule.campaign_id: local_day(x.rule, when) for x in candidates}
    return _usage_from(days, loaded.budgets, loaded.usage, loaded.per_day)


def _award_rows(candidates: list[Candidate], out: ScoreOut) -> list[score_repo.AwardRow]:
    budgeted = {x.rule.campaign_id for x in candidates if x.rule.budget is not None}
    return [score_repo.AwardRow(a.campaign_id, a.campaign_version, a.amount.minor, a.local_day,
                                a.campaign_id in budgeted) for a in out.awards]


class Scoring:
    def __init__(self, db: Database, cache: MerchantCache, now: Callable[[], datetime],
                 pool: score_repo.ScoringPool | None = None) -> None:
        self.db, self.cache, self.now = db, cache, now
        self.pool = pool or score_repo.ScoringPool(db)

    async def quote(self, order: OrderIn, detail: SkippedDetail = SkippedDetail.ALL) -> bytes:
        """Unlocked, and on the fast read path (Database.fetch_rows): one read for
        the generation and the customer, one for all the usage the candidates need
        (plus a spend read when a tier policy needs it, and a rebuild of the
        campaign snapshot when it changed)."""
        m, c = order.merchant_id, order.customer_id
        generation, customer = await history_repo.generation_and_customer(self.db, m, c)
        snap = self.cache.peek(m, generation)
        if snap is None:
            async with self.db.read() as conn:
                snap = await self.cache.get(conn, m, generation)
        if needs_spend(snap.policy, customer):
            async with self.db.read() as conn:
                profile, _ = await load_profile(conn, m, c, snap.policy, order.placed_at, row=customer)
        else:
            profile = profile_of(customer, snap.policy)
        candidates, judged = _judge(snap, order, profile)
        usage: dict[str, Usage] = {}
        if candidates:
            days = {x.rule.campaign_id: local_day(x.rule, order.placed_at) for x in candidates}
            budgets, per_customer, per_day = await history_repo.usage_snapshot(
                self.db, m, c, sorted(days), sorted(set(days.values())))
            usage = _usage_from(days, budgets, per_customer, per_day)
        out = settle(candidates, usage, order.placed_at, order.currency, self.now())
        return _order_score(snap, order, profile, judged, out, detail)

    async def score(self, order: OrderIn, fingerprint: str, order_body: bytes,
                    detail: SkippedDetail = SkippedDetail.ALL) -> bytes:
        """The order's score, stored in full (a replay may ask for another detail)."""
        m, c, when = order.merchant_id, order.customer_id, order.placed_at

        def could(snap: Snapshot) -> list[Rule]:
            live, every_line = snap.skips.live(order, None)
            short = every_line | snap.index.line_matches(order, live)
            return could_pay(order, [snap.index.by_id[cid] for cid in short])

        async def decide(tx: score_repo.ScoreTx, snap: Snapshot, loaded: score_repo.Loaded, profile: Profile,
                         plan: _Plan) -> bytes:
            candidates, judged = _judge(snap, order, profile)
            if not plan.covers(candidates, when):
                raise _Stale(snap)
            out = settle(candidates, _usage_of(candidates, loaded, when), when, order.currency, self.now())
            check_awardable(out, "order.placed_at")
            score = _order_score(snap, order, profile, judged, out)
            await tx.write_order(m, c, _award_rows(candidates, out), order_id=order.order_id, placed_at=when,
                                 currency=order.currency, merchandise_minor=merchandise(order).minor,
                                 fingerprint=fingerprint, order_body=order_body, score_body=codec.pack(score),
                                 created_at=self.now())
            return score

        return codec.cut(await self._scored("order", m, c, order.order_id, when, fingerprint, could, decide), detail)

    async def score_event(self, event: EventIn, fingerprint: str) -> bytes:
        m, c, when = event.merchant_id, event.customer_id, event.occurred_at

        def could(snap: Snapshot) -> list[Rule]:
            return [x.rule for x in qualify_event(event, snap.index.event_rules(), None)[0]]

        async def decide(tx: score_repo.ScoreTx, snap: Snapshot, loaded: score_repo.Loaded, profile: Profile,
                         plan: _Plan) -> bytes:
            candidates, skipped, currency = _judge_event(snap, event, profile)
            if not plan.covers(candidates, when):
                raise _Stale(snap)
            out = settle(candidates, _usage_of(candidates, loaded, when), when, currency, self.now())
            check_awardable(out, "occurred_at")
            out.skipped[:0] = skipped
            score = codec.score_bytes(out, merchant_id=m, customer_id=c, event_id=event.event_id)
            await tx.write_event(m, c, _award_rows(candidates, out), event_id=event.event_id, currency=currency,
                                 fingerprint=fingerprint, score_body=codec.pack(score), created_at=self.now())
            return score

        return await self._scored("event", m, c, event.event_id, when, fingerprint, could, decide)

    async def _scored(self, what: str, merchant_id: str, customer_id: str, key: str, when: datetime,
                      fingerprint: str, could: Callable[[Snapshot], list[Rule]], decide: _Decide) -> bytes:
        """The stored score of a replay, or `decide` run in a scoring
        transaction on what rules_score_load() locked and read for the
        campaigns the call `could` pay with the snapshot in hand -- again when
        that did not cover the customer as locked and the merchant's current
        campaigns (_Stale), as a replay when a concurrent call stored the same key."""
        name = f"{what}_id {key!r}"
        snap = self.cache.latest(merchant_id)  # None: the first call of this merchant in this process
        async with self.pool.connection() as conn:
            for _ in range(_ATTEMPTS):
                plan = _Plan.of(snap, could(snap) if snap is not None else [], when)
                try:
                    async with conn.transaction() as tx:
                        loaded = await _load(tx, what, key, merchant_id, customer_id, plan, when,
                                             add_orders=1 if what == "order" else 0)
                        if loaded.stored is not None:
                            return _replay(loaded.stored, fingerprint, name)
                        snap = await self._snapshot(merchant_id, loaded.generation, snap)
                        return await decide(tx, snap, loaded, _profile(loaded, snap, plan, when), plan)
                except _Stale as stale:
                    snap = stale.snap
                except score_repo.AlreadyStored:
                    stored = await conn.stored(what, merchant_id, key)
                    if stored is None:
                        raise Aborted(f"concurrent write of the same {what}; safe to retry",
                                      reason="CONCURRENT_WRITE") from None
                    return _replay(stored, fingerprint, name)
        raise Aborted("the customer changed during scoring; safe to retry", reason="CONCURRENT_WRITE")

    async def _snapshot(self, merchant_id: str, generation: int, hand: Snapshot | None = None) -> Snapshot:
        """The snapshot at `generation`: the one in hand if it is."""
        if hand is not None and hand.generation == generation:
            return hand
        snap = self.cache.peek(merchant_id, generation)
        if snap is None:
            async with self.db.read() as conn:
                snap = await self.cache.get(conn, merchant_id, generation)
        return snap
