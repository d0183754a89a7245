"""Promotions: create (checked, test-rendered, idempotent by the merchant's
promotion id), list with what each reached, cancel, and run: the audience from
rules (and the wallet, with a minimum balance) turned into deliveries, once per
customer and channel whatever restarts happen (the dedupe key names the
promotion; a run interrupted mid-way is run again from the start and creates
only what is missing)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select, tuple_, update

from cashback_kit import audit, paging
from cashback_kit.db import Database
from cashback_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.adapters.rules_client import RulesGateway
from cashback_services.notify.adapters.store import insert_ignore
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.domain.planning import Message, for_customer
from cashback_services.notify.domain.promotions import KIND, OPEN, PromotionDraft, PromotionText, templates_for
from cashback_services.notify.service_layer.deliveries import create as create_deliveries
from cashback_services.notify.service_layer.promotion_checks import check_draft, check_jobs

P, D = t.promotions, t.deliveries
# How often a long run looks whether it was cancelled meanwhile (customers).
CANCEL_CHECK_EVERY = 200


def _after(raw: object) -> tuple[datetime, str]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw)):
        raise ValueError("bad position")
    return datetime.fromisoformat(raw[0]), raw[1]


def texts_of(row: dict[str, Any]) -> tuple[PromotionText, ...]:
    return tuple(PromotionText(**x) for x in row["texts"])


class Promotions:
    def __init__(
        self,
        db: Database,
        wallet: WalletGateway | None,
        rules: RulesGateway | None,
        renderer: TemplateRenderer,
        clock: Callable[[], datetime],
    ) -> None:
        self.db, self.wallet, self.rules, self.renderer, self.clock = db, wallet, rules, renderer, clock

    async def create(self, d: PromotionDraft) -> dict[str, Any]:
        now = self.clock()
        check_draft(d, now)
        # Every text with every shape of values, in the render workers: a template that fails, or an
        # SMS past 2 segments («لغو۱۱» included for Persian), is refused naming its text.
        jobs = check_jobs(d)
        results = await self.renderer.render_all([job for _, job in jobs], stop_at_failure=True)
        for (field, _), result in zip(jobs, results, strict=False):
            if isinstance(result, str):
                raise InvalidArgument(result, field=field)
        a = d.audience
        minimum = a.min_available
        fields = {
            "merchant_id": d.merchant_id,
            "name": d.name.strip(),
            "audience": {
                "segments": list(a.segments),
                "tiers": list(a.tiers),
                "min_currency": minimum.currency if minimum else "",
                "min_amount": minimum.minor if minimum else 0,
                "inactive_days": a.inactive_days,
            },
            "channels": ",".join(sorted(set(d.channels))),
            "texts": [
                {
                    "locale": x.locale,
                    "sms_body": x.sms_body,
                    "email_subject": x.email_subject,
                    "email_body": x.email_body,
                }
                for x in d.texts
            ],
        }
        asked = {**fields, "send_at": d.send_at.isoformat() if d.send_at else None}
        fingerprint = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()
        promotion_id = d.promotion_id or f"pr_{uuid.uuid4().hex[:16]}"
        send_at = max(d.send_at or now, now)
        row = {
            **fields,
            "promotion_id": promotion_id,
            "send_at": send_at,
            "status": "SCHEDULED",
            "fingerprint": fingerprint,
            "created_at": now,
        }
        async with self.db.write() as conn:
            fresh = (await conn.execute(insert_ignore(P, row))).rowcount
            if fresh:
                await audit.record(
                    conn,
                    t.audit,
                    at=now,
                    merchant_id=d.merchant_id,
                    action="CreatePromotion",
                    target=promotion_id,
                    change={**fields, "send_at": send_at.isoformat()},
                )
        stored = await self.get(d.merchant_id, promotion_id)
        check_same(stored["fingerprint"], fingerprint, f"promotion_id {promotion_id!r}")
        return stored

    async def get(self, merchant_id: str, promotion_id: str) -> dict[str, Any]:
        rows = await self._with_counts(
            select(P).where(P.c.merchant_id == merchant_id, P.c.promotion_id == promotion_id), merchant_id
        )
        if not rows:
            raise NotFound(f"no promotion {promotion_id!r}")
        return rows[0]

    async def page(self, merchant_id: str, page_size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        """Newest first, each with its delivery counts (one grouped read per page)."""
        size = paging.page_size(page_size)
        query = paging.scope("ListPromotions", merchant_id)
        after = paging.read(token, query, _after)
        q = select(P).where(P.c.merchant_id == merchant_id)
        if after is not None:
            q = q.where(tuple_(P.c.created_at, P.c.promotion_id) < tuple_(after[0], after[1]))
        rows = await self._with_counts(
            q.order_by(P.c.created_at.desc(), P.c.promotion_id.desc()).limit(size + 1), merchant_id
        )
        last = rows[size - 1] if len(rows) > size else None
        return rows[:size], paging.issue(query, [last["created_at"].isoformat(), last["promotion_id"]]) if last else ""

    async def _with_counts(self, q: Any, merchant_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = [dict(r) for r in (await conn.execute(q)).mappings()]
            ids = [r["promotion_id"] for r in rows]
            counts: dict[str, dict[str, int]] = {i: {} for i in ids}
            if ids:
                for pid, status, n in await conn.execute(
                    select(D.c.promotion_id, D.c.status, func.count())
                    .where(D.c.merchant_id == merchant_id, D.c.promotion_id.in_(ids))
                    .group_by(D.c.promotion_id, D.c.status)
                ):
                    counts[pid][status] = int(n)
        for r in rows:
            r["counts"] = counts[r["promotion_id"]]
        return rows

    async def cancel(self, merchant_id: str, promotion_id: str) -> dict[str, Any]:
        """Nothing more is created; its deliveries still waiting (quiet hours, retries) are
        SUPPRESSED. A delivery a sender already holds may still go out."""
        before = await self.get(merchant_id, promotion_id)
        if before["status"] == "CANCELLED":
            return before
        now = self.clock()
        async with self.db.write() as conn:
            await conn.execute(
                update(P)
                .where(P.c.merchant_id == merchant_id, P.c.promotion_id == promotion_id)
                .values(status="CANCELLED", finished_at=now)
            )
            stopped = (
                await conn.execute(
                    update(D)
                    .where(D.c.merchant_id == merchant_id, D.c.promotion_id == promotion_id, D.c.status == "SCHEDULED")
                    .values(status="SUPPRESSED", error="the promotion was cancelled")
                )
            ).rowcount
            await audit.record(
                conn,
                t.audit,
                at=now,
                merchant_id=merchant_id,
                action="CancelPromotion",
                target=promotion_id,
                change={"was": before["status"], "suppressed": stopped},
            )
        return await self.get(merchant_id, promotion_id)

    async def open_promotions(self) -> list[tuple[str, str, datetime]]:
        """(merchant, promotion, send_at) of every promotion not yet sent: for the scheduler."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(P.c.merchant_id, P.c.promotion_id, P.c.send_at).where(P.c.status.in_(OPEN))
            )
            return [(r[0], r[1], r[2]) for r in rows]

    async def run(self, merchant_id: str, promotion_id: str) -> dict[str, Any] | None:
        """Send a due promotion (SCHEDULED, or SENDING when a run was interrupted): None when
        it is not due, or cancelled, or sent already."""
        now = self.clock()
        async with self.db.write() as conn:
            row = (
                (
                    await conn.execute(
                        update(P)
                        .where(
                            P.c.merchant_id == merchant_id,
                            P.c.promotion_id == promotion_id,
                            P.c.status.in_(OPEN),
                            P.c.send_at <= now,
                        )
                        .values(status="SENDING", started_at=func.coalesce(P.c.started_at, now))
                        .returning(*P.c)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        if self.rules is None:
            raise FailedPrecondition("notify has no rules connection (RULES_TARGET) for a promotion's audience")
        matched = await self._deliver(dict(row), now)
        async with self.db.write() as conn:
            reached = (
                await conn.execute(
                    select(func.count(func.distinct(D.c.customer_id))).where(
                        D.c.merchant_id == merchant_id, D.c.promotion_id == promotion_id
                    )
                )
            ).scalar_one()
            await conn.execute(
                update(P)
                .where(P.c.merchant_id == merchant_id, P.c.promotion_id == promotion_id, P.c.status == "SENDING")
                .values(status="SENT", matched=matched, no_contact=max(0, matched - reached), finished_at=self.clock())
            )
        return await self.get(merchant_id, promotion_id)

    async def _deliver(self, row: dict[str, Any], now: datetime) -> int:
        assert self.rules is not None
        a = row["audience"]
        merchant_id, promotion_id = row["merchant_id"], row["promotion_id"]
        minimum = Money(a["min_currency"], a["min_amount"]) if a["min_currency"] else None
        balances: dict[str, Money] = {}
        if minimum is not None and minimum.minor > 0:
            if self.wallet is None:
                raise FailedPrecondition("notify has no wallet connection for a minimum balance")
            # Customers without a wallet have nothing available, so only these can match.
            balances = {b.customer_id: b.available async for b in self.wallet.balances(merchant_id, minimum, None)}
        channels = tuple(c for c in row["channels"].split(",") if c)
        texts = partial(templates_for, texts_of(row))
        matched = 0
        async for customer_id in self.rules.customers(
            merchant_id, tuple(a["segments"]), tuple(a["tiers"]), a["inactive_days"]
        ):
            if minimum is not None and minimum.minor > 0 and customer_id not in balances:
                continue
            matched += 1
            if matched % CANCEL_CHECK_EVERY == 0 and await self._cancelled(merchant_id, promotion_id):
                break
            # {{ balance }} means something only with a minimum; without one it prints zero ("XXX": no currency).
            available = balances.get(customer_id) or Money(minimum.currency if minimum else "XXX", 0)
            context = for_customer(
                kind=KIND, amount=available, balance=available, customer_id=customer_id, merchant_id=merchant_id
            )
            message = Message(merchant_id, customer_id, KIND, f"promotion:{promotion_id}", context)
            async with self.db.write() as conn:
                await create_deliveries(
                    conn,
                    message,
                    now,
                    channels=channels,
                    renderer=self.renderer,
                    texts=texts,
                    promotion_id=promotion_id,
                )
        return matched

    async def _cancelled(self, merchant_id: str, promotion_id: str) -> bool:
        async with self.db.read() as conn:
            status = (
                await conn.execute(
                    select(P.c.status).where(P.c.merchant_id == merchant_id, P.c.promotion_id == promotion_id)
                )
            ).scalar_one()
        return bool(status == "CANCELLED")
