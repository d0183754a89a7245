"""`cashbackctl audit` on a live wallet database."""

from __future__ import annotations

import typer
from sqlalchemy import update
from typer.testing import CliRunner

from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.service_layer.handlers import WalletService
from cashbackctl.audit import audit
from cashbackctl.common import STATE
from tests.wallet.helpers import credit, hold


def _app() -> typer.Typer:
    # The command alone, without the root callback: forget any root options (--json) an earlier
    # test in this process left behind.
    STATE.pop("ctx", None)
    app = typer.Typer()
    app.command()(audit)
    return app


async def test_audit_command_passes_clean_books_and_fails_broken_ones(wallet: WalletService, pg_url: str) -> None:
    import asyncio

    await credit(wallet, 500)
    await hold(wallet, 100)
    runner = CliRunner()
    ok = await asyncio.to_thread(runner.invoke, _app(), ["--database-url", pg_url])
    assert ok.exit_code == 0, ok.output
    assert "consistent" in ok.output
    async with wallet.db.write() as conn:
        await conn.execute(update(t.balances).values(held=t.balances.c.held + 5))
    bad = await asyncio.to_thread(runner.invoke, _app(), ["--json"], env={"WALLET_DATABASE_URL": pg_url})
    assert bad.exit_code == 1
    assert '"check": "held"' in bad.output
    async with wallet.db.write() as conn:
        await conn.execute(update(t.balances).values(held=t.balances.c.held - 5))
