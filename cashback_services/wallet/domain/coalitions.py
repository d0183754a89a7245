"""Coalitions of partner brands: who is in one, and when it is active.

A coalition is a set of merchants that share customer ids and one currency.
Ops of one member proposes it (and counts as joined); it is active once ops of
every member has joined. A merchant is in at most one coalition, which keeps
"whose credit may this checkout spend" a single lookup.

Partner redemptions (spending another member's credit) are in
domain/partner.py; this module is the membership and the settlement arithmetic."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from cashback_kit.errors import FailedPrecondition, InvalidArgument, NotFound

MIN_MEMBERS, MAX_MEMBERS = 2, 20
MAX_NAME = 200


@dataclass(frozen=True)
class Member:
    merchant_id: str
    joined_at: datetime | None = None


@dataclass(frozen=True)
class Coalition:
    coalition_id: str
    name: str
    currency: str
    proposed_by: str
    members: tuple[Member, ...]
    created_at: datetime
    activated_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.activated_at is not None

    @property
    def merchant_ids(self) -> tuple[str, ...]:
        return tuple(m.merchant_id for m in self.members)

    def visible_to(self, merchant_id: str) -> Coalition:
        """Only a member's ops may see it; anyone else learns nothing, not even that it exists."""
        if merchant_id not in self.merchant_ids:
            raise NotFound(f"coalition {self.coalition_id!r} not found", reason="COALITION_NOT_FOUND")
        return self

    def join(self, merchant_id: str, now: datetime) -> Coalition:
        """The member's agreement (again: nothing changes); the last one activates it."""
        self.visible_to(merchant_id)
        members = tuple(replace(m, joined_at=m.joined_at or now) if m.merchant_id == merchant_id else m
                        for m in self.members)
        activated = self.activated_at or (now if all(m.joined_at for m in members) else None)
        return replace(self, members=members, activated_at=activated)

    def same_proposal(self, other: Coalition) -> bool:
        return (self.name, self.currency, self.proposed_by, self.merchant_ids) == (
            other.name, other.currency, other.proposed_by, other.merchant_ids)


def propose(coalition_id: str, name: str, currency: str, proposer: str, member_ids: Iterable[str],
            now: datetime) -> Coalition:
    """A new coalition, the proposer joined. Refuses a malformed member list."""
    ids = list(member_ids)
    if not name.strip():
        raise InvalidArgument("name is required", field="name")
    if len(name) > MAX_NAME:
        raise InvalidArgument(f"name is longer than {MAX_NAME} characters", field="name")
    if not MIN_MEMBERS <= len(ids) <= MAX_MEMBERS:
        raise InvalidArgument(f"a coalition has {MIN_MEMBERS} to {MAX_MEMBERS} members, not {len(ids)}",
                              field="member_merchant_ids")
    seen: set[str] = set()
    for i, merchant_id in enumerate(ids):
        if merchant_id in seen:
            raise InvalidArgument(f"{merchant_id!r} is named twice", field=f"member_merchant_ids[{i}]")
        seen.add(merchant_id)
    if proposer not in seen:
        raise InvalidArgument("the proposing merchant must be one of the members", field="member_merchant_ids")
    members = tuple(Member(m, now if m == proposer else None) for m in ids)
    return Coalition(coalition_id, name, currency, proposer, members, now)


def already_in_coalition(merchant_id: str, coalition_id: str) -> FailedPrecondition:
    return FailedPrecondition(f"merchant {merchant_id!r} is already in coalition {coalition_id!r}; a merchant is "
                              "in at most one coalition", reason="MERCHANT_IN_COALITION",
                              metadata={"merchant_id": merchant_id})


@dataclass(frozen=True)
class SettlementLine:
    """Over a period, `debtor` owes `creditor` `amount` (> 0): what the debtor's
    credit bought at the creditor less what the creditor's bought at the debtor."""

    debtor: str
    creditor: str
    amount: int
    owed_to_creditor: int
    owed_to_debtor: int


def net_lines(flows: Iterable[tuple[str, str, int]]) -> list[SettlementLine]:
    """`flows`: (issuer, redeemer, amount) with amount what the issuer owes the
    redeemer (refunds negative). One line per pair whose net is not zero,
    largest first."""
    owes: dict[tuple[str, str], int] = defaultdict(int)
    for issuer, redeemer, amount in flows:
        owes[(issuer, redeemer)] += amount
    lines = []
    for a, b in sorted({tuple(sorted(pair)) for pair in owes}):
        a_owes, b_owes = owes.get((a, b), 0), owes.get((b, a), 0)
        if a_owes > b_owes:
            lines.append(SettlementLine(a, b, a_owes - b_owes, a_owes, b_owes))
        elif b_owes > a_owes:
            lines.append(SettlementLine(b, a, b_owes - a_owes, b_owes, a_owes))
    return sorted(lines, key=lambda line: (-line.amount, line.debtor, line.creditor))
