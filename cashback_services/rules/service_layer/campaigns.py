"""Campaign lifecycle: create, update (a new immutable version each time),
get, list, status changes. A version is stored as the validated, normalised
campaign the entrypoint made of the request (CampaignDraft.body); an update is
a function of the current version's body (the entrypoint merges its field
mask), so this layer handles bodies as bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit import audit, paging
from cashback_kit.db import Database
from cashback_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.idempotency import check_same
from cashback_services.rules.adapters import campaign_repo, tables
from cashback_services.rules.adapters.campaign_repo import CampaignRow
from cashback_services.rules.adapters.codec import comparable, version_body
from cashback_services.rules.domain.model import CampaignStatus

ENDED = CampaignStatus.ENDED
_SETTABLE = {CampaignStatus.ACTIVE, CampaignStatus.PAUSED, ENDED}
_STATUS_NAMES = {s.value: s.name for s in CampaignStatus}
AuditRows = list[dict[str, Any]]  # (named here: inside Campaigns, `list` is its method)


@dataclass(frozen=True)
class CampaignDraft:
    """A validated, normalised campaign version to store: `body` is its stored
    form (adapters/codec.py), without version or status."""

    merchant_id: str
    campaign_id: str
    status: int
    currency: str
    budgeted: bool
    body: bytes


@dataclass(frozen=True)
class CampaignView:
    """A stored version with its campaign's row and what the campaign paid."""

    row: CampaignRow
    body: bytes
    paid: int


def _after(raw: object) -> int:
    if not isinstance(raw, int) or raw < 0:
        raise ValueError("bad position")
    return raw


class Campaigns:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db, self.now = db, now

    async def _current(self, conn: AsyncConnection, merchant_id: str, campaign_id: str,
                       *, lock: bool = False) -> CampaignView:
        row = await campaign_repo.get_row(conn, merchant_id, campaign_id, lock=lock)
        if row is None:
            raise NotFound(f"campaign {campaign_id!r} not found", reason="CAMPAIGN_NOT_FOUND")
        body = await campaign_repo.get_body(conn, merchant_id, campaign_id, row.current_version)
        assert body is not None
        paid = await campaign_repo.paid(conn, merchant_id, [campaign_id])
        return CampaignView(row, body, paid[campaign_id])

    async def create(self, draft: CampaignDraft, fingerprint: str,
                     change: dict[str, Any] | None = None) -> CampaignView:
        """Idempotent by campaign_id: the same content again returns the campaign.
        `change` (the new campaign's values) goes to the audit row of a creation."""
        try:
            async with self.db.write() as conn:
                return await self._create_in(conn, draft, fingerprint, change=change)
        except IntegrityError:
            async with self.db.read() as conn:
                return await self._create_in(conn, draft, fingerprint, replay_only=True)

    async def _create_in(self, conn: AsyncConnection, c: CampaignDraft, fingerprint: str,
                         replay_only: bool = False, change: dict[str, Any] | None = None) -> CampaignView:
        row = await campaign_repo.get_row(conn, c.merchant_id, c.campaign_id)
        if row is not None:
            check_same(row.create_fingerprint, fingerprint, f"campaign_id {c.campaign_id!r}")
            return await self._current(conn, c.merchant_id, c.campaign_id)
        if replay_only:
            raise NotFound(f"campaign {c.campaign_id!r} not found", reason="CAMPAIGN_NOT_FOUND")
        await campaign_repo.insert_campaign(conn, merchant_id=c.merchant_id, campaign_id=c.campaign_id,
                                            status=c.status, currency=c.currency, fingerprint=fingerprint,
                                            body=version_body(c.body, 1), budgeted=c.budgeted, now=self.now())
        await self._audit(conn, c.merchant_id, "CreateCampaign", c.campaign_id, {"version": 1, **(change or {})})
        return await self._current(conn, c.merchant_id, c.campaign_id)

    async def update(self, merchant_id: str, campaign_id: str, revise: Callable[[bytes], CampaignDraft],
                     change: dict[str, Any] | None = None) -> CampaignView:
        """A new version made by `revise` from the current one's body (which
        raises InvalidArgument for a bad change); none if it changes nothing."""
        async with self.db.write() as conn:
            current = await self._current(conn, merchant_id, campaign_id, lock=True)
            row = current.row
            if row.status == ENDED:
                raise FailedPrecondition("an ENDED campaign cannot be changed", reason="CAMPAIGN_ENDED")
            merged = revise(current.body)
            if comparable(merged.body) == comparable(current.body):
                return current
            version = row.current_version + 1
            await campaign_repo.add_version(conn, row.merchant_id, row.campaign_id, version,
                                            version_body(merged.body, version), merged.budgeted, self.now())
            await self._audit(conn, merchant_id, "UpdateCampaign", campaign_id, {"version": version, **(change or {})})
            return await self._current(conn, row.merchant_id, row.campaign_id)

    async def get(self, merchant_id: str, campaign_id: str, version: int) -> CampaignView:
        async with self.db.read() as conn:
            current = await self._current(conn, merchant_id, campaign_id)
            if version in (0, current.row.current_version):
                return current
            body = await campaign_repo.get_body(conn, merchant_id, campaign_id, version)
        if body is None:
            raise NotFound(f"campaign {campaign_id!r} has no version {version}", reason="CAMPAIGN_VERSION_NOT_FOUND")
        return CampaignView(current.row, body, current.paid)

    async def list(self, merchant_id: str, page_size: int, token: str,
                   status: int) -> tuple[list[CampaignView], str]:
        size = paging.page_size(page_size)
        query = paging.scope("ListCampaigns", merchant_id, status)
        after = paging.read(token, query, _after) or 0
        async with self.db.read() as conn:
            rows = await campaign_repo.current_with_bodies(conn, merchant_id, status=status or None,
                                                           after_seq=after, limit=size + 1)
            paid = await campaign_repo.paid(conn, merchant_id, [r.campaign_id for r, _ in rows[:size]])
        page = [CampaignView(r, b, paid[r.campaign_id]) for r, b in rows[:size]]
        more = len(rows) > size
        return page, paging.issue(query, rows[size - 1][0].seq) if more else ""

    async def set_status(self, merchant_id: str, campaign_id: str, status: int) -> CampaignView:
        if status not in _SETTABLE:
            raise InvalidArgument("status must be ACTIVE, PAUSED or ENDED", field="status")
        async with self.db.write() as conn:
            current = await self._current(conn, merchant_id, campaign_id, lock=True)
            if current.row.status == status:
                return current
            if current.row.status == ENDED:
                raise FailedPrecondition("an ENDED campaign stays ended", reason="CAMPAIGN_ENDED")
            await campaign_repo.set_status(conn, merchant_id, campaign_id, status, self.now())
            await self._audit(conn, merchant_id, "SetCampaignStatus", campaign_id,
                              {"from": _STATUS_NAMES.get(current.row.status, current.row.status),
                               "to": _STATUS_NAMES.get(status, status)})
            return await self._current(conn, merchant_id, campaign_id)

    async def _audit(self, conn: AsyncConnection, merchant_id: str, action: str, target: str,
                     change: dict[str, Any]) -> None:
        await audit.record(conn, tables.audit, at=self.now(), merchant_id=merchant_id, action=action,
                           target=target, change=change)

    async def audit_events(self, merchant_id: str, limit: int, before_id: int | None,
                           action: str) -> AuditRows:
        """The merchant's audit rows (every rules mutation by ops), newest first."""
        async with self.db.read() as conn:
            return await audit.list_events(conn, tables.audit, merchant_id, limit=limit, before_id=before_id,
                                           action=action)
