"""RFM segments, configured from the environment and honoured by
SimulateCampaign: over real gRPC on PostgreSQL, and a real rules process that
refuses a bad setting at start."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashback_services.rules.bootstrap import bootstrap
from cashback_services.rules.limits import RulesLimits
from tests.rules.builders import campaign, ts
from tests.rules.conftest import FIXED_DATES
from tests.rules.test_import_segments import _history, _import, _rfm, _segments_after
from tests.support.servers import auth, running_service

OPS = auth("ops")


def test_the_rfm_window_and_refresh_age_come_from_the_environment() -> None:
    limits = RulesLimits.from_env({"RULES_RFM_WINDOW_DAYS": "90", "RULES_RFM_REFRESH_SECONDS": "600"})
    assert (limits.rfm_window_days, limits.rfm_refresh) == (90, timedelta(minutes=10))
    assert (RulesLimits.from_env({}).rfm_window_days, RulesLimits.from_env({}).rfm_refresh) == (365, timedelta(hours=6))


@pytest.mark.parametrize(("var", "value"), [("RULES_RFM_WINDOW_DAYS", "0"), ("RULES_RFM_WINDOW_DAYS", "3651"),
                                            ("RULES_RFM_WINDOW_DAYS", "a year"), ("RULES_RFM_REFRESH_SECONDS", "5")])
def test_a_bad_rfm_setting_stops_the_rules_process_naming_the_variable(var: str, value: str) -> None:
    env = {**os.environ, var: value, "RULES_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "cashback_services.rules.main"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert var in done.stderr


async def test_the_configured_window_decides_who_is_scored(pg_url: str) -> None:
    thirty_days = partial(bootstrap, limits=RulesLimits(max_backdate=FIXED_DATES.max_backdate,
                                                        max_future=FIXED_DATES.max_future, rfm_window_days=30))
    async with running_service("rules", database_url=pg_url, bootstrap=thirty_days) as svc:
        stub = rules_pb2_grpc.RulesServiceStub(svc.channel)
        await _import(stub, _history())
        listed = await _segments_after(stub, datetime.now(UTC))
        assert listed.window_days == 30
        assert (await _rfm(stub, "star")).HasField("rfm")  # ordered yesterday
        assert not (await _rfm(stub, "faded")).HasField("rfm")  # last ordered 360 days ago


async def test_a_simulated_champions_only_draft_costs_only_the_champions_orders(stub) -> None:
    history = _history()
    await _import(stub, history)
    await _segments_after(stub, datetime.now(UTC))
    customers = sorted({o.customer_id for o in history})
    segment = {c: (await _rfm(stub, c)).rfm.segment for c in customers}
    champions = {c for c, s in segment.items() if s == "champions"}
    assert "star" in champions and len(champions) < len(customers) - 1

    async def simulate(**fields: object) -> rules_pb2.Simulation:
        now = datetime.now(UTC)
        req = rules_pb2.SimulateCampaignRequest(campaign=campaign("draft", percent_bps=1000, **fields),
                                                to=ts(now))
        getattr(req, "from").CopyFrom(ts(now - timedelta(days=500)))
        return (await stub.SimulateCampaign(req, metadata=OPS)).simulation

    def cost(who: set[str]) -> int:
        return sum(o.lines[0].unit_price.amount_minor // 10 for o in history if o.customer_id in who)

    everyone, only = await simulate(), await simulate(customer_segments=["champions"])
    assert everyone.total_cashback.amount_minor == cost(set(customers))
    assert only.total_cashback.amount_minor == cost(champions) < everyone.total_cashback.amount_minor
    assert only.customers == len(champions)
    assert only.orders_considered == everyone.orders_considered == len(history)
    lost = await simulate(customer_segments=["lost", "cant_lose"])
    assert lost.total_cashback.amount_minor == cost({c for c, s in segment.items() if s in ("lost", "cant_lose")})
