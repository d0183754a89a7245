from cashback.rules.v1 import rules_pb2

from tests.rules.builders import campaign, line, order
from tests.support.servers import auth


async def test_a_ten_percent_campaign_pays_fifty_on_five_hundred(stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                              metadata=auth("ops"))
    got = await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o1", line("a", 50000))),
                                metadata=auth("service"))
    assert got.score.total.amount_minor == 5000, got
