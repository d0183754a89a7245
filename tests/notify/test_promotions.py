"""Promotions over real gRPC with the real rules, wallet and notify on PostgreSQL,
SMS to the local Kavenegar-compatible server: the audience is rules' segment,
each customer gets one message (no wallet needed), opt-outs and customers with
no contact are suppressed, Persian SMS carry «لغو۱۱» within their segment count,
the scheduler sends at send_at and an interrupted run resumes without duplicates."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from sqlalchemy import func, select

from cashback_kit.errors import Unavailable
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.rules_client import RulesGateway
from cashback_services.notify.domain.promotions import SEGMENT_NAMES
from cashback_services.notify.domain.rendering import sms_encoding_and_segments
from cashback_services.notify.service_layer.promotions import Promotions
from cashback_services.rules.domain.rfm import SEGMENTS
from tests.notify.stack import NotifyStack, eventually, notify_stack
from tests.support.servers import auth
from tests.wallet.grpc_helpers import violations

OPS = auth("ops")
FA_TEXT = "{% if shop %}{{ shop }}: {% endif %}دلمان برایتان تنگ شده! تا پایان هفته ۲۰٪ تخفیف ویژهٔ شماست"
EN_TEXT = "{% if shop %}{{ shop }}: {% endif %}we miss you! 20% off everything until Friday."


def test_notify_knows_the_same_segment_names_as_rules() -> None:
    assert SEGMENT_NAMES == SEGMENTS


def _past(order_id: str, customer: str, amount: int, days_ago: float) -> rules_pb2.Order:
    o = rules_pb2.Order(
        merchant_id="m1",
        order_id=order_id,
        customer_id=customer,
        currency_code="IRR",
        channel=rules_pb2.CHANNEL_WEB,
        payment_method="card",
        lines=[
            rules_pb2.OrderLine(
                sku="past-order", quantity=1, unit_price=common_pb2.Money(currency_code="IRR", amount_minor=amount)
            )
        ],
    )
    o.placed_at.FromDatetime(datetime.now(UTC) - timedelta(days=days_ago))
    return o


async def history(s: NotifyStack, customers: int = 30) -> dict[str, str]:
    """Imported orders spread over the year; each customer's segment once rules computed them."""
    orders = [
        _past(f"c{k:02d}-{j}", f"c{k:02d}", 100_000 * (k % 6 + 1), 11 * k + 25 * j)
        for k in range(customers)
        for j in range(k % 4 + 1)
    ]
    started = datetime.now(UTC)
    await s.r.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id="m1", orders=orders), metadata=OPS)

    async def computed() -> bool:
        got = await s.r.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=OPS)
        return got.HasField("computed_at") and got.computed_at.ToDatetime(tzinfo=UTC) >= started

    await eventually(computed, within=20)
    out = {}
    for k in range(customers):
        req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=f"c{k:02d}")
        out[f"c{k:02d}"] = (await s.r.GetCustomerProfile(req, metadata=OPS)).profile.rfm.segment
    return out


def phone(customer: str) -> str:
    return f"+98912000{int(customer[1:]):04d}"


def promotion(promotion_id: str, segments: tuple[str, ...] = ("at_risk",), **fields) -> N.CreatePromotionRequest:  # type: ignore[no-untyped-def]
    req = N.CreatePromotionRequest(
        merchant_id="m1", promotion_id=promotion_id, name="we miss you", channels=[N.CHANNEL_SMS], **fields
    )
    req.audience.segments.extend(segments)
    if not fields.get("texts"):
        req.texts.add(locale="fa", sms_body=FA_TEXT)
        req.texts.add(locale="en", sms_body=EN_TEXT)
    return req


async def listed(s: NotifyStack, promotion_id: str) -> N.Promotion:
    resp = await s.n.ListPromotions(N.ListPromotionsRequest(merchant_id="m1"), metadata=OPS)
    return next(p for p in resp.promotions if p.promotion_id == promotion_id)


