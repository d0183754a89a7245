"""QuoteOrder, ScoreOrder and ScoreEvent.

ScoreOrder is one transaction: insert the order row (the unique key makes a
concurrent duplicate wait and then fail), lock the customer row (read once as
the profile), qualify the index's shortlist, lock the budgets of the campaigns
that may pay (campaign_id order), read usage, settle, write usage and awards.
On PostgreSQL the row locks make concurrent calls exact; on SQLite the write
transaction (BEGIN IMMEDIATE) already runs alone.

The campaign snapshot is taken (generation checked) just before the write
transaction, not inside it, so the index rebuild never holds row locks. A
campaign paused or edited in that instant may still score one order with the
version it had; the award records that version, and budgets stay exact
because they are read under the lock."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime

from cashback.rules.v1 import rules_pb2
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, AlreadyExists
from cashback_services.rules.adapters import campaign_repo, history_repo
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
from cashback_services.rules.entrypoints.order_pb import score_to_pb
from cashback_services.rules.service_layer.cache import MerchantCache, Snapshot
from cashback_services.rules.service_layer.customers import load_profile, needs_spend, profile_of
from cashback_services.rules.service_layer.skips import skipped_entry


async def _locked_usage(conn: AsyncConnection, merchant_id: str, customer_id: str, candidates: list[Candidate],
                        when: datetime) -> dict[str, Usage]:
    """Usage for a committing score, in its transaction (quotes read it unlocked
    with history_repo.usage_snapshot)."""
    ids = sorted({c.rule.campaign_id for c in candidates})
    days = {c.rule.campaign_id: local_day(c.rule, when) for c in candidates}
    if not ids:
        return {}
    # Only a campaign with a budget needs its row locked for the whole call
    # (its remaining budget decides the award). The others' budget_used is
    # only a counter: it is bumped at the very end (_spend_budgets), so the
    # row -- shared by every order the campaign pays -- is held for the last
    # statement and the commit, not for the whole scoring.
    budgets = await campaign_repo.lock_budgets(
        conn, merchant_id, sorted({c.rule.campaign_id for c in candidates if c.rule.budget is not None}))
    per_customer = await history_repo.usage(conn, merchant_id, customer_id, ids)
    per_day = await history_repo.day_usage(conn, merchant_id, customer_id, list(days.items()))
    return _usage_from(days, budgets, per_customer, per_day)


def _usage_from(days: dict[str, str], budgets: dict[str, int], per_customer: dict[str, tuple[int, int]],
                per_day: dict[tuple[str, str], int]) -> dict[str, Usage]:
    """Usage per campaign (keys of `days`: campaign -> its local day of the order)."""
    out: dict[str, Usage] = {}
    for cid in sorted(days):
        amount, count = per_customer.get(cid, (0, 0))
        out[cid] = Usage(budgets.get(cid, 0), amount, count, per_day.get((cid, days[cid]), 0))
    return out


async def _spend_budgets(conn: AsyncConnection, merchant_id: str, out: ScoreOut) -> None:
    """Add the awards to their campaigns' budget_used: the last write before
    commit, in campaign_id order (as lock_budgets takes them: no deadlock)."""
    await campaign_repo.add_budget_used_many(
        conn, merchant_id, sorted((a.campaign_id, a.amount.minor) for a in out.awards))


async def _commit_awards(conn: AsyncConnection, merchant_id: str, customer_id: str, out: ScoreOut,
                         order_id: str | None) -> None:
    """Usage and award rows; budgets come last (_spend_budgets)."""
    await history_repo.add_usage_many(conn, merchant_id, customer_id,
                                      [(a.campaign_id, a.amount.minor, a.local_day) for a in out.awards])
    if order_id is not None:
        await history_repo.insert_awards(conn, [
            {"merchant_id": merchant_id, "order_id": order_id, "campaign_id": a.campaign_id,
             "campaign_version": a.campaign_version, "customer_id": customer_id, "currency": a.amount.currency,
             "amount_minor": a.amount.minor, "reversed_minor": 0, "local_day": a.local_day}
            for a in out.awards])


def _replay(stored_fingerprint: str, fingerprint: str, body: bytes | None, key: str) -> rules_pb2.Score:
    if stored_fingerprint != fingerprint or body is None:
        raise AlreadyExists(f"{key} was already scored with different content")
    return rules_pb2.Score.FromString(zlib.decompress(bytes(body)))


def _pack(score: rules_pb2.Score) -> bytes:
    # A score lists every campaign that did not pay; with hundreds of active
    # campaigns the same sentences repeat, and compress about tenfold.
    return zlib.compress(score.SerializeToString(deterministic=True), 1)


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
                 out: ScoreOut, detail: SkippedDetail = SkippedDetail.ALL) -> rules_pb2.Score:
    """The Score, `skipped` in campaign order (every order campaign that did not
    qualify), then what settle() refused -- as the full evaluation lists them --
    cut to `detail`. Only ALL needs the cached list of every campaign: the
    campaigns a shorter answer keeps were all judged one by one."""
    limited, out.skipped = out.skipped, []
    score = score_to_pb(out, merchant_id=order.merchant_id, customer_id=order.customer_id, order_id=order.order_id)
    if detail is SkippedDetail.ALL:
        head = snap.skips.serialized(order, profile, judged)
    else:
        own = sorted((s for s in judged.values() if s is not None and shows(detail, s.code)),
                     key=lambda s: snap.skips.position[s.campaign_id])
        head = b"".join(skipped_entry(s) for s in own)
    score.MergeFromString(head + b"".join(skipped_entry(s) for s in limited if shows(detail, s.code)))
    out.skipped = limited
    return score


def cut(score: rules_pb2.Score, detail: SkippedDetail) -> rules_pb2.Score:
    """A stored (full) score as an answer of `detail`."""
    if detail is SkippedDetail.ALL:
        return score
    keep = [s for s in score.skipped if shows(detail, s.code)]
    del score.skipped[:]
    score.skipped.extend(keep)
    return score


class Scoring:
    def __init__(self, db: Database, cache: MerchantCache, now: Callable[[], datetime]) -> None:
        self.db, self.cache, self.now = db, cache, now

    async def quote(self, order: OrderIn, detail: SkippedDetail = SkippedDetail.ALL) -> rules_pb2.Score:
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
        out = settle(candidates, usage, order.placed_at, order.currency)
        return _order_score(snap, order, profile, judged, out, detail)

    async def score(self, order: OrderIn, fingerprint: str, order_body: bytes,
                    detail: SkippedDetail = SkippedDetail.ALL) -> rules_pb2.Score:
        """The order's score, stored in full (a replay may ask for another detail)."""
        return cut(await self._score(order, fingerprint, order_body), detail)

    async def _score(self, order: OrderIn, fingerprint: str, order_body: bytes) -> rules_pb2.Score:
        key = f"order_id {order.order_id!r}"
        async with self.db.read() as conn:
            found = await history_repo.find_order(conn, order.merchant_id, order.order_id)
            if found is not None:
                return _replay(found.fingerprint, fingerprint, found.score_body, key)
            snap = await self.cache.get(conn, order.merchant_id)
        try:
            async with self.db.write() as conn:
                found = await history_repo.find_order(conn, order.merchant_id, order.order_id)
                if found is not None:
                    return _replay(found.fingerprint, fingerprint, found.score_body, key)
                return await self._score_in(conn, order, fingerprint, order_body, snap)
        except IntegrityError:
            # Another call inserted the same order_id first (PostgreSQL lets us
            # wait on the unique key, then fail): answer as a replay would.
            async with self.db.read() as conn:
                found = await history_repo.find_order(conn, order.merchant_id, order.order_id)
            if found is None:
                raise Aborted("concurrent write of the same order; safe to retry") from None
            return _replay(found.fingerprint, fingerprint, found.score_body, key)

    async def _score_in(self, conn: AsyncConnection, order: OrderIn, fingerprint: str, order_body: bytes,
                        snap) -> rules_pb2.Score:  # type: ignore[no-untyped-def]
        m, c = order.merchant_id, order.customer_id
        await history_repo.insert_order(
            conn, merchant_id=m, order_id=order.order_id, customer_id=c, placed_at=order.placed_at,
            currency=order.currency, merchandise_minor=merchandise(order).minor, fingerprint=fingerprint,
            order_body=order_body, created_at=self.now())
        profile, _ = await load_profile(conn, m, c, snap.policy, order.placed_at, lock=True, add_orders=1,
                                        exclude_order=order.order_id)
        candidates, judged = _judge(snap, order, profile)
        usage = await _locked_usage(conn, m, c, candidates, order.placed_at)
        out = settle(candidates, usage, order.placed_at, order.currency)
        await _commit_awards(conn, m, c, out, order.order_id)
        score = _order_score(snap, order, profile, judged, out)
        await history_repo.set_order_score(conn, m, order.order_id, _pack(score))
        await _spend_budgets(conn, m, out)
        return score

    async def score_event(self, event: EventIn, fingerprint: str) -> rules_pb2.Score:
        key = f"event_id {event.event_id!r}"
        m, c = event.merchant_id, event.customer_id
        async with self.db.read() as conn:
            found = await history_repo.find_event(conn, m, event.event_id)
            if found is not None:
                return _replay(found.fingerprint, fingerprint, found.score_body, key)
            snap = await self.cache.get(conn, m)
        try:
            async with self.db.write() as conn:
                found = await history_repo.find_event(conn, m, event.event_id)
                if found is not None:
                    return _replay(found.fingerprint, fingerprint, found.score_body, key)
                profile, _ = await load_profile(conn, m, c, snap.policy, event.occurred_at, lock=True)
                rules = snap.index.event_rules()
                candidates, skipped = qualify_event(event, rules, profile)
                # An event score is in one currency: that of the first paying
                # campaign (oldest), or of the oldest event campaign at all.
                currency = (candidates[0].rule.currency if candidates else rules[0].currency if rules else "")
                same = [x for x in candidates if x.rule.currency == currency]
                skipped += [SkipOut(x.rule.campaign_id, x.rule.version, SkipCode.CURRENCY,
                                    f"pays in {x.rule.currency}, this event is scored in {currency}")
                            for x in candidates if x.rule.currency != currency]
                usage = await _locked_usage(conn, m, c, same, event.occurred_at)
                out = settle(same, usage, event.occurred_at, currency)
                out.skipped[:0] = skipped
                await _commit_awards(conn, m, c, out, None)
                score = score_to_pb(out, merchant_id=m, customer_id=c, event_id=event.event_id)
                await history_repo.insert_event(
                    conn, merchant_id=m, event_id=event.event_id, customer_id=c, fingerprint=fingerprint,
                    score_body=_pack(score), created_at=self.now())
                await _spend_budgets(conn, m, out)
                return score
        except IntegrityError:
            async with self.db.read() as conn:
                found = await history_repo.find_event(conn, m, event.event_id)
            if found is None:
                raise Aborted("concurrent write of the same event; safe to retry") from None
            return _replay(found.fingerprint, fingerprint, found.score_body, key)
