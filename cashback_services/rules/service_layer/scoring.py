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
from cashback_services.rules.adapters.history_repo import CustomerRow
from cashback_services.rules.domain.base import merchandise
from cashback_services.rules.domain.evaluate import Candidate, local_day, qualify, qualify_event, settle
from cashback_services.rules.domain.model import (
    EventIn,
    OrderIn,
    Profile,
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


def _replay(stored_fingerprint: str, fingerprint: str, body: bytes | None, key: str) -> bytes:
    if body is None:  # ImportOrders stores past orders with no score
        raise AlreadyExists(f"{key} was imported as a past order; it is history, not scored")
    check_same(stored_fingerprint, fingerprint, key)
    return codec.unpack(body)


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
# One scoring transaction's work: judge, lock and load, settle, write; the score.
_Attempt = Callable[["score_repo.ScoreTx", Snapshot, "_Guess"], Awaitable[bytes]]


class _Stale(Exception):
    """What was locked and read does not cover what the customer, as read under
    the lock, needs. Carries the customer as locked: the next attempt's guess."""

    def __init__(self, guess: _Guess) -> None:
        super().__init__()
        self.guess = guess


@dataclass(frozen=True)
class _Guess:
    """The customer as last read: their row, and their spend per tier window
    (None when it was not read)."""

    row: CustomerRow
    spends: list[int] | None

    def asks(self, policy: TierPolicy) -> bool:
        return needs_spend(policy, self.row)

    def profile(self, policy: TierPolicy) -> Profile:
        if not self.asks(policy):
            return profile_of(self.row, policy)
        if self.spends is None:
            # Not read yet: judge as if nothing was spent; the locked read has it,
            # and differs, so the next attempt judges with the real spend.
            return Profile(tier=effective_tier(self.row.manual_tier, policy, {}), prior_orders=self.row.order_count,
                           segment=self.row.segment)
        return Profile(tier=effective_tier(self.row.manual_tier, policy,
                                           dict(zip(policy.windows, self.spends, strict=True))),
                       prior_orders=self.row.order_count, segment=self.row.segment)


def _locked(guess: _Guess, loaded: score_repo.Loaded, policy: TierPolicy) -> _Guess:
    """The customer as read under the lock; _Stale if their tier needs a spend
    that was not read (the next attempt asks for it)."""
    # The segment is not read under the lock (only recomputation changes it): the first read's.
    row = CustomerRow(loaded.customer.manual_tier, loaded.customer.order_count, guess.row.segment)
    locked = _Guess(row, loaded.spends if guess.asks(policy) else None)
    if locked.asks(policy) and locked.spends is None:
        raise _Stale(locked)
    return locked


def _check_covered(candidates: list[Candidate], loaded_for: list[Candidate], locked: _Guess) -> None:
    """The profile read under the lock may make other campaigns candidates than
    the first read did (usually it changes nothing that matters: another order
    of the customer only moved their order count). Their budgets must be locked
    and usage read: if one was not, run again."""
    if not {x.rule.campaign_id for x in candidates} <= {x.rule.campaign_id for x in loaded_for}:
        raise _Stale(locked)


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


async def _load(tx: score_repo.ScoreTx, merchant_id: str, customer_id: str, candidates: list[Candidate],
                when: datetime, policy: TierPolicy, guess: _Guess, *, add_orders: int) -> score_repo.Loaded:
    days = sorted({local_day(x.rule, when) for x in candidates})
    return await tx.load(
        merchant_id, customer_id, add_orders=add_orders,
        budget_ids=[x.rule.campaign_id for x in candidates if x.rule.budget is not None],
        usage_ids=[x.rule.campaign_id for x in candidates], days=days, currency=policy.currency or "",
        since=_windows(policy, when) if guess.asks(policy) else [], until=when)


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

        async def attempt(tx: score_repo.ScoreTx, snap: Snapshot, guess: _Guess) -> bytes:
            guessed = guess.profile(snap.policy)
            first, judged = _judge(snap, order, guessed)
            loaded = await _load(tx, m, c, first, when, snap.policy, guess, add_orders=1)
            locked = _locked(guess, loaded, snap.policy)
            profile = locked.profile(snap.policy)
            candidates = first
            if profile != guessed:  # judging is pure: the same profile gives the same judgement
                candidates, judged = _judge(snap, order, profile)
            _check_covered(candidates, first, locked)
            out = settle(candidates, _usage_of(candidates, loaded, when), when, order.currency, self.now())
            check_awardable(out, "order.placed_at")
            score = _order_score(snap, order, profile, judged, out)
            await tx.write_order(m, c, _award_rows(candidates, out), order_id=order.order_id, placed_at=when,
                                 currency=order.currency, merchandise_minor=merchandise(order).minor,
                                 fingerprint=fingerprint, order_body=order_body, score_body=codec.pack(score),
                                 created_at=self.now())
            return score

        return codec.cut(await self._scored("order", m, c, order.order_id, when, fingerprint, attempt), detail)

    async def score_event(self, event: EventIn, fingerprint: str) -> bytes:
        m, c, when = event.merchant_id, event.customer_id, event.occurred_at

        async def attempt(tx: score_repo.ScoreTx, snap: Snapshot, guess: _Guess) -> bytes:
            guessed = guess.profile(snap.policy)
            first, skipped, currency = _judge_event(snap, event, guessed)
            loaded = await _load(tx, m, c, first, when, snap.policy, guess, add_orders=0)
            locked = _locked(guess, loaded, snap.policy)
            same = first
            if locked.profile(snap.policy) != guessed:  # the same profile gives the same judgement
                same, skipped, currency = _judge_event(snap, event, locked.profile(snap.policy))
            _check_covered(same, first, locked)
            out = settle(same, _usage_of(same, loaded, when), when, currency, self.now())
            check_awardable(out, "occurred_at")
            out.skipped[:0] = skipped
            score = codec.score_bytes(out, merchant_id=m, customer_id=c, event_id=event.event_id)
            await tx.write_event(m, c, _award_rows(same, out), event_id=event.event_id, currency=currency,
                                 fingerprint=fingerprint, score_body=codec.pack(score), created_at=self.now())
            return score

        return await self._scored("event", m, c, event.event_id, when, fingerprint, attempt)

    async def _scored(self, what: str, merchant_id: str, customer_id: str, key: str, when: datetime,
                      fingerprint: str, attempt: _Attempt) -> bytes:
        """The stored score of a replay, or `attempt` run in a scoring
        transaction -- again when what it locked did not cover the customer as
        locked (_Stale), as a replay when a concurrent call stored the same key."""
        policy = self._policy_hint(merchant_id)
        since = _windows(policy, when)
        name = f"{what}_id {key!r}"
        async with self.pool.connection() as conn:
            seen = await conn.seen(what, merchant_id, customer_id, key, currency=policy.currency or "", since=since,
                                   until=when)
            if seen.fingerprint is not None:
                return _replay(seen.fingerprint, fingerprint, seen.score_body, name)
            snap = await self._snapshot(merchant_id, seen.generation)
            guess = _Guess(seen.customer, seen.spends if since == _windows(snap.policy, when) else None)
            for _ in range(_ATTEMPTS):
                try:
                    async with conn.transaction() as tx:
                        return await attempt(tx, snap, guess)
                except _Stale as stale:
                    guess = stale.guess
                except score_repo.AlreadyStored:
                    again = await conn.seen(what, merchant_id, customer_id, key)
                    if again.fingerprint is None:
                        raise Aborted(f"concurrent write of the same {what}; safe to retry",
                                      reason="CONCURRENT_WRITE") from None
                    return _replay(again.fingerprint, fingerprint, again.score_body, name)
        raise Aborted("the customer changed during scoring; safe to retry", reason="CONCURRENT_WRITE")

    def _policy_hint(self, merchant_id: str) -> TierPolicy:
        """The tier policy of the snapshot in hand, to ask for the right spend
        windows in the first read (checked against the fresh snapshot after)."""
        snap = self.cache.latest(merchant_id)
        return snap.policy if snap is not None else TierPolicy()

    async def _snapshot(self, merchant_id: str, generation: int) -> Snapshot:
        snap = self.cache.peek(merchant_id, generation)
        if snap is None:
            async with self.db.read() as conn:
                snap = await self.cache.get(conn, merchant_id, generation)
        return snap
