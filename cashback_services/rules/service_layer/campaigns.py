"""Campaign lifecycle: create, update (a new immutable version each time),
get, list, status changes. The proto Campaign, validated and normalised, is the
command here: it is also exactly what a version stores."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime

from cashback.rules.v1 import rules_pb2
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo
from cashback_services.rules.adapters.campaign_repo import CampaignRow
from cashback_services.rules.adapters.codec import money_pb, ts_pb
from cashback_services.rules.entrypoints.campaign_pb import OUTPUT_ONLY, normalize

ENDED = rules_pb2.CAMPAIGN_STATUS_ENDED
_SETTABLE = {rules_pb2.CAMPAIGN_STATUS_ACTIVE, rules_pb2.CAMPAIGN_STATUS_PAUSED, ENDED}
# Never changed by UpdateCampaign: identity, server-owned fields, status (its own
# RPC) and currency (budget_used and usage are kept in it).
_IMMUTABLE = {"campaign_id", "merchant_id", "status", "currency_code", *OUTPUT_ONLY}
_MUTABLE = [f.name for f in rules_pb2.Campaign.DESCRIPTOR.fields if f.name not in _IMMUTABLE]
_REWARD = {"reward", "percent_bps", "fixed"}


def present(row: CampaignRow, body: bytes, paid: int) -> rules_pb2.Campaign:
    """A stored version with the campaign-wide fields of its row, and what it paid."""
    c = rules_pb2.Campaign.FromString(body)
    c.status = row.status  # type: ignore[assignment]
    c.created_at.CopyFrom(ts_pb(row.created_at))
    c.updated_at.CopyFrom(ts_pb(row.updated_at))
    c.budget_used.CopyFrom(money_pb(Money(row.currency, paid)))
    return c


def _body(c: rules_pb2.Campaign, version: int) -> bytes:
    body = rules_pb2.Campaign()
    body.CopyFrom(c)
    body.version = version
    body.ClearField("status")  # status lives on the campaign row, not in a version
    return body.SerializeToString(deterministic=True)


def merge(current: rules_pb2.Campaign, patch: rules_pb2.Campaign, paths: list[str]) -> rules_pb2.Campaign:
    out = rules_pb2.Campaign()
    out.CopyFrom(current)
    bad = [p for p in paths if p not in _MUTABLE and p != "reward"]
    if bad:
        raise InvalidArgument(f"update_mask names fields that cannot be updated: {', '.join(bad)}",
                              field="update_mask")
    for path in paths or _MUTABLE:
        if path in _REWARD:
            which = patch.WhichOneof("reward")
            out.ClearField("reward")
            if which == "percent_bps":
                out.percent_bps = patch.percent_bps
            elif which == "fixed":
                out.fixed.CopyFrom(patch.fixed)
            continue
        fd = rules_pb2.Campaign.DESCRIPTOR.fields_by_name[path]
        out.ClearField(path)  # type: ignore[arg-type]  # a validated field name
        if fd.message_type is not None and not _repeated(fd):
            if patch.HasField(path):  # type: ignore[arg-type]
                getattr(out, path).CopyFrom(getattr(patch, path))
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            getattr(out, path).update(getattr(patch, path))
        elif _repeated(fd):
            getattr(out, path).extend(getattr(patch, path))
        else:
            setattr(out, path, getattr(patch, path))
    return out


def _repeated(fd) -> bool:  # type: ignore[no-untyped-def]
    rep = getattr(fd, "is_repeated", None)
    return bool(rep) if rep is not None else fd.label == fd.LABEL_REPEATED


def _comparable(c: rules_pb2.Campaign) -> bytes:
    x = rules_pb2.Campaign()
    x.CopyFrom(c)
    for name in (*OUTPUT_ONLY, "status"):
        x.ClearField(name)  # type: ignore[arg-type]
    return x.SerializeToString(deterministic=True)


def encode_token(merchant_id: str, status: int, after: int) -> str:
    raw = json.dumps({"m": merchant_id, "s": status, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, merchant_id: str, status: int) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = int(data["a"])
        ok = data["m"] == merchant_id and data["s"] == status and after >= 0
    except (ValueError, KeyError, TypeError, binascii.Error):
        ok = False
    if not ok:
        raise InvalidArgument("page_token is not one this list returned", field="page_token")
    return after


class Campaigns:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db, self.now = db, now

    async def _current(self, conn: AsyncConnection, merchant_id: str, campaign_id: str,
                       *, lock: bool = False) -> tuple[CampaignRow, rules_pb2.Campaign]:
        row = await campaign_repo.get_row(conn, merchant_id, campaign_id, lock=lock)
        if row is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        body = await campaign_repo.get_body(conn, merchant_id, campaign_id, row.current_version)
        assert body is not None
        paid = await campaign_repo.paid(conn, merchant_id, [campaign_id])
        return row, present(row, body, paid[campaign_id])

    async def create(self, campaign: rules_pb2.Campaign, fingerprint: str) -> rules_pb2.Campaign:
        c = normalize(campaign, creating=True)
        if not c.campaign_id:
            c.campaign_id = f"cmp_{uuid.uuid4().hex}"
        try:
            async with self.db.write() as conn:
                return await self._create_in(conn, c, fingerprint)
        except IntegrityError:
            async with self.db.read() as conn:
                return await self._create_in(conn, c, fingerprint, replay_only=True)

    async def _create_in(self, conn: AsyncConnection, c: rules_pb2.Campaign, fingerprint: str,
                         replay_only: bool = False) -> rules_pb2.Campaign:
        row = await campaign_repo.get_row(conn, c.merchant_id, c.campaign_id)
        if row is not None:
            if row.create_fingerprint != fingerprint:
                raise AlreadyExists(f"campaign_id {c.campaign_id!r} already exists with different content")
            return (await self._current(conn, c.merchant_id, c.campaign_id))[1]
        if replay_only:
            raise NotFound(f"campaign {c.campaign_id!r} not found")
        now = self.now()
        await campaign_repo.insert_campaign(conn, merchant_id=c.merchant_id, campaign_id=c.campaign_id,
                                            status=c.status, currency=c.currency_code, fingerprint=fingerprint,
                                            body=_body(c, 1), budgeted=c.HasField("budget"), now=now)
        return (await self._current(conn, c.merchant_id, c.campaign_id))[1]

    async def update(self, patch: rules_pb2.Campaign, paths: list[str]) -> rules_pb2.Campaign:
        if not patch.merchant_id or not patch.campaign_id:
            normalize(patch, creating=False)  # raises the field violations for the ids
        async with self.db.write() as conn:
            row, current = await self._current(conn, patch.merchant_id, patch.campaign_id, lock=True)
            if row.status == ENDED:
                raise FailedPrecondition("an ENDED campaign cannot be changed")
            merged = normalize(merge(current, patch, paths), creating=False)
            if _comparable(merged) == _comparable(current):
                return current
            version = row.current_version + 1
            await campaign_repo.add_version(conn, row.merchant_id, row.campaign_id, version,
                                            _body(merged, version), merged.HasField("budget"), self.now())
            return (await self._current(conn, row.merchant_id, row.campaign_id))[1]

    async def get(self, merchant_id: str, campaign_id: str, version: int) -> rules_pb2.Campaign:
        async with self.db.read() as conn:
            row, current = await self._current(conn, merchant_id, campaign_id)
            if version in (0, row.current_version):
                return current
            body = await campaign_repo.get_body(conn, merchant_id, campaign_id, version)
            paid = await campaign_repo.paid(conn, merchant_id, [campaign_id])
        if body is None:
            raise NotFound(f"campaign {campaign_id!r} has no version {version}")
        return present(row, body, paid[campaign_id])

    async def list(self, merchant_id: str, page_size: int, token: str,
                   status: int) -> tuple[list[rules_pb2.Campaign], str]:
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        size = min(page_size or 50, 500)
        after = decode_token(token, merchant_id, status)
        async with self.db.read() as conn:
            rows = await campaign_repo.current_with_bodies(conn, merchant_id, status=status or None,
                                                           after_seq=after, limit=size + 1)
            paid = await campaign_repo.paid(conn, merchant_id, [r.campaign_id for r, _ in rows[:size]])
        page = [present(r, b, paid[r.campaign_id]) for r, b in rows[:size]]
        more = len(rows) > size
        return page, encode_token(merchant_id, status, rows[size - 1][0].seq) if more else ""

    async def set_status(self, merchant_id: str, campaign_id: str, status: int) -> rules_pb2.Campaign:
        if status not in _SETTABLE:
            raise InvalidArgument("status must be ACTIVE, PAUSED or ENDED", field="status")
        async with self.db.write() as conn:
            row, current = await self._current(conn, merchant_id, campaign_id, lock=True)
            if row.status == status:
                return current
            if row.status == ENDED:
                raise FailedPrecondition("an ENDED campaign stays ended")
            await campaign_repo.set_status(conn, merchant_id, campaign_id, status, self.now())
            return (await self._current(conn, merchant_id, campaign_id))[1]
