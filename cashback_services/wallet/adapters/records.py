"""The aggregate path for a write that keeps a row of its own beside the
ledger (a transfer, a conversion): BEGIN; `wallet_load`; the row an earlier
use of the idempotency key made, if any (for its replay); the domain decides;
`wallet_write`; the new row; COMMIT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from cashback_kit.db import Database
from cashback_kit.pgtx import Tx, transaction
from cashback_services.wallet.adapters.repository import IdemKey, State, Want, load, write

R = TypeVar("R")


@dataclass
class Records(Generic[R]):
    """The row a key already made (by result id, for its replay), and the one this call makes."""

    stored: dict[str, R] = field(default_factory=dict)
    new: R | None = None


@asynccontextmanager
async def locked_with_record(
    db: Database, now: datetime, want: Want, key: IdemKey,
    get: Callable[[Tx, str, str], Awaitable[R | None]], put: Callable[[Tx, R], Awaitable[None]],
) -> AsyncIterator[tuple[State, Tx, Records[R]]]:
    async with transaction(db) as tx:
        state = await load(tx, now, want)
        found: Records[R] = Records()
        prior = state.outcomes.get(key)
        if prior is not None and prior.result_id:
            stored = await get(tx, key[0], prior.result_id)
            if stored is not None:
                found.stored[prior.result_id] = stored
        yield state, tx, found
        await write(tx, state)
        if found.new is not None:
            await put(tx, found.new)
