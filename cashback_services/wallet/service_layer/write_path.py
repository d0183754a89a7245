"""What the use-case modules (awards, transfers, points) need of the wallet service:
its database, clock, rules port and the aggregate write path. They take this
protocol, not the service class, so they and handlers.py do not import each other."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from cashback_kit.db import Database
from cashback_services.wallet.adapters.repository import State, Want
from cashback_services.wallet.service_layer.batch import Call
from cashback_services.wallet.service_layer.commands import RulesPort


class WritePath(Protocol):
    db: Database
    rules: RulesPort | None
    clock: Callable[[], datetime]

    def locked(self, want: Want, now: datetime | None = None) -> AbstractAsyncContextManager[State]: ...

    def committed(self, state: State) -> None: ...

    async def write(self, call: Call) -> Any: ...
