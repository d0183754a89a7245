"""Running a keyed write that keeps its own record (a transfer, a conversion)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from cashback_kit.errors import Aborted, DomainError

T = TypeVar("T")


async def run_keyed(once: Callable[[], Awaitable[T | DomainError]]) -> T:
    """Run `once`; if another request committed the same idempotency key at the
    same moment (Aborted), run it again, when it is that key's replay. A
    refusal `once` returns (committed with its key's record) is raised here."""
    for attempt in range(2):
        try:
            result = await once()
        except Aborted:
            if attempt:
                raise
            continue
        if isinstance(result, DomainError):
            raise result
        return result
    raise AssertionError("unreachable")