async def test_a_promotion_to_at_risk_reaches_each_of_them_once_with_the_opt_out_line(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s)
        at_risk = sorted(c for c, seg in segments.items() if seg == "at_risk")
        assert len(at_risk) >= 4, segments
        opted_out, no_contact = at_risk[0], at_risk[1]
        await s.n.SetNotifyPolicy(
            N.SetNotifyPolicyRequest(
                policy=N.NotifyPolicy(
                    merchant_id="m1", shop_name="باران", notify_on_credit=True, notify_on_available=True
                )
            ),
            metadata=OPS,
        )
        for c in segments:
            if c != no_contact:
                await s.contact(c, phone(c))
        contact = N.Contact(
            merchant_id="m1",
            customer_id=opted_out,
            phone_e164=phone(opted_out),
            locale="fa-IR",
            timezone="Asia/Tehran",
            sms_opt_in=False,
        )
        await s.n.UpsertContact(N.UpsertContactRequest(contact=contact), metadata=OPS)

        created = (await s.n.CreatePromotion(promotion("yalda"), metadata=OPS)).promotion
        assert created.status == N.PROMOTION_STATUS_SCHEDULED
        reached = sorted(set(at_risk) - {opted_out, no_contact})
        # The leader's scheduler picks it up (it polls every 5 s) and the senders send.
        await eventually(lambda: len(s.kavenegar.messages) >= len(reached), within=30)
        await eventually(lambda: _status_is(s, "yalda", N.PROMOTION_STATUS_SENT), within=10)
        again = (await s.n.CreatePromotion(promotion("yalda"), metadata=OPS)).promotion  # the same request again
        await asyncio.sleep(6)  # another reconcile round: nothing more to send
        done = await listed(s, "yalda")
        async with s.notify.db.read() as conn:
            rows = (await conn.execute(select(t.deliveries).where(t.deliveries.c.promotion_id == "yalda"))).mappings()
            deliveries = [dict(r) for r in rows]

    assert again.promotion_id == "yalda" and again.created_at == created.created_at
    receptors = Counter(m["receptor"] for m in s.kavenegar.messages)
    assert receptors == Counter("0" + phone(c)[3:] for c in reached)  # exactly them, once each
    for m in s.kavenegar.messages:
        assert m["message"].startswith("باران: دلمان برایتان تنگ شده!") and m["message"].endswith("\nلغو۱۱")
    by_customer = {d["customer_id"]: d for d in deliveries}
    assert by_customer[opted_out]["status"] == "SUPPRESSED" and no_contact not in by_customer
    sample = by_customer[reached[0]]
    assert (sample["kind"], sample["encoding"], sample["segments"]) == ("promotion", "UCS-2", 2)
    assert sms_encoding_and_segments(sample["body"]) == ("UCS-2", 2)
    c = done.counts
    assert (c.matched, c.deliveries_created, c.sent, c.suppressed, c.no_contact, c.failed, c.pending) == (
        len(at_risk),
        len(at_risk) - 1,
        len(reached),
        2,
        1,
        0,
        0,
    )
    assert done.HasField("finished_at")


async def _status_is(s: NotifyStack, promotion_id: str, status: int) -> bool:
    return (await listed(s, promotion_id)).status == status


