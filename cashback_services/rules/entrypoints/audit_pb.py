"""Audit rows between protos and the kit's audit trail (issue 15, point 10)."""

from __future__ import annotations

from typing import Any

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from google.protobuf.json_format import MessageToDict

from cashback_kit.audit import change_json
from cashback_kit.pb import ts_from_pb, ts_to_pb

# Not worth a row: who and where are the row's own columns.
_IDENTITY = ("merchant_id", "campaign_id")


def audit_change(campaign: rules_pb2.Campaign, paths: list[str] | None = None) -> dict[str, Any]:
    """What a campaign write sets: every field it sent (CreateCampaign), or the
    fields its update_mask names, with their new values (UpdateCampaign). It runs before the
    campaign is validated, so a timestamp no JSON can hold is refused here, naming its field."""
    for name in ("starts_at", "ends_at"):
        if campaign.HasField(name):
            ts_from_pb(getattr(campaign, name), f"campaign.{name}")
    shown = rules_pb2.Campaign()  # created_at/updated_at are the server's: not what changed
    shown.CopyFrom(campaign)
    shown.ClearField("created_at")
    shown.ClearField("updated_at")
    values = MessageToDict(shown, preserving_proto_field_name=True)
    for name in _IDENTITY:
        values.pop(name, None)
    if paths is None:
        return values
    return {p: values.get(p.split(".", 1)[0]) for p in paths}


def audit_event_pb(row: dict[str, Any]) -> common_pb2.AuditEvent:
    return common_pb2.AuditEvent(id=row["id"], at=ts_to_pb(row["at"]), key_id=row["key_id"], key_name=row["key_name"],
                                role=row["role"], merchant_id=row["merchant_id"], action=row["action"],
                                target=row["target"], change_json=change_json(row))
