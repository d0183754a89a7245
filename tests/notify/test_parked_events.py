"""An event notify cannot process is parked with its error and the follower moves on;
ops list the parked events and retry them once the cause is gone (issue 15, point 1).
Real rules, wallet and notify over gRPC on PostgreSQL; the cause is a real constraint
violation on notify's own table."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N
from cashback.wallet.v1 import wallet_pb2
from sqlalchemy import text

from tests.notify.stack import eventually, irr_order, notify_stack
from tests.support.servers import auth

POISON = "ALTER TABLE notify_credits ADD CONSTRAINT test_poison CHECK (customer_id <> 'c-poison')"


async def test_an_event_that_cannot_be_processed_is_parked_listed_and_retried_while_others_go_out(pg_url):
    async with notify_stack(pg_url) as s:
        await s.campaign(currency="IRR", bps=1000, pending_days=14)
        await s.contact("c-poison", "09121111111")
        await s.contact("c-fa", "09122222222")
        async with s.notify.db.write() as conn:
            await conn.execute(text(POISON))
        now = datetime.now(UTC)
        for order_id, customer in (("o-1", "c-poison"), ("o-2", "c-fa")):
            await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order(order_id, customer, 1_000_000, now)),
                                 metadata=auth("checkout"))
        # The event after the poisoned one is processed: its message goes out.
        await eventually(lambda: s.kavenegar.to("09122222222"))
        parked = (await s.n.ListParkedEvents(N.ListParkedEventsRequest(merchant_id="m1"),
                                             metadata=auth("ops"))).events
        assert [(p.customer_id, p.attempts) for p in parked] == [("c-poison", 1)]
        assert parked[0].error == "database: CheckViolationError"  # the driver's class, never the values
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await s.n.ListParkedEvents(N.ListParkedEventsRequest(merchant_id="m1"), metadata=auth("checkout"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

        again = await s.n.RetryParkedEvents(N.RetryParkedEventsRequest(merchant_id="m1"), metadata=auth("ops"))
        assert list(again.processed_event_ids) == [] and again.still_parked[0].attempts == 2

        async with s.notify.db.write() as conn:
            await conn.execute(text("ALTER TABLE notify_credits DROP CONSTRAINT test_poison"))
        fixed = await s.n.RetryParkedEvents(N.RetryParkedEventsRequest(merchant_id="m1",
                                                                       event_ids=[parked[0].event_id]),
                                            metadata=auth("ops"))
        assert list(fixed.processed_event_ids) == [parked[0].event_id] and not fixed.still_parked
        await eventually(lambda: s.kavenegar.to("09121111111"))
        left = (await s.n.ListParkedEvents(N.ListParkedEventsRequest(merchant_id="m1"), metadata=auth("ops"))).events
    assert list(left) == []
