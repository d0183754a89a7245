"""ScoreEvent in groups: many events, one database transaction.

One transaction per event spends its time on round trips and commits, not on
scoring; so, as the wallet groups its credits (wallet/service_layer/batch.py),
concurrent ScoreEvent calls queue here and one writer takes what is queued --
up to `max_items` events of one merchant, each event_id once -- into one
transaction of four statements (adapters/event_group_repo.py): BEGIN; one
statement returns the stored events of replays, locks the other events'
customers (customer_id order) and then the budgets they may spend (campaign_id
order) and reads usage and spend after the locks; each event is decided in
arrival order on what was read plus what the events before it in the group
paid (budgets, per-customer amounts and counts, per-day counts), so every limit
holds exactly as if they had run one by one; one statement writes every event;
COMMIT.

Each call keeps its single-call semantics: an event refused (not awardable, a
replay with other content) is refused alone and writes nothing; nothing is
answered before the group commits. An event whose candidates the plan did not
cover (the merchant's campaigns changed) runs again after the group. If the
group's transaction fails as a whole (an event_id stored by another process at
the same moment, a deadlock, a lost connection), every event in it runs alone,
in a group of one, which gives each the answer it would have had: the replay of
what committed, or its own error. While one group commits the next one fills:
under load groups grow by themselves, and a lone call waits for nobody."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cashback_kit.errors import Aborted, DomainError
from cashback_kit.group_commit import GroupCommit, answer
from cashback_services.rules.adapters import codec, event_group_repo, score_repo
from cashback_services.rules.adapters.event_group_repo import EventAsked, EventRow, GroupLoaded
from cashback_services.rules.domain.evaluate import Candidate, qualify_event, settle
from cashback_services.rules.domain.model import EventIn, Profile, Rule, SkipCode, SkipOut
from cashback_services.rules.service_layer import score_plan as sp
from cashback_services.rules.service_layer.awardable import check_awardable
from cashback_services.rules.service_layer.cache import MerchantCache, Snapshot
from cashback_services.rules.service_layer.score_plan import Plan, Stale


def judge_event(snap: Snapshot, event: EventIn, profile: Profile) -> tuple[list[Candidate], list[SkipOut], str]:
    """The paying candidates of an event, the skipped, and the score's currency:
    that of the first paying campaign (oldest), or of the oldest event campaign."""
    rules = snap.index.event_rules()
    candidates, skipped = qualify_event(event, rules, profile)
    currency = candidates[0].rule.currency if candidates else rules[0].currency if rules else ""
    skipped += [SkipOut(x.rule.campaign_id, x.rule.version, SkipCode.CURRENCY,
                        f"pays in {x.rule.currency}, this event is scored in {currency}")
                for x in candidates if x.rule.currency != currency]
    return [x for x in candidates if x.rule.currency == currency], skipped, currency


def _could(snap: Snapshot | None, event: EventIn) -> list[Rule]:
    """The event campaigns that could pay on this event for any customer."""
    return [] if snap is None else [x.rule for x in qualify_event(event, snap.index.event_rules(), None)[0]]


@dataclass
class _Call:
    event: EventIn
    fingerprint: str
    future: asyncio.Future[Any] | None = None
    attempts: int = 0


@dataclass
class _Group:
    """One group's decisions: the rows to write, and each call's answer."""

    rows: list[EventRow] = field(default_factory=list)
    answers: list[tuple[_Call, bytes | None, BaseException | None]] = field(default_factory=list)
    stale: list[_Call] = field(default_factory=list)


class EventGroups(GroupCommit[_Call]):
    name = "event group"
    alone_at_once = False

    def __init__(self, pool: score_repo.ScoringPool, cache: MerchantCache, now: Callable[[], datetime],
                 max_items: int = 256) -> None:
        super().__init__(max_items)
        self.pool, self.cache, self.now = pool, cache, now

    async def submit_event(self, event: EventIn, fingerprint: str) -> bytes:
        score: bytes = await self.submit(_Call(event, fingerprint))
        return score

    def take(self, queue: deque[_Call]) -> list[_Call]:
        """Up to max_items queued calls of the first call's merchant, each
        event_id once (a repeat waits for the next group, where it is a replay)."""
        merchant = queue[0].event.merchant_id
        group: list[_Call] = []
        keys: set[str] = set()
        rest: list[_Call] = []
        while queue and len(group) < self.max_items:
            call = queue.popleft()
            if call.event.merchant_id == merchant and call.event.event_id not in keys:
                group.append(call)
                keys.add(call.event.event_id)
            else:
                rest.append(call)
        queue.extendleft(reversed(rest))
        return group

    async def commit(self, calls: list[_Call]) -> None:
        group = await self._in_one_transaction(calls)
        for call, value, error in group.answers:
            answer(call, value, error)
        for call in group.stale:
            call.attempts += 1
            if call.attempts >= sp.ATTEMPTS:
                answer(call, None, Aborted("the campaigns changed during scoring; safe to retry",
                                           reason="CONCURRENT_WRITE"))
        if again := [c for c in group.stale if c.attempts < sp.ATTEMPTS]:
            await self.run(again)

    async def _in_one_transaction(self, calls: list[_Call]) -> _Group:
        merchant_id = calls[0].event.merchant_id
        snap = self.cache.latest(merchant_id)  # None: the first call of this merchant in this process
        plans = [Plan.of(snap, _could(snap, c.event), c.event.occurred_at) for c in calls]
        asked = [EventAsked(c.event.event_id, c.event.customer_id, p.since, c.event.occurred_at)
                 for c, p in zip(calls, plans, strict=True)]
        group = _Group()
        async with self.pool.connection() as conn, event_group_repo.transaction(conn) as tx:
            loaded = await tx.load(merchant_id, asked, budget_ids=sorted(set().union(*(p.budget_ids for p in plans))),
                                   usage_ids=sorted(set().union(*(p.usage_ids for p in plans))),
                                   days=sorted(set().union(*(p.days for p in plans))),
                                   currency=plans[0].currency)
            snap = await sp.snapshot_at(self.pool.db, self.cache, merchant_id, loaded.generation, snap)
            for n, (call, plan) in enumerate(zip(calls, plans, strict=True)):
                self._decide(group, snap, loaded, n, call, plan)
            if group.rows:
                await tx.write(merchant_id, group.rows, self.now())
        return group

    def _decide(self, group: _Group, snap: Snapshot, loaded: GroupLoaded, n: int, call: _Call, plan: Plan) -> None:
        """The n-th call of the group, on what was read and what the calls before it paid."""
        event, name = call.event, f"event_id {call.event.event_id!r}"
        try:
            if event.event_id in loaded.stored:
                group.answers.append((call, sp.replay(loaded.stored[event.event_id], call.fingerprint, name), None))
                return
            mine = loaded.view(event.customer_id, n)
            if mine is None:  # stored by a concurrent call between the load's two looks
                raise Stale(snap)
            when = event.occurred_at
            candidates, skipped, currency = judge_event(snap, event, sp.locked_profile(mine, snap, plan, when))
            if not plan.covers(candidates, when):
                raise Stale(snap)
            out = settle(candidates, sp.usage_of(candidates, mine, when), when, currency, self.now())
            check_awardable(out, "occurred_at")
        except Stale:
            group.stale.append(call)
            return
        except DomainError as exc:
            group.answers.append((call, None, exc))
            return
        out.skipped[:0] = skipped
        score = codec.score_bytes(out, merchant_id=event.merchant_id, customer_id=event.customer_id,
                                  event_id=event.event_id)
        rows = sp.award_rows(candidates, out)
        group.rows.append(EventRow(event.event_id, event.customer_id, currency, call.fingerprint, codec.pack(score),
                                   rows))
        loaded.paid(event.customer_id, rows)  # the next calls of the group see what this one paid
        group.answers.append((call, score, None))

