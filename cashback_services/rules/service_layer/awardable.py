"""What the wallet would refuse of a score, checked before rules commits it
(issue 15, point 4): a score the wallet cannot credit must never spend budget
or per-customer limits, since nothing would give them back.

The wallet refuses, after rules has scored (cashback_services/wallet/adapters/
rules_client.py, `scored_from_pb`, and its write): an available_at or expires_at
outside [1970, 9000) (`cashback_kit.pb.ts_from_pb`), and amounts past the kit's
single-amount cap (`cashback_kit.amounts.MAX_MINOR`, which keeps its balance sums
inside int64). Everything it refuses *before* scoring (ids, currency, amounts of
the order, quantities) rules' own order validation refuses too, with the same
code (INVALID_ARGUMENT). If the wallet ever refuses a committed score anyway, the
release path is ReverseOrder of the whole order (refund_id of the wallet's
choosing, refunded_amount = the order's net merchandise): it gives back the
budget and the usage exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument, Violations
from cashback_services.rules.domain.model import ScoreOut

# The wallet's (and the kit's) timestamp range: cashback_kit.pb.ts_from_pb.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def check_awardable(out: ScoreOut, field: str) -> None:
    """InvalidArgument (reason NOT_AWARDABLE) naming `field` and every award the
    wallet would refuse; nothing has been written yet when this raises."""
    v = Violations()
    for i, a in enumerate(out.awards):
        for name, when in (("available_at", a.available_at), ("expires_at", a.expires_at)):
            if when is not None and not (EARLIEST <= when < LATEST):
                v.add(field, f"award {i} ({a.campaign_id}) would have {name} {when:%Y-%m-%d}, outside the "
                             "wallet's range 1970-9000")
        if not 0 <= a.amount.minor <= MAX_MINOR:
            v.add(field, f"award {i} ({a.campaign_id}) is larger than {MAX_MINOR} minor units")
    if sum(a.amount.minor for a in out.awards) > MAX_MINOR:
        v.add(field, f"the awards add up to more than {MAX_MINOR} minor units")
    if v.items:
        raise InvalidArgument("the wallet would refuse this score, so it is not committed",
                              violations=v.items, reason="NOT_AWARDABLE")
