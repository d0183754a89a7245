"""QuoteOrder, ScoreOrder and ScoreEvent.

ScoreOrder takes four statements (adapters/score_repo.py): BEGIN; one statement
that returns the merchant's campaign generation and a replay's stored score, or
locks the customer and the budgets the order may spend and reads the customer,
their usage and spend after the lock; the pure domain deciding; one statement
writing everything; COMMIT. What to lock and read is planned from the campaign
snapshot in hand, for any customer (score_plan.py), so the customer is read
once, under the lock, and judged once. Budgets of campaigns that have one are
locked in campaign_id order and updated exactly; a campaign without a budget is
never locked or updated by an order (what it paid is summed from the award rows).

The campaign snapshot is never rebuilt by a query inside the transaction unless
the generation read with the lock says it changed; a campaign paused or edited
in that instant may still score one order with the version it had; the award
records that version, and budgets stay exact because they are read under the
lock. ScoreEvent runs in groups (event_groups.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from cashback_kit.db import Database
from cashback_kit.errors import Aborted
from cashback_services.rules.adapters import codec, history_repo, score_repo
from cashback_services.rules.adapters.codec import skipped_entry
from cashback_services.rules.domain.base import merchandise
from cashback_services.rules.domain.evaluate import Candidate, could_pay, local_day, qualify, settle
from cashback_services.rules.domain.model import (
    EventIn,
    OrderIn,
    Profile,
    Rule,
    ScoreOut,
    SkipOut,
    SkippedDetail,
    Usage,
    shows,
)
from cashback_services.rules.service_layer.awardable import check_awardable
from cashback_services.rules.service_layer.cache import MerchantCache, Snapshot
from cashback_services.rules.service_layer.customers import load_profile, needs_spend, profile_of
from cashback_services.rules.service_layer.event_groups import EventGroups
from cashback_services.rules.service_layer.score_plan import (
    ATTEMPTS,
    Plan,
    Stale,
    award_rows,
    locked_profile,
    replay,
    snapshot_at,
    usage_from,
    usage_of,
)


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


# A scoring transaction's work once it has locked and loaded: judge, settle, write; the score.
_Decide = Callable[["score_repo.ScoreTx", Snapshot, "score_repo.Loaded", Profile, "Plan"], Awaitable[bytes]]


async def _load(tx: score_repo.ScoreTx, order_id: str, merchant_id: str, customer_id: str, plan: Plan,
                when: datetime) -> score_repo.Loaded:
    return await tx.load("order", order_id, merchant_id, customer_id, add_orders=1,
                         budget_ids=sorted(plan.budget_ids), usage_ids=sorted(plan.usage_ids),
                         days=sorted(plan.days), currency=plan.currency, since=plan.since, until=when)


class Scoring:
    def __init__(self, db: Database, cache: MerchantCache, now: Callable[[], datetime],
                 pool: score_repo.ScoringPool | None = None) -> None:
        self.db, self.cache, self.now = db, cache, now
        self.pool = pool or score_repo.ScoringPool(db)
        self.events = EventGroups(self.pool, cache, now)

    async def quote(self, order: OrderIn, detail: SkippedDetail = SkippedDetail.ALL) -> bytes:
        """Unlocked, and on the fast read path (Database.fetch_rows): one read for
        the generation and the customer, one for all the usage the candidates need
        (plus a spend read when a tier policy needs it, and a rebuild of the
        campaign snapshot when it changed)."""
        m, c = order.merchant_id, order.customer_id
        generation, customer = await history_repo.generation_and_customer(self.db, m, c)
        snap = await snapshot_at(self.db, self.cache, m, generation)
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
            usage = usage_from(days, budgets, per_customer, per_day)
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
                         plan: Plan) -> bytes:
            candidates, judged = _judge(snap, order, profile)
            if not plan.covers(candidates, when):
                raise Stale(snap)
            out = settle(candidates, usage_of(candidates, loaded, when), when, order.currency, self.now())
            check_awardable(out, "order.placed_at")
            score = _order_score(snap, order, profile, judged, out)
            await tx.write_order(m, c, award_rows(candidates, out), order_id=order.order_id, placed_at=when,
                                 currency=order.currency, merchandise_minor=merchandise(order).minor,
                                 fingerprint=fingerprint, order_body=order_body, score_body=codec.pack(score),
                                 created_at=self.now())
            return score

        return codec.cut(await self._scored(m, c, order.order_id, when, fingerprint, could, decide), detail)

    async def score_event(self, event: EventIn, fingerprint: str) -> bytes:
        """Scored in a group with the events queued meanwhile (event_groups.py)."""
        return await self.events.submit_event(event, fingerprint)

    async def _scored(self, merchant_id: str, customer_id: str, key: str, when: datetime, fingerprint: str,
                      could: Callable[[Snapshot], list[Rule]], decide: _Decide) -> bytes:
        """The stored score of a replay, or `decide` run in a scoring
        transaction on what rules_score_load() locked and read for the
        campaigns the call `could` pay with the snapshot in hand -- again when
        that did not cover the customer as locked and the merchant's current
        campaigns (Stale), as a replay when a concurrent call stored the same key."""
        name = f"order_id {key!r}"
        snap = self.cache.latest(merchant_id)  # None: the first call of this merchant in this process
        async with self.pool.connection() as conn:
            for _ in range(ATTEMPTS):
                plan = Plan.of(snap, could(snap) if snap is not None else [], when)
                try:
                    async with conn.transaction() as tx:
                        loaded = await _load(tx, key, merchant_id, customer_id, plan, when)
                        if loaded.stored is not None:
                            return replay(loaded.stored, fingerprint, name)
                        snap = await snapshot_at(self.db, self.cache, merchant_id, loaded.generation, snap)
                        return await decide(tx, snap, loaded, locked_profile(loaded, snap, plan, when), plan)
                except Stale as stale:
                    snap = stale.snap
                except score_repo.AlreadyStored:
                    stored = await conn.stored("order", merchant_id, key)
                    if stored is None:
                        raise Aborted("concurrent write of the same order; safe to retry",
                                      reason="CONCURRENT_WRITE") from None
                    return replay(stored, fingerprint, name)
        raise Aborted("the customer changed during scoring; safe to retry", reason="CONCURRENT_WRITE")