async def test_a_minimum_balance_picks_wallet_customers_and_others_have_nothing_available(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s, customers=12)
        rich, poor = "c03", "c04"
        for c in segments:
            await s.contact(c, phone(c), locale="en", zone="UTC")
        for c, amount in ((rich, 500_000), (poor, 1_000)):
            await s.w.AdjustBalance(
                wallet_pb2.AdjustBalanceRequest(
                    merchant_id="m1",
                    customer_id=c,
                    reason="seed",
                    idempotency_key=f"seed-{c}",
                    amount=common_pb2.Money(currency_code="IRR", amount_minor=amount),
                ),
                metadata=OPS,
            )
        req = promotion("rich-only", segments=())
        req.audience.min_available.CopyFrom(common_pb2.Money(currency_code="IRR", amount_minor=100_000))
        del req.texts[:]
        req.texts.add(locale="en", sms_body="You have {{ balance }} to spend with us this week.")
        await s.n.CreatePromotion(req, metadata=OPS)
        await eventually(lambda: _status_is(s, "rich-only", N.PROMOTION_STATUS_SENT), within=20)
        done = await listed(s, "rich-only")
        async with s.notify.db.read() as conn:
            bodies = {
                r[0]: r[1]
                for r in await conn.execute(
                    select(t.deliveries.c.customer_id, t.deliveries.c.body).where(
                        t.deliveries.c.promotion_id == "rich-only"
                    )
                )
            }
    assert done.counts.matched == 1 and list(bodies) == [rich]
    # Their real balance; an Iranian number gets the advertising line whatever the language.
    assert bodies[rich] == "You have 50,000 toman to spend with us this week.\nلغو۱۱"


class _RulesDropsAfter:
    """The real rules gateway, whose stream of customers breaks after `n` (rules going
    away, or the process dying, mid-send)."""

    def __init__(self, real: RulesGateway, n: int) -> None:
        self.real, self.n = real, n

    async def customers(self, *args) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
        count = 0
        async for c in self.real.customers(*args):
            if count == self.n:
                raise Unavailable("rules UNAVAILABLE: connection lost")
            count += 1
            yield c


async def test_a_run_interrupted_mid_send_is_resumed_by_the_scheduler_without_a_duplicate(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s, customers=20)
        for c in segments:
            await s.contact(c, phone(c))
        audience = sorted(segments)
        # The leader's date job fires at send_at; just before, a run breaks after 7 customers (rules
        # going away, or a process dying mid-send) and leaves the promotion SENDING.
        send_at = datetime.now(UTC) + timedelta(seconds=15)
        req = promotion("resume", segments=())
        req.send_at.FromDatetime(send_at)
        await s.n.CreatePromotion(req, metadata=OPS)
        real = RulesGateway(s.notify.settings)
        svc = s.notify.running.parts.servicer.s  # the process's own service: same renderer and database
        later = lambda: send_at + timedelta(seconds=1)  # noqa: E731
        broken = Promotions(s.notify.db, None, _RulesDropsAfter(real, 7), svc.renderer, later)  # type: ignore[arg-type]
        with pytest.raises(Unavailable):
            await broken.run("m1", "resume")
        assert (await listed(s, "resume")).status == N.PROMOTION_STATUS_SENDING
        async with s.notify.db.read() as conn:
            first_run = (
                await conn.execute(
                    select(func.count()).select_from(t.deliveries).where(t.deliveries.c.promotion_id == "resume")
                )
            ).scalar_one()
        await eventually(lambda: _status_is(s, "resume", N.PROMOTION_STATUS_SENT), within=40)
        whole = Promotions(s.notify.db, None, real, svc.renderer, later)
        assert await whole.run("m1", "resume") is None  # sent: a later run does nothing
        async with s.notify.db.read() as conn:
            per_customer = dict(
                (
                    await conn.execute(
                        select(t.deliveries.c.customer_id, func.count())
                        .where(t.deliveries.c.promotion_id == "resume")
                        .group_by(t.deliveries.c.customer_id)
                    )
                ).all()
            )
        await eventually(lambda: len(s.kavenegar.messages) >= len(audience))
        await asyncio.sleep(1)
        finished = await listed(s, "resume")
        await real.close()
    assert first_run == 7  # the customers before rules went away
    assert finished.counts.matched == len(audience) and finished.counts.sent == len(audience)
    assert Counter(m["receptor"] for m in s.kavenegar.messages) == Counter("0" + phone(c)[3:] for c in audience)
    assert per_customer == {c: 1 for c in audience}


