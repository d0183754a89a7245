"""cashbackctl coalitions and settlement against a real wallet server over gRPC
on PostgreSQL (the auditor runs after the test; `cashbackctl audit` too)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from typer.testing import CliRunner, Result

from cashbackctl.main import app
from tests.support.keys import TEST_KEYS
from tests.support.servers import ServiceHandle, running_service
from tests.wallet.grpc_helpers import OPS, money, stub

runner = CliRunner()


@pytest.fixture
async def server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


async def ctl(server: ServiceHandle, *args: str, merchant: str = "m1") -> Result:
    env = {"WALLET_ADDR": server.target, "CASHBACK_OPS_KEY": TEST_KEYS["ops"], "COLUMNS": "200"}
    # The CLI's calls are blocking; the server answers on this test's event loop.
    return await asyncio.to_thread(runner.invoke, app, ["--merchant", merchant, *args], env=env)


async def test_ops_propose_join_show_and_read_the_settlement_in_the_merchants_units(server: ServiceHandle,
                                                                                  pg_url: str) -> None:
    created = await ctl(server, "coalitions", "create", "mall", "--name", "Mall partners", "--member", "m2",
                        "--currency", "SAR")
    assert created.exit_code == 0, created.output
    assert "waiting for every member to join" in " ".join(created.output.split())  # the title may wrap
    assert "not yet" in created.output
    joined = await ctl(server, "--json", "coalitions", "join", "mall", merchant="m2")
    assert json.loads(joined.output)["active"] is True
    shown = await ctl(server, "coalitions", "show", "mall")
    assert "active since" in " ".join(shown.output.split())

    w = stub(server.channel)
    await w.AdjustBalance(pb.AdjustBalanceRequest(merchant_id="m2", customer_id="c-9", amount=money(4000),
                                                  reason="welcome", idempotency_key=uuid.uuid4().hex), metadata=OPS)
    held = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id="c-9", order_id="o-1", amount=money(3050), idempotency_key="k-1",
        use_partner_credit=True), metadata=OPS)).hold
    await w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=held.hold_id), metadata=OPS)

    table = await ctl(server, "settlement", "mall", merchant="m2")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.output.splitlines() if "m2" in line and "m1" in line)
    assert "30.50 SAR" in row
    as_json = json.loads((await ctl(server, "--json", "settlement", "mall")).output)
    assert as_json["lines"] == [{"debtor_merchant_id": "m2", "creditor_merchant_id": "m1",
                                 "amount": {"currency_code": "SAR", "amount_minor": "3050"},
                                 "owed_to_creditor": {"currency_code": "SAR", "amount_minor": "3050"},
                                 "owed_to_debtor": {"currency_code": "SAR"}}]
    before = await ctl(server, "--json", "settlement", "mall", "--to", "2020-01-01")
    assert json.loads(before.output).get("lines", []) == []
    audit = await asyncio.to_thread(runner.invoke, app, ["audit", "--database-url", pg_url])
    assert audit.exit_code == 0, audit.output


async def test_a_refused_coalition_command_says_why_in_one_line(server: ServiceHandle) -> None:
    result = await ctl(server, "coalitions", "join", "nowhere")
    assert result.exit_code == 1
    assert "NOT_FOUND" in result.output and "Traceback" not in result.output
    bad_day = await ctl(server, "settlement", "mall", "--from", "yesterday")
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
