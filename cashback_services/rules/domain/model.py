"""The rules domain in plain values: campaigns as rules, orders, customer
profiles, usage snapshots and the outcome of scoring.

Enum numbers mirror the proto enums (Channel, SkipReason) so the servicer can
pass them through, but nothing here imports protobuf or SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from cashback_kit.money import Money


class Channel(IntEnum):
    UNSPECIFIED = 0
    WEB = 1
    APP = 2
    POS = 3


class CampaignStatus(IntEnum):
    DRAFT = 1
    ACTIVE = 2
    PAUSED = 3
    ENDED = 4


class Trigger(IntEnum):
    ORDER = 1
    EVENT = 2


class SkipCode(IntEnum):
    UNSPECIFIED = 0
    OUTSIDE_WINDOW = 1
    CHANNEL = 2
    PAYMENT_METHOD = 3
    COUPON = 4
    BELOW_MINIMUM = 5
    NO_ELIGIBLE_LINES = 6
    TIER = 7
    PRIOR_ORDERS = 8
    CUSTOMER_LIMIT = 9
    BUDGET_SPENT = 10
    EXCLUSIVE = 11
    CURRENCY = 12
    ZERO_AMOUNT = 13
    EVENT_TYPE = 14
    TOO_MANY_PRIOR_ORDERS = 15
    SEGMENT = 16


class SkippedDetail(IntEnum):
    """How much of `skipped` an answer carries (the proto's SkippedDetail)."""

    ALL = 1
    MATCHABLE = 2
    NONE = 3


# The skips of campaigns the order matched on everything but amounts, limits and
# stacking: what SkippedDetail.MATCHABLE keeps.
MATCHABLE_CODES = frozenset({SkipCode.BELOW_MINIMUM, SkipCode.CUSTOMER_LIMIT, SkipCode.BUDGET_SPENT,
                             SkipCode.EXCLUSIVE, SkipCode.ZERO_AMOUNT})


def shows(detail: SkippedDetail, code: int) -> bool:
    """Whether a skipped entry with this code is in an answer of this detail."""
    return detail is SkippedDetail.ALL or (detail is SkippedDetail.MATCHABLE and code in MATCHABLE_CODES)


@dataclass(frozen=True)
class Rule:
    """One version of an active campaign, as scoring sees it.

    `seq` is the campaign's creation order: the older campaign wins an exclusive
    tie. Sets of names are stored lower-cased where the contract says matching is
    case-insensitive (payment methods, coupon codes)."""

    campaign_id: str
    version: int
    seq: int
    name: str
    currency: str
    trigger: Trigger = Trigger.ORDER
    event_type: str = ""
    percent_bps: int | None = None
    fixed: Money | None = None
    tier_bps: dict[str, int] = field(default_factory=dict)
    sku_bps: dict[str, int] = field(default_factory=dict)
    category_bps: dict[str, int] = field(default_factory=dict)
    min_order: Money | None = None
    max_per_order: Money | None = None
    max_per_customer: Money | None = None
    max_awards_per_customer: int = 0
    max_awards_per_day: int = 0
    budget: Money | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str = "UTC"
    channels: frozenset[int] = frozenset()
    payment_methods: frozenset[str] = frozenset()
    coupon_codes: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    include_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    min_prior_orders: int = 0
    max_prior_orders: int | None = None  # None: no upper bound; 0: first order only
    customer_tiers: frozenset[str] = frozenset()
    customer_segments: frozenset[str] = frozenset()  # RFM segments; empty = all
    priority: int = 0
    exclusive: bool = False
    pending_days: int = 0
    expires_after_days: int = 0
    # Pays points, not credit: amounts, caps and budget then count points (as minor units).
    points: bool = False

    def shown(self, amount: Money) -> str:
        """An amount of this campaign in words: "SAR5.00", or "500 points"."""
        return f"{amount.minor} points" if self.points else str(amount)

    @property
    def has_line_filter(self) -> bool:
        """False when the campaign pays on every line (no include list)."""
        return bool(self.include_categories or self.include_skus)


@dataclass(frozen=True)
class Line:
    sku: str
    category_ids: tuple[str, ...]
    unit_price: Money
    quantity: int
    line_discount: Money

    @property
    def net(self) -> Money:
        return self.unit_price * self.quantity - self.line_discount


@dataclass(frozen=True)
class OrderIn:
    """An order to score. `placed_at` is when the window and per-day limits are judged."""

    merchant_id: str
    order_id: str
    customer_id: str
    placed_at: datetime
    currency: str
    channel: int
    payment_method: str
    lines: tuple[Line, ...]
    shipping: Money
    tax: Money
    order_discount: Money
    wallet_paid: Money
    coupon_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventIn:
    merchant_id: str
    customer_id: str
    event_type: str
    event_id: str
    occurred_at: datetime
    channel: int


@dataclass(frozen=True)
class Profile:
    """What scoring knows about the customer, read once per call."""

    tier: str = ""
    prior_orders: int = 0
    segment: str = ""  # RFM segment as last computed; "" = none


@dataclass(frozen=True)
class Usage:
    """What a campaign has already paid, overall and to this customer (net of
    reversals), and how many awards the customer had on the order's local day."""

    budget_used: int = 0
    customer_amount: int = 0
    customer_count: int = 0
    customer_day_count: int = 0


@dataclass(frozen=True)
class AwardOut:
    campaign_id: str
    campaign_version: int
    amount: Money
    explanation: str
    available_at: datetime
    expires_at: datetime | None
    local_day: str
    points: bool = False  # `amount` counts points (Money in the score's currency, minor = points)


@dataclass(frozen=True)
class SkipOut:
    campaign_id: str
    campaign_version: int
    code: SkipCode
    reason: str


@dataclass
class ScoreOut:
    currency: str
    awards: list[AwardOut] = field(default_factory=list)
    skipped: list[SkipOut] = field(default_factory=list)

    @property
    def total(self) -> Money:
        """The credit awarded (points campaigns' awards are in points_total)."""
        total = Money.zero(self.currency)
        for a in self.awards:
            if not a.points:
                total = total + a.amount
        return total

    @property
    def points_total(self) -> int:
        return sum(a.amount.minor for a in self.awards if a.points)


@dataclass(frozen=True)
class ReversedAward:
    campaign_id: str
    campaign_version: int
    amount: Money  # points as Money("PTS", n) for a points campaign's award
    explanation: str


@dataclass(frozen=True)
class ReversalOut:
    """What ReverseOrder took back from one order's awards: credit (total) and points."""

    order_id: str
    refund_id: str
    total: Money
    awards: tuple[ReversedAward, ...]
    points_total: int = 0


@dataclass(frozen=True)
class SimulationOut:
    orders_considered: int
    orders_matched: int
    customers: int
    total_cashback: Money
    gmv: Money
    matched_gmv: Money
    total_points: int = 0  # a points campaign's awards (then total_cashback is zero)

    @property
    def cashback_to_gmv(self) -> float:
        """A ratio for people to read (0.02 = 2%), not money."""
        return self.total_cashback.minor / self.gmv.minor if self.gmv.minor else 0.0
