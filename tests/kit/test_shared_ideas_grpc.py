"""The kit's shared ideas as rules, wallet and notify answer them over real gRPC.

Page tokens: every List RPC takes only the tokens it issued for the same query -- a token
of merchant m1's query pages on m1, and the same token on merchant m2, a crafted token, an
old unsigned one or a cut one is INVALID_ARGUMENT with reason INVALID_PAGE_TOKEN (never
INTERNAL). Idempotent replay: the same key with other content is ALREADY_EXISTS naming the
key (reason IDEMPOTENCY_KEY_REUSED) in every service. Amounts: one limit, 10^15 minor units,
INVALID_ARGUMENT naming each field."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N
from cashback.notify.v1 import notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2 as W
from cashback.wallet.v1 import wallet_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

from cashback_kit import paging
from cashback_kit.amounts import MAX_MINOR
from cashback_services.notify.entrypoints.bootstrap import bootstrap as notify_bootstrap
from tests.support.servers import auth, running_service
from tests.wallet.grpc_helpers import violations
from tests.wallet.stack import sar, ts

BEFORE = datetime(2100, 1, 1, tzinfo=UTC)


def _list(stub: str, rpc: str, request: Callable[[str], Any], scope: Callable[[str], str], position: Any):
    return pytest.param(stub, rpc, request, scope, position, id=f"{stub}.{rpc}")


LISTS = [
    _list("wallet", "ListTransactions", lambda m: W.ListTransactionsRequest(merchant_id=m, customer_id="c1"),
          lambda m: paging.scope("ListTransactions", m, "c1"), {"before": 10}),
    _list("wallet", "ListExpiringCredits",
          lambda m: W.ListExpiringCreditsRequest(merchant_id=m, expires_before=ts(BEFORE)),
          lambda m: paging.scope("ListExpiringCredits", m, BEFORE, None), ["c1", "SAR"]),
    _list("wallet", "ListBalances", lambda m: W.ListBalancesRequest(merchant_id=m),
          lambda m: paging.scope("ListBalances", m, None, None, None), ["c1", "SAR"]),
    _list("rules", "ListCampaigns", lambda m: rules_pb2.ListCampaignsRequest(merchant_id=m),
          lambda m: paging.scope("ListCampaigns", m, 0), 3),
    _list("notify", "ListDeliveries", lambda m: N.ListDeliveriesRequest(merchant_id=m),
          lambda m: paging.scope("ListDeliveries", m, ""), 10),
    _list("wallet", "ListAuditEvents", lambda m: W.ListAuditEventsRequest(merchant_id=m),
          lambda m: paging.scope("ListAuditEvents:wallet_audit", m, ""), 10),
    _list("notify", "ListAuditEvents", lambda m: N.ListAuditEventsRequest(merchant_id=m),
          lambda m: paging.scope("ListAuditEvents:notify_audit", m, ""), 10),
    _list("notify", "ListParkedEvents", lambda m: N.ListParkedEventsRequest(merchant_id=m),
          lambda m: paging.scope("ListParkedEvents", m), 10),
    _list("notify", "ListReminderCampaigns", lambda m: N.ListReminderCampaignsRequest(merchant_id=m),
          lambda m: paging.scope("ListReminderCampaigns", m),
          [(datetime.now(UTC) - timedelta(days=1)).isoformat(), "r1"]),
]


@pytest.fixture(scope="module")
async def stubs(pg_cluster: Any) -> AsyncIterator[dict[str, Any]]:
    url = pg_cluster.new_database_url("tokens")
    async with running_service("rules", database_url=url) as rules, \
            running_service("wallet", database_url=url, env={"RULES_TARGET": rules.target}) as wallet, \
            running_service("notify", database_url=url, env={"WALLET_TARGET": wallet.target},
                            bootstrap=notify_bootstrap) as notify:
        yield {"rules": rules_pb2_grpc.RulesServiceStub(rules.channel),
               "wallet": wallet_pb2_grpc.WalletServiceStub(wallet.channel),
               "notify": notify_pb2_grpc.NotifyServiceStub(notify.channel)}


def _reason(err: grpc.aio.AioRpcError) -> str:
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    status = status_pb2.Status.FromString(raw)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def _crafted(real: str) -> list[str]:
    payload, mac = real.split(".")
    old_style = base64.urlsafe_b64encode(json.dumps({"before": 10}).encode()).decode()
    other = base64.urlsafe_b64encode(b'{"before":-1}').decode().rstrip("=")
    return ["not a token", old_style, f"{other}.{mac}", real[:-2], f"{payload}.", "." * 3, "x" * 600,
            f"{payload}\x00.{mac}"]


@pytest.mark.parametrize(("stub", "rpc", "request_of", "scope_of", "position"), LISTS)
async def test_a_list_takes_only_the_tokens_it_issued_for_the_same_merchant_and_filters(
    stubs: dict[str, Any], stub: str, rpc: str, request_of: Callable[[str], Any],
    scope_of: Callable[[str], str], position: Any,
) -> None:
    call = getattr(stubs[stub], rpc)
    m1_token = paging.issue(scope_of("m1"), position)
    ok = request_of("m1")
    ok.page_token = m1_token
    await call(ok, metadata=auth("ops"))  # m1's own token pages m1
    for token in [m1_token, *_crafted(m1_token)]:
        bad = request_of("m2")
        bad.page_token = token
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(bad, metadata=auth("ops"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, token, refused.value.details())
        assert _reason(refused.value) == "INVALID_PAGE_TOKEN", (rpc, token)


def _campaign(campaign_id: str, bps: int, **money: int) -> rules_pb2.Campaign:
    c = rules_pb2.Campaign(merchant_id="m1", campaign_id=campaign_id, name="c", currency_code="SAR",
                           percent_bps=bps, timezone="UTC")
    for name, minor in money.items():
        getattr(c, name).CopyFrom(sar(minor))
    return c


def _reminder(campaign_id: str, minimum: int) -> N.ReminderCampaign:
    return N.ReminderCampaign(campaign_id=campaign_id, merchant_id="m1", name="r", cron="0 9 * * *",
                              timezone="UTC", min_available=sar(minimum), inactive_days=3, channels=[N.CHANNEL_SMS])


def _adjust(key: str, minor: int) -> W.AdjustBalanceRequest:
    return W.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", amount=sar(minor), reason="goodwill",
                                  idempotency_key=key)


REPLAYS = [
    pytest.param("rules", "CreateCampaign", lambda: rules_pb2.CreateCampaignRequest(campaign=_campaign("k-camp", 100)),
                 lambda: rules_pb2.CreateCampaignRequest(campaign=_campaign("k-camp", 200)), "k-camp", id="rules"),
    pytest.param("notify", "CreateReminderCampaign",
                 lambda: N.CreateReminderCampaignRequest(campaign=_reminder("k-rem", 100)),
                 lambda: N.CreateReminderCampaignRequest(campaign=_reminder("k-rem", 200)), "k-rem", id="notify"),
    pytest.param("wallet", "AdjustBalance", lambda: _adjust("k-adj", 100), lambda: _adjust("k-adj", 200), "k-adj",
                 id="wallet"),
]


@pytest.mark.parametrize(("stub", "rpc", "first", "other", "key"), REPLAYS)
async def test_the_same_key_replays_and_other_content_under_it_is_already_exists_naming_the_key(
    stubs: dict[str, Any], stub: str, rpc: str, first: Callable[[], Any], other: Callable[[], Any], key: str,
) -> None:
    call = getattr(stubs[stub], rpc)
    assert await call(first(), metadata=auth("ops")) == await call(first(), metadata=auth("ops"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(other(), metadata=auth("ops"))
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert key in (refused.value.details() or "")
    assert _reason(refused.value) == "IDEMPOTENCY_KEY_REUSED"


async def test_every_amount_past_the_one_limit_is_invalid_argument_naming_its_field(stubs: dict[str, Any]) -> None:
    too_much = MAX_MINOR + 1
    with pytest.raises(grpc.aio.AioRpcError) as campaign:
        await stubs["rules"].CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=_campaign(
            "huge", 100, budget=too_much, max_per_order=too_much, max_per_customer=too_much)), metadata=auth("ops"))
    assert campaign.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f"campaign.{n}.amount_minor" for n in ("budget", "max_per_order", "max_per_customer")} \
        <= set(violations(campaign.value))
    with pytest.raises(grpc.aio.AioRpcError) as fixed:
        c = _campaign("huge-fixed", 0, fixed=too_much)
        await stubs["rules"].CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=auth("ops"))
    assert "campaign.fixed.amount_minor" in violations(fixed.value)
    with pytest.raises(grpc.aio.AioRpcError) as reminder:
        await stubs["notify"].CreateReminderCampaign(N.CreateReminderCampaignRequest(
            campaign=_reminder("huge-rem", too_much)), metadata=auth("ops"))
    assert reminder.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(reminder.value) == ["campaign.min_available.amount_minor"]
    with pytest.raises(grpc.aio.AioRpcError) as adjust:
        await stubs["wallet"].AdjustBalance(_adjust("huge-adj", too_much), metadata=auth("ops"))
    assert violations(adjust.value) == ["amount.amount_minor"]
    # At the limit everything is taken.
    ok = _campaign("at-limit", 100, budget=MAX_MINOR)
    await stubs["rules"].CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=ok), metadata=auth("ops"))
