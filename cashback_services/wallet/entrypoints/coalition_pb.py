"""The coalition RPCs' messages: shape checks in, Coalition and settlement lines out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2 as pb

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import validate_currency
from cashback_kit.pb import optional_ts, ts_to_pb
from cashback_services.wallet.domain.coalitions import MAX_MEMBERS, MAX_NAME, Coalition, SettlementLine
from cashback_services.wallet.entrypoints.checks import checked, request_violations
from cashback_services.wallet.service_layer.coalitions import PartnerHold

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ids(request: Any) -> tuple[str, str]:
    """(merchant_id, coalition_id), both required."""
    checked(request, "merchant_id", "coalition_id")
    return request.merchant_id, request.coalition_id


def create_args(request: pb.CreateCoalitionRequest) -> tuple[str, str, str, list[str], str]:
    """(proposer, coalition_id, name, members, currency) of a well-formed request: every
    violation at once (the member list's own rules are the domain's: coalitions.propose)."""
    if len(request.member_merchant_ids) > MAX_MEMBERS:  # before checking each: a bound on the work
        raise InvalidArgument(f"a coalition has at most {MAX_MEMBERS} members", field="member_merchant_ids")
    v = request_violations(request, ("merchant_id", "coalition_id", "name"), limits={"name": MAX_NAME})
    for i, member in enumerate(request.member_merchant_ids):
        v.check(bool(member) and not any(ch.isspace() for ch in member), f"member_merchant_ids[{i}]",
                "must be a merchant id (not empty, no spaces)")
    try:
        validate_currency(request.currency_code, "currency_code")
    except InvalidArgument as exc:
        v.items.extend(exc.violations)
    v.raise_if_any("invalid coalition")
    return (request.merchant_id, request.coalition_id, request.name, list(request.member_merchant_ids),
            request.currency_code)


def period(request: pb.GetSettlementRequest, now: datetime) -> tuple[datetime, datetime]:
    start = optional_ts(request, "from") or _EPOCH
    end = optional_ts(request, "to") or now
    if end <= start:
        raise InvalidArgument("to must be after from", field="to")
    return start, end


def coalition_to_pb(c: Coalition) -> pb.Coalition:
    members = []
    for m in c.members:
        member = pb.CoalitionMember(merchant_id=m.merchant_id, joined=m.joined_at is not None)
        if (joined := ts_to_pb(m.joined_at)) is not None:
            member.joined_at.CopyFrom(joined)
        members.append(member)
    out = pb.Coalition(coalition_id=c.coalition_id, name=c.name, currency_code=c.currency,
                       proposed_by=c.proposed_by, members=members, active=c.active,
                       created_at=ts_to_pb(c.created_at))
    if (activated := ts_to_pb(c.activated_at)) is not None:
        out.activated_at.CopyFrom(activated)
    return out


def settlement_to_pb(c: Coalition, lines: list[SettlementLine]) -> pb.GetSettlementResponse:
    def m(minor: int) -> common_pb2.Money:
        return common_pb2.Money(currency_code=c.currency, amount_minor=minor)

    return pb.GetSettlementResponse(coalition_id=c.coalition_id, currency_code=c.currency, lines=[
        pb.SettlementLine(debtor_merchant_id=line.debtor, creditor_merchant_id=line.creditor, amount=m(line.amount),
                          owed_to_creditor=m(line.owed_to_creditor), owed_to_debtor=m(line.owed_to_debtor))
        for line in lines])


def add_parts(out: pb.Hold, result: object) -> pb.Hold:
    """A partner redemption's parts on its Hold message (an ordinary hold has none)."""
    if isinstance(result, PartnerHold):
        cur = result.hold.currency
        out.parts.extend(pb.HoldPart(issuer_merchant_id=p.issuer,
                                     amount=common_pb2.Money(currency_code=cur, amount_minor=p.amount),
                                     captured=common_pb2.Money(currency_code=cur, amount_minor=p.captured))
                         for p in result.parts)
    return out