async def test_a_scheduled_promotion_waits_for_send_at_and_a_cancelled_one_never_goes(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s, customers=8)
        for c in segments:
            await s.contact(c, phone(c))
        soon = promotion("soon", segments=())
        soon.send_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=8))
        await s.n.CreatePromotion(soon, metadata=OPS)
        never = promotion("never", segments=())
        never.send_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=4))
        await s.n.CreatePromotion(never, metadata=OPS)
        cancelled = (
            await s.n.CancelPromotion(N.CancelPromotionRequest(merchant_id="m1", promotion_id="never"), metadata=OPS)
        ).promotion
        await asyncio.sleep(5)
        early = await listed(s, "soon")
        await eventually(lambda: _status_is(s, "soon", N.PROMOTION_STATUS_SENT), within=25)
        await eventually(lambda: len(s.kavenegar.messages) >= len(segments), within=15)
        await asyncio.sleep(1)
        never_after = await listed(s, "never")
    assert cancelled.status == N.PROMOTION_STATUS_CANCELLED
    assert early.status == N.PROMOTION_STATUS_SCHEDULED and early.counts.deliveries_created == 0
    assert never_after.status == N.PROMOTION_STATUS_CANCELLED and never_after.counts.deliveries_created == 0
    assert len(s.kavenegar.messages) == len(segments)


async def _refused(s: NotifyStack, req: N.CreatePromotionRequest) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await s.n.CreatePromotion(req, metadata=OPS)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return f"{caught.value.details()} {violations(caught.value)}"  # the message and the BadRequest's field paths


