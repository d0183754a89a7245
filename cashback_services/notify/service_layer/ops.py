"""Ops reads and repairs beside the service's own: parked events (list, retry) and
the audit trail. Plain values in and out; page tokens and sizes are the kit's
(cashback_kit.paging: signed, scoped to the RPC, the merchant and the filters)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cashback_kit import audit, paging
from cashback_kit.db import Database
from cashback_kit.errors import Violations
from cashback_kit.validation import check_list, check_text
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.service_layer import parked

MAX_RETRY_IDS = 1000


def _position(raw: object) -> int:
    if not isinstance(raw, int):
        raise ValueError("bad position")
    return raw


class NotifyOps:
    def __init__(self, db: Database, renderer: TemplateRenderer, clock: Callable[[], datetime]) -> None:
        self.db, self.renderer, self.clock = db, renderer, clock

    async def list_parked(self, merchant_id: str, page_size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        size = paging.page_size(page_size)
        query = paging.scope("ListParkedEvents", merchant_id)
        before = paging.read(token, query, _position)
        rows = await parked.list_parked(self.db, merchant_id, size + 1, before=before)
        more = len(rows) > size
        rows = rows[:size]
        return rows, paging.issue(query, rows[-1]["position"]) if more else ""

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
        return await audit.list_page(self.db, t.audit, merchant_id, page_size, token, action)
