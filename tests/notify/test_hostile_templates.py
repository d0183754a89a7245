"""A hostile merchant's template (issue 15, points 1 and 2), against the real rules,
wallet and notify over gRPC on PostgreSQL: refused at SetTemplate when any realistic
value breaks it, stopped within its time budget in a worker process while other
merchants are answered, and, when one was stored anyway, failing only its own delivery
while the stream moves on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N
from cashback.wallet.v1 import wallet_pb2

from cashback_services.notify.adapters import tables as t
from tests.notify.stack import eventually, irr_order, notify_stack
from tests.support.servers import auth

RECURSIVE = "{% macro f() %}{{ f() }}{% endmacro %}{% if customer_id %}{{ f() }}{% else %}Hi {{ amount }}{% endif %}"
NESTED_LOOPS = "{% for i in range(400) %}{% for j in range(100000) %}{% endfor %}{% endfor %}Hi {{ amount }}"


def _template(merchant: str, body: str, locale: str = "en") -> N.SetTemplateRequest:
    return N.SetTemplateRequest(template=N.Template(merchant_id=merchant, kind=N.MESSAGE_KIND_CREDITED,
                                                    channel=N.CHANNEL_SMS, locale=locale, body=body))


async def _refusal(call) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_template_that_recurses_only_for_a_real_customer_id_is_refused(pg_url):
    async with notify_stack(pg_url) as s:
        err = await _refusal(s.n.SetTemplate(_template("m1", RECURSIVE), metadata=auth("ops")))
        nul = await _refusal(s.n.SetTemplate(_template("m1", 'Hi{{ "\\x00" }} {{ amount }}'), metadata=auth("ops")))
        ok = await s.n.SetTemplate(_template("m1", "{% if customer_id %}Hi {{ amount }}{% endif %}"),
                                   metadata=auth("ops"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "RecursionError" in err.details()
    assert nul.code() == grpc.StatusCode.INVALID_ARGUMENT and "U+0000" in nul.details()
    assert ok.template.body.startswith("{% if customer_id %}")


async def test_nested_loops_stop_at_the_budget_while_another_merchants_calls_are_answered(pg_url):
    async with notify_stack(pg_url) as s:
        await s.n.SetTemplate(_template("m2", "Hello {{ amount }}"), metadata=auth("ops"))  # workers started
        order: list[str] = []

        async def hostile() -> grpc.aio.AioRpcError:
            err = await _refusal(s.n.SetTemplate(_template("m1", NESTED_LOOPS), metadata=auth("ops")))
            order.append("hostile")
            return err

        async def neighbour() -> None:
            await asyncio.sleep(0.1)  # the hostile render is under way
            await s.n.GetNotifyPolicy(N.GetNotifyPolicyRequest(merchant_id="m2"), metadata=auth("ops"))
            await s.n.SetTemplate(_template("m2", "Hi again {{ amount }}"), metadata=auth("ops"))
            order.append("neighbour")

        started = asyncio.get_running_loop().time()
        err, _ = await asyncio.gather(hostile(), neighbour())
        took = asyncio.get_running_loop().time() - started
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "took longer than" in err.details()
    # The neighbour (a read and a render of its own) finished while the hostile render was still
    # running: nothing of it ran on the event loop.
    assert order == ["neighbour", "hostile"]
    assert took < 4.3  # issue 15 measured 4.3 s for this template rendering to the end


async def test_an_email_body_past_the_output_cap_is_refused(pg_url):
    async with notify_stack(pg_url) as s:
        big = "{% for i in range(1000) %}" + "x" * 100 + "{% endfor %}"
        err = await _refusal(s.n.SetTemplate(N.SetTemplateRequest(template=N.Template(
            merchant_id="m1", kind=N.MESSAGE_KIND_CREDITED, channel=N.CHANNEL_EMAIL, locale="en", subject="s",
            body=big)), metadata=auth("ops")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "more than 64000 characters" in err.details()


async def test_a_stored_template_that_fails_fails_its_own_delivery_and_the_stream_moves_on(pg_url):
    async with notify_stack(pg_url) as s:
        await s.campaign(currency="IRR", bps=1000, pending_days=14)
        await s.contact("c-bad", "+966501234567", locale="en", zone="Asia/Riyadh")
        await s.contact("c-fa", "09121234567", locale="fa-IR", zone="Asia/Tehran")
        # Stored as a template accepted before SetTemplate tried real values would be.
        async with s.notify.db.write() as conn:
            await conn.execute(t.templates.insert().values(
                merchant_id="m1", kind="credited", channel="sms", locale="en", subject="", body=RECURSIVE,
                updated_at=datetime.now(UTC)))
        now = datetime.now(UTC)
        for order_id, customer in (("o-bad", "c-bad"), ("o-fa", "c-fa")):
            await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order(order_id, customer, 1_000_000, now)),
                                 metadata=auth("checkout"))
        await eventually(lambda: s.kavenegar.to("09121234567"))
        bad = (await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1", customer_id="c-bad"),
                                        metadata=auth("ops"))).deliveries
        # Requeued by an operator, the text-less delivery fails again rather than going out empty.
        await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(merchant_id="m1", delivery_ids=[bad[0].delivery_id]),
                                    metadata=auth("ops"))

        async def failed_again() -> bool:
            d = (await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1", customer_id="c-bad"),
                                          metadata=auth("ops"))).deliveries[0]
            return d.status == N.DELIVERY_STATUS_FAILED and d.error.startswith("nothing to send")

        await eventually(failed_again)
    assert [(d.status, d.body) for d in bad] == [(N.DELIVERY_STATUS_FAILED, "")]
    assert bad[0].error.startswith("template: ") and "RecursionError" in bad[0].error
    assert s.twilio.messages == []
