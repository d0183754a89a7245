"""gRPC servicer: proto in -> validated command -> handler -> proto out.
No SQL and no business rules here; errors are raised as kit exceptions and the
interceptor maps them to status codes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

import grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashback_kit import paging
from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument, NotFound, Violations
from cashback_kit.money import Money, validate_currency
from cashback_kit.paging import page_size
from cashback_kit.pb import fingerprint, money_from_pb, optional_money, require_id, ts_from_pb
from cashback_services.rules.adapters.codec import money_pb, rule_of, ts_pb
from cashback_services.rules.domain.tiers import MonthCalendar, TierWindow
from cashback_services.rules.entrypoints.audit_pb import audit_change, audit_event_pb
from cashback_services.rules.entrypoints.campaign_pb import draft_of, normalize, present, reviser, stored_strings
from cashback_services.rules.entrypoints.import_pb import past_orders_from_pb
from cashback_services.rules.entrypoints.order_pb import event_from_pb, order_from_pb, skipped_detail_from_pb
from cashback_services.rules.limits import RulesLimits
from cashback_services.rules.service_layer.audience import Audience, AudienceFilter
from cashback_services.rules.service_layer.campaigns import Campaigns
from cashback_services.rules.service_layer.customers import Customers, ProfileView, validate_policy
from cashback_services.rules.service_layer.history import OrderHistory
from cashback_services.rules.service_layer.refunds import Refunds
from cashback_services.rules.service_layer.report import campaign_report
from cashback_services.rules.service_layer.scoring import Scoring
from cashback_services.rules.service_layer.segments import Segments
from cashback_services.rules.service_layer.simulate import Simulator

Ctx: TypeAlias = grpc.aio.ServicerContext
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WINDOW_PB = {TierWindow.ROLLING_DAYS: rules_pb2.TIER_WINDOW_ROLLING_DAYS,
              TierWindow.CALENDAR_MONTH: rules_pb2.TIER_WINDOW_CALENDAR_MONTH}
_WINDOW_OF = {rules_pb2.TIER_WINDOW_UNSPECIFIED: TierWindow.ROLLING_DAYS, **{v: k for k, v in _WINDOW_PB.items()}}
_CALENDAR_PB = {MonthCalendar.GREGORIAN: rules_pb2.TIER_CALENDAR_GREGORIAN,
                MonthCalendar.SOLAR_HIJRI: rules_pb2.TIER_CALENDAR_SOLAR_HIJRI}
_CALENDAR_OF = {rules_pb2.TIER_CALENDAR_UNSPECIFIED: None, **{v: k for k, v in _CALENDAR_PB.items()}}


def _profile_pb(merchant_id: str, customer_id: str, view: ProfileView) -> rules_pb2.CustomerProfile:
    pb = rules_pb2.CustomerProfile(merchant_id=merchant_id, customer_id=customer_id, tier=view.tier,
                                   manual_tier=view.manual_tier, order_count=view.order_count,
                                   window_days=view.window_days)
    if view.spend is not None:
        pb.spend_in_window.CopyFrom(money_pb(view.spend))
        pb.window = _WINDOW_PB[view.window]
    if view.window_start is not None:
        pb.window_start.FromDatetime(view.window_start)
    if view.month_spend is not None:
        pb.month_spend.CopyFrom(money_pb(view.month_spend))
    return pb


class RulesServicer(rules_pb2_grpc.RulesServiceServicer):
    def __init__(self, campaigns: Campaigns, scoring: Scoring, refunds: Refunds, customers: Customers,
                 simulator: Simulator, now: Callable[[], datetime], history: OrderHistory | None = None,
                 segments: Segments | None = None, limits: RulesLimits | None = None) -> None:
        self.campaigns, self.scoring, self.refunds = campaigns, scoring, refunds
        self.customers, self.simulator, self.now = customers, simulator, now
        self.history = history or OrderHistory(campaigns.db, now)
        self.segments = segments or Segments(campaigns.db, now)
        self.limits = limits or RulesLimits()
        self.audience = Audience(campaigns.db, now)

    async def CreateCampaign(self, request: rules_pb2.CreateCampaignRequest, context: Ctx):
        draft = draft_of(request.campaign, creating=True)
        c = present(await self.campaigns.create(draft, fingerprint(request.campaign),
                                                change=audit_change(request.campaign)))
        return rules_pb2.CreateCampaignResponse(campaign=c)

    async def UpdateCampaign(self, request: rules_pb2.UpdateCampaignRequest, context: Ctx):
        paths = list(request.update_mask.paths)
        revise = reviser(request.campaign, paths)
        c = present(await self.campaigns.update(request.campaign.merchant_id, request.campaign.campaign_id, revise,
                                                change=audit_change(request.campaign, paths)))
        return rules_pb2.UpdateCampaignResponse(campaign=c)

    async def GetCampaign(self, request: rules_pb2.GetCampaignRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        require_id(request.campaign_id, "campaign_id")
        if request.version < 0:
            raise InvalidArgument("version must not be negative", field="version")
        c = present(await self.campaigns.get(request.merchant_id, request.campaign_id, request.version))
        return rules_pb2.GetCampaignResponse(campaign=c)

    async def ListCampaigns(self, request: rules_pb2.ListCampaignsRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        if request.status not in rules_pb2.CampaignStatus.values():
            raise InvalidArgument("unknown status", field="status")
        page, token = await self.campaigns.list(request.merchant_id, request.page_size, request.page_token,
                                                request.status)
        return rules_pb2.ListCampaignsResponse(campaigns=[present(v) for v in page], next_page_token=token)

    async def SetCampaignStatus(self, request: rules_pb2.SetCampaignStatusRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        require_id(request.campaign_id, "campaign_id")
        c = present(await self.campaigns.set_status(request.merchant_id, request.campaign_id, request.status))
        return rules_pb2.SetCampaignStatusResponse(campaign=c)

    async def QuoteOrder(self, request: rules_pb2.QuoteOrderRequest, context: Ctx):
        detail = skipped_detail_from_pb(request.skipped_detail)
        order = order_from_pb(request.order, self.now(), self.limits.max_backdate, self.limits.max_future)
        return rules_pb2.QuoteOrderResponse(score=rules_pb2.Score.FromString(await self.scoring.quote(order, detail)))

    async def ScoreOrder(self, request: rules_pb2.ScoreOrderRequest, context: Ctx):
        detail = skipped_detail_from_pb(request.skipped_detail)
        order = order_from_pb(request.order, self.now(), self.limits.max_backdate, self.limits.max_future)
        body = request.order.SerializeToString(deterministic=True)
        score = await self.scoring.score(order, fingerprint(request.order), body, detail)
        return rules_pb2.ScoreOrderResponse(score=rules_pb2.Score.FromString(score))

    async def ReverseOrder(self, request: rules_pb2.ReverseOrderRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        require_id(request.order_id, "order_id")
        require_id(request.refund_id, "refund_id")
        if not request.HasField("refunded_amount"):
            raise InvalidArgument("refunded_amount is required", field="refunded_amount")
        amount = money_from_pb(request.refunded_amount, "refunded_amount", positive=True)
        reversal = await self.refunds.reverse(request.merchant_id, request.order_id, request.refund_id, amount,
                                              fingerprint(request))
        return rules_pb2.ReverseOrderResponse(reversal=rules_pb2.Reversal.FromString(reversal))

    async def ScoreEvent(self, request: rules_pb2.ScoreEventRequest, context: Ctx):
        event = event_from_pb(request, self.now(), self.limits.max_backdate, self.limits.max_future)
        score = await self.scoring.score_event(event, fingerprint(request))
        return rules_pb2.ScoreEventResponse(score=rules_pb2.Score.FromString(score))

    async def SimulateCampaign(self, request: rules_pb2.SimulateCampaignRequest, context: Ctx):
        campaign = rules_pb2.Campaign()
        campaign.CopyFrom(request.campaign)
        campaign.status = rules_pb2.CAMPAIGN_STATUS_DRAFT  # a draft, whatever status it was sent with
        draft = normalize(campaign, creating=True)
        if not request.HasField("from"):
            raise InvalidArgument("from is required", field="from")
        if not request.HasField("to"):
            raise InvalidArgument("to is required", field="to")
        start, end = ts_from_pb(getattr(request, "from"), "from"), ts_from_pb(request.to, "to")
        if end <= start:
            raise InvalidArgument("to must be after from", field="to")
        sim = await self.simulator.simulate(draft.merchant_id, rule_of(draft, seq=0), start, end)
        return rules_pb2.SimulateCampaignResponse(simulation=rules_pb2.Simulation(
            orders_considered=sim.orders_considered, orders_matched=sim.orders_matched, customers=sim.customers,
            total_cashback=money_pb(sim.total_cashback), gmv=money_pb(sim.gmv), cashback_to_gmv=sim.cashback_to_gmv,
            matched_gmv=money_pb(sim.matched_gmv), total_points=sim.total_points))

    async def UpsertTierPolicy(self, request: rules_pb2.UpsertTierPolicyRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        v = Violations()
        stored_strings(v, request, "", max_chars=128, max_items=100)
        for i, tier in enumerate(request.tiers):
            v.check(abs(tier.min_spend.amount_minor) <= MAX_MINOR, f"tiers[{i}].min_spend.amount_minor",
                    f"at most {MAX_MINOR} minor units")
            v.check(tier.window in _WINDOW_OF, f"tiers[{i}].window", "unknown window")
        v.check(request.calendar in _CALENDAR_OF, "calendar", "unknown calendar")
        v.raise_if_any("invalid tier policy")
        tiers = [(t.name, optional_money(t, "min_spend", f"tiers[{i}].min_spend"), t.window_days, _WINDOW_OF[t.window])
                 for i, t in enumerate(request.tiers)]
        policy = validate_policy(tiers, request.timezone)
        policy = await self.customers.upsert_policy(request.merchant_id, policy, self.now(),
                                                    zone_given=bool(request.timezone),
                                                    calendar=_CALENDAR_OF[request.calendar])
        out = rules_pb2.TierPolicy(merchant_id=request.merchant_id, timezone=policy.timezone,
                                   calendar=_CALENDAR_PB[policy.calendar])
        for t in policy.tiers:
            out.tiers.add(name=t.name, min_spend=money_pb(t.min_spend), window_days=t.window_days,
                          window=_WINDOW_PB[t.window])
        return rules_pb2.UpsertTierPolicyResponse(tier_policy=out)

    async def SetCustomerTier(self, request: rules_pb2.SetCustomerTierRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        require_id(request.customer_id, "customer_id")
        if len(request.tier) > 128 or request.tier != request.tier.strip():
            raise InvalidArgument("tier is at most 128 characters with no spaces at the ends", field="tier")
        v = Violations()
        stored_strings(v, request, "", max_chars=128)
        v.raise_if_any("invalid customer tier")
        view = await self.customers.set_tier(request.merchant_id, request.customer_id, request.tier, self.now())
        return rules_pb2.SetCustomerTierResponse(profile=_profile_pb(request.merchant_id, request.customer_id, view))

    async def GetCustomerProfile(self, request: rules_pb2.GetCustomerProfileRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        require_id(request.customer_id, "customer_id")
        view = await self.customers.profile(request.merchant_id, request.customer_id, self.now())
        profile = _profile_pb(request.merchant_id, request.customer_id, view)
        rfm = await self.segments.of_customer(request.merchant_id, request.customer_id)
        if rfm is not None:
            profile.rfm.CopyFrom(rules_pb2.RfmScore(recency=rfm.recency, frequency=rfm.frequency,
                                                    monetary=rfm.monetary, segment=rfm.segment))
        return rules_pb2.GetCustomerProfileResponse(profile=profile)

    async def GetCampaignReport(self, request: rules_pb2.GetCampaignReportRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        end = ts_from_pb(request.to, "to") if request.HasField("to") else self.now()
        start = ts_from_pb(getattr(request, "from"), "from") if request.HasField("from") else _EPOCH
        if end <= start:
            raise InvalidArgument("to must be after from", field="to")
        currency = validate_currency(request.currency_code or "SAR", "currency_code")
        async with self.simulator.heavy.slot(request.merchant_id, "GetCampaignReport"):
            lines, repeat = await campaign_report(self.campaigns.db, request.merchant_id, currency, start, end)
        out = rules_pb2.GetCampaignReportResponse(repeat_purchase=rules_pb2.RepeatPurchase(
            earners=repeat.earners, earners_repeat=repeat.earners_repeat, non_earners=repeat.non_earners,
            non_earners_repeat=repeat.non_earners_repeat))
        credit: list[rules_pb2.CampaignCost] = []
        points: list[rules_pb2.CampaignCost] = []
        for line in lines:
            try:
                campaign = present(await self.campaigns.get(request.merchant_id, line.campaign_id, 0))
                name, unit = campaign.name, campaign.reward_unit
            except NotFound:
                name, unit = line.campaign_id, rules_pb2.REWARD_UNIT_CREDIT
            # A campaign's unit never changes (UpdateCampaign refuses it), so the current
            # version says the unit of every award it made: points stay out of the money.
            in_points = unit == rules_pb2.REWARD_UNIT_POINTS
            (points if in_points else credit).append(rules_pb2.CampaignCost(
                campaign_id=line.campaign_id, name=name, orders=line.orders, reward_unit=unit,
                cost=money_pb(Money(currency, 0 if in_points else line.cost)),
                points=line.cost if in_points else 0, gmv=money_pb(Money(currency, line.gmv))))
        points.sort(key=lambda c: (-c.points, c.campaign_id))  # credit lines come sorted by cost
        out.campaigns.extend(credit + points)
        out.points_total = sum(c.points for c in points)
        return out

    async def ImportOrders(self, request: rules_pb2.ImportOrdersRequest, context: Ctx):
        orders = past_orders_from_pb(request, self.now())
        result = await self.history.import_orders(request.merchant_id, orders)
        return rules_pb2.ImportOrdersResponse(imported=result.imported, already_present=result.already_present)

    async def ListSegments(self, request: rules_pb2.ListSegmentsRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        view = await self.segments.list(request.merchant_id)
        out = rules_pb2.ListSegmentsResponse(window_days=view.window_days, currency_code=view.currency)
        if view.computed_at is not None:
            out.computed_at.CopyFrom(ts_pb(view.computed_at))
        for line in view.lines:
            seg = out.segments.add(segment=line.segment, customers=line.customers)
            if line.spend is not None:
                seg.spend.CopyFrom(money_pb(line.spend))
        return out

    async def ListAuditEvents(self, request: rules_pb2.ListAuditEventsRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        if len(request.action) > 64:
            raise InvalidArgument("action is at most 64 characters", field="action")
        size = page_size(request.page_size)
        query = paging.scope("ListAuditEvents", request.merchant_id, request.action)
        before = paging.read(request.page_token, query, int)
        rows = await self.campaigns.audit_events(request.merchant_id, size + 1, before, request.action)
        out = rules_pb2.ListAuditEventsResponse(events=[audit_event_pb(r) for r in rows[:size]])
        if len(rows) > size:
            out.next_page_token = paging.issue(query, rows[size - 1]["id"])
        return out

    async def ListCustomers(self, request: rules_pb2.ListCustomersRequest, context: Ctx):
        require_id(request.merchant_id, "merchant_id")
        f = AudienceFilter(tuple(request.segments), tuple(request.tiers), request.inactive_days)
        page, token = await self.audience.list(request.merchant_id, f, request.page_size, request.page_token)
        out = rules_pb2.ListCustomersResponse(next_page_token=token)
        for c in page:
            pb = out.customers.add(customer_id=c.customer_id, segment=c.segment, tier=c.tier,
                                   order_count=c.order_count)
            if c.last_order_at is not None:
                pb.last_order_at.CopyFrom(ts_pb(c.last_order_at))
        return out
