"""GetBalance reads maintained rows: it costs the same with a long history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from services.wallet.service import WalletService
from tests.wallet.helpers import balance, credit, hold


@contextmanager
def statements(wallet: WalletService) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = wallet.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_get_balance_never_reads_the_history(wallet: WalletService) -> None:
    for _ in range(30):
        await credit(wallet, 10)
        await hold(wallet, 5)
    with statements(wallet) as seen:
        b = await balance(wallet)
    assert (b["available"], b["held"]) == (150, 150)
    sql = " ".join(seen).lower()
    assert "wallet_entries" not in sql and "wallet_transactions" not in sql
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) <= 4
