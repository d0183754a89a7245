"""Migrations move the data an older release stored: written at the previous
revision with raw SQL, upgraded by a real rules service starting on it, read back
over gRPC and from the columns."""

from __future__ import annotations

from datetime import UTC, datetime

from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from sqlalchemy import text

from cashback_kit.db import Database
from tests.rules.builders import campaign, line, order
from tests.rules.conftest import FIXED_DATES_BOOTSTRAP
from tests.rules.migrating import migrate_to
from tests.support.servers import auth, running_service

OPS, SVC = auth("ops"), auth("service")
CREATED = datetime(2025, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)  # Black Friday, with microseconds
PLACED = datetime(2025, 11, 28, 21, 0, 0, 654321, tzinfo=UTC)


def _micros(dt: datetime) -> int:
    return int((dt - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000 + dt.microsecond


def _version_row(c: rules_pb2.Campaign, created: int) -> str:
    c.version = 1
    c.ClearField("status")
    return (f"INSERT INTO rules_campaign_versions VALUES ('m1', '{c.campaign_id}', 1,"
            f" '\\x{c.SerializeToString(deterministic=True).hex()}', {created})")


def _rows_at_0002() -> list[str]:
    o = order("o-old", line("tv", 100_000), customer_id="c1").SerializeToString(deterministic=True).hex()
    c, p = _micros(CREATED), _micros(PLACED)
    return [
        # budget_used counted the order's award and 5.00 of event awards (no rows then).
        f"INSERT INTO rules_campaigns (merchant_id, campaign_id, status, current_version, currency, budget_used,"
        f" create_fingerprint, created_at, updated_at) VALUES ('m1', 'bf', {rules_pb2.CAMPAIGN_STATUS_ACTIVE}, 1,"
        f" 'SAR', 10500, 'fp', {c}, {c}), ('m1', 'capped', {rules_pb2.CAMPAIGN_STATUS_ACTIVE}, 1, 'SAR', 7000,"
        f" 'fp', {c}, {c})",
        _version_row(campaign("bf", percent_bps=1000), c),
        _version_row(campaign("capped", percent_bps=500, budget=100_000), c),
        "INSERT INTO rules_merchants VALUES ('m1', 1, NULL)",
        "INSERT INTO rules_customers VALUES ('m1', 'c1', '', 1)",
        f"INSERT INTO rules_orders VALUES ('m1', 'o-old', 'c1', {p}, 'SAR', 100000, 0, false, 'fp', '\\x{o}',"
        f" NULL, {p})",
        "INSERT INTO rules_awards VALUES ('m1', 'o-old', 'bf', 1, 'c1', 'SAR', 10000, 0, '2025-11-28'),"
        " ('m1', 'o-old', 'capped', 1, 'c1', 'SAR', 5000, 0, '2025-11-28')",
        "INSERT INTO rules_customer_usage VALUES ('m1', 'bf', 'c1', 10000, 1), ('m1', 'capped', 'c1', 5000, 1)",
        f"INSERT INTO rules_events VALUES ('m1', 'e-old', 'c1', 'fp', '\\x00', {c})",
        f"INSERT INTO rules_refunds VALUES ('m1', 'r-old', 'o-old', 'fp', 100, '\\x00', {c})",
    ]


async def test_integer_microseconds_become_the_same_instants_as_timestamptz(pg_url: str) -> None:
    await migrate_to(pg_url, "0002", *_rows_at_0002())
    async with running_service("rules", database_url=pg_url, bootstrap=FIXED_DATES_BOOTSTRAP) as svc:
        stub = rules_pb2_grpc.RulesServiceStub(svc.channel)
        got = (await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="bf"),
                                      metadata=OPS)).campaign
        assert got.created_at.ToDatetime(tzinfo=UTC) == CREATED
        assert got.updated_at.ToDatetime(tzinfo=UTC) == CREATED
        assert got.budget_used.amount_minor == 10_500
        async with svc.db.read() as conn:
            placed = (await conn.execute(text("SELECT placed_at, created_at FROM rules_orders"))).one()
            instants = (await conn.execute(text(
                "SELECT (SELECT max(created_at) FROM rules_campaign_versions), (SELECT created_at FROM rules_events),"
                " (SELECT created_at FROM rules_refunds)"))).one()
        assert tuple(placed) == (PLACED, PLACED)
        assert tuple(instants) == (CREATED, CREATED, CREATED)
        # The old order still counts in the customer's history.
        profile = (await stub.GetCustomerProfile(rules_pb2.GetCustomerProfileRequest(
            merchant_id="m1", customer_id="c1"), metadata=OPS)).profile
        assert profile.order_count == 1


async def test_what_campaigns_paid_survives_the_move_to_award_rows_and_only_budgets_keep_a_counter(
        pg_url: str) -> None:
    await migrate_to(pg_url, "0002", *_rows_at_0002())
    async with running_service("rules", database_url=pg_url, bootstrap=FIXED_DATES_BOOTSTRAP) as svc:
        stub = rules_pb2_grpc.RulesServiceStub(svc.channel)

        async def paid() -> dict[str, int]:
            listed = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1"), metadata=OPS)
            return {c.campaign_id: c.budget_used.amount_minor for c in listed.campaigns}

        assert await paid() == {"bf": 10_500, "capped": 7_000}
        async with svc.db.read() as conn:
            flags = dict((await conn.execute(text("SELECT campaign_id, budgeted FROM rules_campaigns"))).all())
        assert flags == {"bf": False, "capped": True}
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o-new", line("mug", 20_000),
                                                                      customer_id="c2")), metadata=SVC)
        assert await paid() == {"bf": 10_500 + 2_000, "capped": 7_000 + 1_000}
        async with svc.db.read() as conn:
            counters = dict((await conn.execute(text("SELECT campaign_id, budget_used FROM rules_campaigns"))).all())
        assert counters == {"bf": 10_500, "capped": 8_000}  # bf's counter is no longer kept



async def _load_functions(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            return list((await conn.execute(text(
                "SELECT proname || '/' || pronargs FROM pg_proc WHERE proname LIKE 'rules_score_load%'"
                " ORDER BY 1"))).scalars())
    finally:
        await db.dispose()


async def test_0008_downgrades_to_the_load_function_of_0004_and_upgrades_again(pg_url: str) -> None:
    both = ["rules_score_load/11", "rules_score_load/9", "rules_score_load_events/10"]
    await migrate_to(pg_url, "0008")
    assert await _load_functions(pg_url) == both
    await migrate_to(pg_url, "0007", down=True)
    assert await _load_functions(pg_url) == ["rules_score_load/9"]
    await migrate_to(pg_url, "0008")
    assert await _load_functions(pg_url) == both
