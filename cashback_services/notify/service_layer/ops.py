"""Ops reads and repairs beside the service's own: parked events (list, retry) and
the audit trail. Plain values in and out; page tokens are signed and scoped to the
RPC and merchant (cashback_kit.tokens)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cashback_kit import audit
from cashback_kit.db import Database
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.tokens import PageTokens
from cashback_kit.validation import check_list, check_text
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.service_layer import parked

MAX_PAGE = 500
MAX_RETRY_IDS = 1000


def _size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size")
    return min(page_size or 50, MAX_PAGE)


class NotifyOps:
    def __init__(self, db: Database, tokens: PageTokens, renderer: TemplateRenderer,
                 clock: Callable[[], datetime]) -> None:
        self.db, self.tokens, self.renderer, self.clock = db, tokens, renderer, clock

    async def list_parked(self, merchant_id: str, page_size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        size = _size(page_size)
        scope = f"ListParkedEvents:{merchant_id}"
        before = self.tokens.read(token, scope)
        rows = await parked.list_parked(self.db, merchant_id, size + 1, before=before)
        more = len(rows) > size
        rows = rows[:size]
        return rows, self.tokens.issue(scope, rows[-1]["position"]) if more else ""

    async def retry_parked(self, merchant_id: str, event_ids: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
        v = Violations()
        check_list(v, "event_ids", event_ids, max_items=MAX_RETRY_IDS)
        v.raise_if_any("invalid retry")
        return await parked.retry(self.db, merchant_id, event_ids, self.clock(), self.renderer,
                                  limit=MAX_RETRY_IDS)

    async def list_audit(self, merchant_id: str, page_size: int, token: str,
                         action: str = "") -> tuple[list[dict[str, Any]], str]:
        v = Violations()
        check_text(v, "action", action, max_chars=64)
        v.raise_if_any("invalid request")
        size = _size(page_size)
        scope = f"ListAuditEvents:{merchant_id}:{action}"
        before = self.tokens.read(token, scope)
        async with self.db.read() as conn:
            rows = await audit.list_events(conn, t.audit, merchant_id, limit=size + 1, before_id=before,
                                           action=action)
        more = len(rows) > size
        rows = rows[:size]
        return rows, self.tokens.issue(scope, rows[-1]["id"]) if more else ""