async def test_a_bad_promotion_is_refused_naming_the_field_and_nothing_is_stored(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        assert "audience.segments[1]" in await _refused(s, promotion("p1", segments=("at_risk", "big_spenders")))
        empty = promotion("p2")
        empty.texts[1].sms_body = " "
        assert "texts[1].sms_body" in await _refused(s, empty)
        email = promotion("p3")
        email.channels.append(N.CHANNEL_EMAIL)
        email.texts[0].email_body = "سلام"
        assert "texts[0].email_subject" in await _refused(s, email)
        # 130 Persian characters: two segments alone, three with the line «لغو۱۱» a +98 number gets.
        long_fa = promotion("p4")
        long_fa.texts[0].sms_body = "ت" * 130
        assert sms_encoding_and_segments("ت" * 130) == ("UCS-2", 2)
        details = await _refused(s, long_fa)
        assert "texts[0].sms_body" in details and "3 segments" in details
        broken = promotion("p5")
        broken.texts[1].sms_body = "{{ balance + 1 }}"
        assert "texts[1].sms_body" in await _refused(s, broken)
        twice = promotion("p6")
        twice.texts[1].locale = "fa-IR"
        assert "texts[1].locale" in await _refused(s, twice)
        listed_now = await s.n.ListPromotions(N.ListPromotionsRequest(merchant_id="m1"), metadata=OPS)
    assert list(listed_now.promotions) == []


async def test_preview_shows_a_persian_promotion_with_its_opt_out_line_and_segments(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        req = N.PreviewTemplateRequest(
            merchant_id="m1",
            kind=N.MESSAGE_KIND_PROMOTION,
            channel=N.CHANNEL_SMS,
            locale="fa",
            template=N.Template(body=FA_TEXT),
        )
        fa = (await s.n.PreviewTemplate(req, metadata=OPS)).rendered
        req.locale, req.template.body = "en", EN_TEXT
        en = (await s.n.PreviewTemplate(req, metadata=OPS)).rendered
    assert fa.body.endswith("\nلغو۱۱") and (fa.encoding, fa.segments) == sms_encoding_and_segments(fa.body)
    assert (fa.encoding, fa.segments) == ("UCS-2", 1)  # 64 characters with the line
    assert en.body == "we miss you! 20% off everything until Friday." and (en.encoding, en.segments) == ("GSM-7", 1)


async def test_quiet_hours_hold_a_promotion_and_its_creation_and_cancel_are_audited(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s, customers=6)
        for c in segments:
            await s.contact(c, phone(c))
        tehran = datetime.now(ZoneInfo("Asia/Tehran"))
        start, end = (tehran - timedelta(hours=1)).strftime("%H:%M"), (tehran + timedelta(hours=2)).strftime("%H:%M")
        await s.n.SetNotifyPolicy(
            N.SetNotifyPolicyRequest(
                policy=N.NotifyPolicy(
                    merchant_id="m1",
                    quiet_hours_start=start,
                    quiet_hours_end=end,
                    notify_on_credit=True,
                    notify_on_available=True,
                )
            ),
            metadata=OPS,
        )
        await s.n.CreatePromotion(promotion("night", segments=()), metadata=OPS)
        await eventually(lambda: _status_is(s, "night", N.PROMOTION_STATUS_SENT), within=20)
        waiting = await listed(s, "night")
        async with s.notify.db.read() as conn:
            due = [
                r[0]
                for r in await conn.execute(
                    select(t.deliveries.c.scheduled_for).where(t.deliveries.c.promotion_id == "night")
                )
            ]
        cancelled = (
            await s.n.CancelPromotion(N.CancelPromotionRequest(merchant_id="m1", promotion_id="night"), metadata=OPS)
        ).promotion
        audit = (await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1"), metadata=OPS)).events
    assert s.kavenegar.messages == []  # nothing during the quiet hours
    assert waiting.counts.pending == len(segments) and len(due) == len(segments)
    assert all(d.astimezone(ZoneInfo("Asia/Tehran")).strftime("%H:%M") == end for d in due)
    # Cancelled while waiting: what had not gone out never will.
    assert cancelled.status == N.PROMOTION_STATUS_CANCELLED and cancelled.counts.suppressed == len(segments)
    actions = [(e.action, e.target) for e in audit]
    assert ("CreatePromotion", "night") in actions and ("CancelPromotion", "night") in actions


async def test_an_email_promotion_goes_in_the_customers_language_else_in_the_first_text(pg_url) -> None:
    async with notify_stack(pg_url) as s:
        segments = await history(s, customers=3)
        langs = {"c00": ("en", "UTC"), "c01": ("fa-IR", "Asia/Tehran"), "c02": ("ar-SA", "Asia/Riyadh")}
        for c, (locale, zone) in langs.items():
            await s.contact(c, "", locale=locale, zone=zone, email=f"{c}@example.com")
        req = N.CreatePromotionRequest(merchant_id="m1", promotion_id="mail", name="mail", channels=[N.CHANNEL_EMAIL])
        req.texts.add(locale="en", email_subject="20% off until Friday", email_body="Hello {{ customer_id }}!")
        req.texts.add(locale="fa", email_subject="۲۰٪ تخفیف تا جمعه", email_body="سلام {{ customer_id }}!")
        await s.n.CreatePromotion(req, metadata=OPS)
        await eventually(lambda: _status_is(s, "mail", N.PROMOTION_STATUS_SENT), within=20)
        async with s.notify.db.read() as conn:
            rows = {
                r[0]: (r[1], r[2], r[3])
                for r in await conn.execute(
                    select(
                        t.deliveries.c.customer_id, t.deliveries.c.channel, t.deliveries.c.subject, t.deliveries.c.body
                    ).where(t.deliveries.c.promotion_id == "mail")
                )
            }
    assert sorted(segments) == sorted(rows)
    assert rows["c00"] == ("email", "20% off until Friday", "Hello c00!")
    assert rows["c01"] == ("email", "۲۰٪ تخفیف تا جمعه", "سلام c01!")
    assert rows["c02"] == ("email", "20% off until Friday", "Hello c02!")  # no Arabic text: the first one
