"""Scoring reads campaigns from the in-memory index: the SQL a ScoreOrder runs
does not grow with the number of campaigns, and the customer is read once."""

from __future__ import annotations

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from tests.rules.builders import campaign, line, order
from tests.support.servers import auth
from tests.support.sql import recorded

OPS, SVC = auth("ops"), auth("service")


async def _statements_for_one_order(stub, rules, order_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    # Warm the index first, so what is counted is the steady state.
    await stub.QuoteOrder(rules_pb2.QuoteOrderRequest(order=order("warm", line("a", 1000))), metadata=SVC)
    with recorded(rules.db) as seen:
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order(order_id, line("a", 1000))), metadata=SVC)
    return [sql for sql, _ in seen]


async def test_scoring_runs_the_same_sql_for_one_campaign_or_forty(stub, rules) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("paying", percent_bps=1000)),
                              metadata=OPS)
    few = await _statements_for_one_order(stub, rules, "o1")
    for i in range(40):  # app-only campaigns: they cannot pay on a web order
        c = campaign(f"app{i}", percent_bps=500, channels=[rules_pb2.CHANNEL_APP])
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    many = await _statements_for_one_order(stub, rules, "o2")
    assert len(many) == len(few)
    # The profile is read once: by rules_score_load(), under the customer's lock.
    assert sum("rules_customers" in s or "rules_score_load" in s for s in many) == 1, many


async def test_an_absurdly_large_order_is_invalid_argument_not_an_overflow(stub) -> None:
    huge = order("o1", line("a", 2**62, quantity=4))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=huge), metadata=SVC)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
