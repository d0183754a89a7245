"""GetBalance reads maintained rows: it costs the same with a long history."""

from __future__ import annotations

from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.sql import recorded
from tests.wallet.helpers import balance, credit, hold


async def test_get_balance_never_reads_the_history(wallet: WalletService) -> None:
    for _ in range(30):
        await credit(wallet, 10)
        await hold(wallet, 5)
    with recorded(wallet.db) as seen:
        b = await balance(wallet)
    assert (b.available, b.held) == (150, 150)
    sql = " ".join(s for s, _ in seen).lower()
    assert "wallet_entries" not in sql and "wallet_transactions" not in sql
    # One statement (due check, balance row, next expiry), no transaction around it.
    assert [s.split()[0].upper() for s, _ in seen if s.split()[0].upper() not in ("BEGIN", "ROLLBACK")] == ["SELECT"]
