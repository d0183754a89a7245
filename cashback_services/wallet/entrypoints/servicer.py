"""The gRPC servicer: proto in -> command -> handler -> proto out. Shape
checks (required ids, positive amounts, currencies) happen here and raise
InvalidArgument with field paths; everything else is the service layer's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2 as pb
from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_kit.amounts import check_amount
from cashback_kit.audit import change_json
from cashback_kit.auth import current_principal
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.money import Money, validate_currency
from cashback_kit.paging import page_size
from cashback_kit.pb import (
    duration_from_pb,
    fingerprint,
    money_to_pb,
    optional_money,
    optional_ts,
    ts_from_pb,
    ts_to_pb,
)
from cashback_services.wallet.adapters.customer_reads import BalanceView
from cashback_services.wallet.domain.ledger import OrderLineAmounts, net_merchandise
from cashback_services.wallet.domain.model import Transaction
from cashback_services.wallet.entrypoints import coalition_pb, points_pb, rewards_pb
from cashback_services.wallet.entrypoints.checks import amount, checked, request_violations
from cashback_services.wallet.entrypoints.transfer_pb import transfer_command, transfer_to_pb
from cashback_services.wallet.service_layer import commands
from cashback_services.wallet.service_layer.coalitions import PartnerHold
from cashback_services.wallet.service_layer.handlers import MAX_TIMELINE_DAYS, HoldResult, WalletService

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# GetProgramStats' transfers, conversions, rewards and campaign points (issue 17).
MOVES_STATS = ("transfers", "transferred", "conversions_to_points", "converted_to_points", "conversions_to_credit",
               "converted_to_credit", "reward_redemptions", "points_redeemed", "points_awarded", "points_reversed")
MAX_REASON_CHARS = 1000
HOLD_STATUS = {"active": pb.HOLD_STATUS_ACTIVE, "captured": pb.HOLD_STATUS_CAPTURED,
               "voided": pb.HOLD_STATUS_VOIDED, "expired": pb.HOLD_STATUS_EXPIRED}
TX_TYPE = {name.removeprefix("TRANSACTION_TYPE_").lower(): value
           for name, value in pb.TransactionType.items() if value}
EVENT_TYPE = {name.removeprefix("WALLET_EVENT_TYPE_").lower(): value
              for name, value in pb.WalletEventType.items() if value}


def _amount(msg: Any, name: str) -> Money:
    """One amount alone (for RPCs whose other checks are their own), refused with its currency."""
    v = Violations()
    money = amount(v, msg, name, name)
    v.raise_if_any(f"invalid {name}")
    assert money is not None
    return money


def _m(currency: str, minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code=currency, amount_minor=int(minor))


def hold_to_pb(r: HoldResult | PartnerHold) -> pb.Hold:
    h = r.hold
    return coalition_pb.add_parts(pb.Hold(
        hold_id=h.hold_id, merchant_id=r.merchant_id, customer_id=r.customer_id, order_id=h.order_id,
        amount=_m(h.currency, h.amount), captured=_m(h.currency, h.captured),
        status=HOLD_STATUS[h.status], expires_at=ts_to_pb(h.expires_at), created_at=ts_to_pb(h.created_at),
    ), r)


def tx_to_pb(merchant_id: str, customer_id: str, tx: Transaction) -> pb.Transaction:
    return pb.Transaction(
        transaction_id=tx.transaction_id, merchant_id=merchant_id, customer_id=customer_id,
        type=TX_TYPE[tx.type], amount=_m(tx.currency, tx.amount), order_id=tx.order_id or "",
        hold_id=tx.hold_id or "", refund_id=tx.refund_id or "", reason=tx.reason or "",
        created_at=ts_to_pb(tx.created_at),
        entries=[pb.Entry(account=e.account, amount=_m(e.currency, e.amount)) for e in tx.entries],
    )


def balance_to_pb(merchant_id: str, customer_id: str, b: BalanceView) -> pb.Balance:
    cur = b.currency
    out = pb.Balance(
        merchant_id=merchant_id, customer_id=customer_id, available=_m(cur, b.available),
        pending=_m(cur, b.pending), held=_m(cur, b.held), debt=_m(cur, b.debt),
        next_expiry_amount=_m(cur, b.next_expiry_amount), points=b.points,
    )
    expiry = ts_to_pb(b.next_expiry_at)
    if expiry is not None:
        out.next_expiry_at.CopyFrom(expiry)
    return out


def event_to_pb(e: dict[str, Any]) -> pb.WalletEvent:
    out = pb.WalletEvent(
        cursor=int(e["position"]), event_id=e["event_id"], type=EVENT_TYPE[e["type"]],
        merchant_id=e["merchant_id"], customer_id=e["customer_id"], amount=_m(e["currency"], e["amount"]),
        order_id=e["order_id"] or "", lot_id=e["lot_id"] or "", hold_id=e["hold_id"] or "",
        transaction_id=e["transaction_id"] or "", occurred_at=ts_to_pb(e["occurred_at"]),
        lot_count=e.get("lot_count") or 0,
    )
    for name in ("available_at", "expires_at"):
        when = ts_to_pb(e[name])
        if when is not None:
            getattr(out, name).CopyFrom(when)
    return out


def order_command(request: pb.AwardOrderRequest, now: datetime) -> commands.AwardOrder:
    """The award command of a checked order: every violation of the request at once."""
    v = request_violations(request, ("order.merchant_id", "order.order_id", "order.customer_id"))
    v.check(request.HasField("order"), "order", "is required")
    order = request.order
    cur = _currency(v, order.currency_code, "order.currency_code")
    lines = []
    for i, line in enumerate(order.lines):
        f = f"order.lines[{i}]"
        unit = amount(v, line, "unit_price", f"{f}.unit_price", sign="non_negative", currency=cur)
        disc = amount(v, line, "line_discount", f"{f}.line_discount", sign="non_negative", currency=cur,
                      required=False)
        v.check(line.quantity > 0, f"{f}.quantity", "must be positive")
        if unit is not None:
            lines.append(OrderLineAmounts(unit.minor, line.quantity, disc.minor if disc else 0))
    order_discount = amount(v, order, "order_discount", "order.order_discount", sign="non_negative", currency=cur,
                            required=False)
    for name in ("shipping", "tax", "wallet_paid"):
        amount(v, order, name, f"order.{name}", sign="non_negative", currency=cur, required=False)
    v.raise_if_any("invalid order")
    assert cur is not None
    base = net_merchandise(lines, order_discount.minor if order_discount else 0)
    check_amount(base, "order.lines", "the order's merchandise amount")
    # Like rules, an order without placed_at was placed now.
    placed_at = ts_from_pb(order.placed_at, "order.placed_at") if order.HasField("placed_at") else now
    return commands.AwardOrder(order.merchant_id, order.order_id, order.customer_id, cur, base, placed_at,
                               fingerprint(order), order)


def _currency(v: Violations, code: str, field: str) -> str | None:
    try:
        return validate_currency(code, field)
    except InvalidArgument as exc:
        v.items.extend(exc.violations)
        return None


class WalletServicer(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self, service: WalletService) -> None:
        self.svc = service

    async def AwardOrder(self, request: pb.AwardOrderRequest, context: Any) -> pb.AwardOrderResponse:
        cmd = order_command(request, self.svc.clock())
        result = await self.svc.award_order(cmd)
        return pb.AwardOrderResponse(score=rules_pb2.Score.FromString(result.score_blob),
                                     credited=money_to_pb(result.credited), debt_repaid=money_to_pb(result.debt_repaid))

    async def AwardEvent(self, request: pb.AwardEventRequest, context: Any) -> pb.AwardEventResponse:
        v = request_violations(request, ("merchant_id", "customer_id", "event_type", "event_id"))
        v.check(request.HasField("occurred_at"), "occurred_at", "is required")
        v.raise_if_any("invalid event")
        occurred = ts_from_pb(request.occurred_at, "occurred_at")
        payload = rules_pb2.ScoreEventRequest(
            merchant_id=request.merchant_id, customer_id=request.customer_id, event_type=request.event_type,
            event_id=request.event_id, occurred_at=request.occurred_at, channel=request.channel,
        )
        cmd = commands.AwardEvent(request.merchant_id, request.customer_id, request.event_type, request.event_id,
                                  occurred, fingerprint(request), payload)
        result = await self.svc.award_event(cmd)
        return pb.AwardEventResponse(score=rules_pb2.Score.FromString(result.score_blob),
                                     credited=money_to_pb(result.credited), debt_repaid=money_to_pb(result.debt_repaid))

    async def GetBalance(self, request: pb.GetBalanceRequest, context: Any) -> pb.GetBalanceResponse:
        checked(request, "merchant_id", "customer_id")
        cur = validate_currency(request.currency_code, "currency_code")
        b = await self.svc.get_balance(request.merchant_id, request.customer_id, cur)
        return pb.GetBalanceResponse(balance=balance_to_pb(request.merchant_id, request.customer_id, b))

    async def ListTransactions(self, request: pb.ListTransactionsRequest, context: Any) -> pb.ListTransactionsResponse:
        checked(request, "merchant_id", "customer_id")
        txs, token = await self.svc.list_transactions(
            request.merchant_id, request.customer_id, page_size(request.page_size), request.page_token
        )
        return pb.ListTransactionsResponse(
            transactions=[tx_to_pb(request.merchant_id, request.customer_id, tx) for tx in txs], next_page_token=token)

    async def AuthorizeRedemption(
        self, request: pb.AuthorizeRedemptionRequest, context: Any
    ) -> pb.AuthorizeRedemptionResponse:
        v = request_violations(request, ("merchant_id", "customer_id", "order_id", "idempotency_key"))
        money = amount(v, request, "amount", "amount")
        ttl = self.svc.config.hold_ttl_default
        if request.HasField("hold_ttl"):
            ttl = duration_from_pb(request.hold_ttl, "hold_ttl")
            v.check(ttl.total_seconds() > 0, "hold_ttl", "hold_ttl must be positive")
        v.raise_if_any("invalid authorization")
        assert money is not None
        cmd = commands.Authorize(request.merchant_id, request.customer_id, request.order_id, money, ttl,
                                 request.idempotency_key, fingerprint(request))
        if request.use_partner_credit:
            return pb.AuthorizeRedemptionResponse(hold=hold_to_pb(await self.svc.authorize_partner(cmd)))
        return pb.AuthorizeRedemptionResponse(hold=hold_to_pb(await self.svc.authorize(cmd)))

    async def CaptureRedemption(
        self, request: pb.CaptureRedemptionRequest, context: Any
    ) -> pb.CaptureRedemptionResponse:
        v = request_violations(request, ("merchant_id", "hold_id"))
        money = amount(v, request, "amount", "amount", required=False)
        v.raise_if_any("invalid capture")
        hold = await self.svc.capture(commands.Capture(request.merchant_id, request.hold_id, money))
        return pb.CaptureRedemptionResponse(hold=hold_to_pb(hold))

    async def VoidRedemption(self, request: pb.VoidRedemptionRequest, context: Any) -> pb.VoidRedemptionResponse:
        checked(request, "merchant_id", "hold_id")
        hold = await self.svc.void(commands.Void(request.merchant_id, request.hold_id))
        return pb.VoidRedemptionResponse(hold=hold_to_pb(hold))

    async def RefundOrder(self, request: pb.RefundOrderRequest, context: Any) -> pb.RefundOrderResponse:
        v = request_violations(request, ("merchant_id", "order_id", "refund_id"))
        money = amount(v, request, "refunded_amount", "refunded_amount")
        v.raise_if_any("invalid refund")
        assert money is not None
        cmd = commands.RefundOrder(request.merchant_id, request.order_id, request.refund_id, money,
                                   fingerprint(request))
        r = await self.svc.refund_order(cmd)
        return pb.RefundOrderResponse(credit_returned=money_to_pb(r.credit_returned),
                                      cashback_reversed=money_to_pb(r.cashback_reversed), debt=money_to_pb(r.debt))

    async def AdjustBalance(self, request: pb.AdjustBalanceRequest, context: Any) -> pb.AdjustBalanceResponse:
        v = request_violations(request, ("merchant_id", "customer_id", "idempotency_key"),
                               limits={"reason": MAX_REASON_CHARS})
        v.check(bool(request.reason.strip()), "reason", "is required")
        money = amount(v, request, "amount", "amount", sign="nonzero")
        v.raise_if_any("invalid adjustment")
        assert money is not None
        principal = current_principal.get()
        actor = commands.Actor(principal.key_id, principal.name, principal.role) if principal else None
        cmd = commands.Adjust(request.merchant_id, request.customer_id, money, request.reason,
                              request.idempotency_key, fingerprint(request), optional_ts(request, "expires_at"), actor)
        posted = await self.svc.adjust(cmd)
        tx = tx_to_pb(posted.merchant_id, posted.customer_id, posted.transaction)
        return pb.AdjustBalanceResponse(transaction=tx)

    async def TransferCredit(self, request: pb.TransferCreditRequest, context: Any) -> pb.TransferCreditResponse:
        checked(request)
        cmd = transfer_command(request, _amount(request, "amount"))
        return pb.TransferCreditResponse(transfer=transfer_to_pb(await self.svc.transfer_credit(cmd)))

    async def SetPointsRate(self, request: pb.SetPointsRateRequest, context: Any) -> pb.SetPointsRateResponse:
        checked(request, "merchant_id")
        rate = points_pb.rate_from_pb(request, _amount(request, "per"))
        updated_at = await self.svc.set_points_rate(request.merchant_id, rate)
        return pb.SetPointsRateResponse(rate=points_pb.rate_to_pb(request.merchant_id, rate, updated_at))

    async def ConvertCredit(self, request: pb.ConvertCreditRequest, context: Any) -> pb.ConvertCreditResponse:
        checked(request)
        credit = _amount(request, "credit") if request.WhichOneof("from") == "credit" else None
        return points_pb.conversion_to_pb(await self.svc.convert_credit(points_pb.convert_command(request, credit)))

    async def UpsertReward(self, request: pb.UpsertRewardRequest, context: Any) -> pb.UpsertRewardResponse:
        checked(request, "reward.merchant_id", "reward.reward_id")
        reward = await self.svc.upsert_reward(rewards_pb.reward_from_pb(request.reward))
        return pb.UpsertRewardResponse(reward=rewards_pb.reward_to_pb(reward))

    async def ListRewards(self, request: pb.ListRewardsRequest, context: Any) -> pb.ListRewardsResponse:
        checked(request, "merchant_id")
        rows, token = await self.svc.list_rewards(request.merchant_id, request.active_only,
                                                  page_size(request.page_size), request.page_token)
        return pb.ListRewardsResponse(rewards=[rewards_pb.reward_to_pb(r) for r in rows], next_page_token=token)

    async def RedeemReward(self, request: pb.RedeemRewardRequest, context: Any) -> pb.RedeemRewardResponse:
        checked(request)
        redemption = await self.svc.redeem_reward(rewards_pb.redeem_command(request))
        return pb.RedeemRewardResponse(redemption=rewards_pb.redemption_to_pb(redemption))

    async def SetTransferPolicy(self, request: pb.SetTransferPolicyRequest,
                                context: Any) -> pb.SetTransferPolicyResponse:
        checked(request, "merchant_id")
        updated_at = await self.svc.set_transfer_policy(request.merchant_id, request.require_known_receiver)
        return pb.SetTransferPolicyResponse(
            policy=rewards_pb.policy_to_pb(request.merchant_id, request.require_known_receiver, updated_at))
    async def CreateCoalition(self, request: pb.CreateCoalitionRequest, context: Any) -> pb.CreateCoalitionResponse:
        c = await self.svc.create_coalition(*coalition_pb.create_args(request))
        return pb.CreateCoalitionResponse(coalition=coalition_pb.coalition_to_pb(c))

    async def JoinCoalition(self, request: pb.JoinCoalitionRequest, context: Any) -> pb.JoinCoalitionResponse:
        merchant_id, coalition_id = coalition_pb.ids(request)
        c = await self.svc.join_coalition(coalition_id, merchant_id)
        return pb.JoinCoalitionResponse(coalition=coalition_pb.coalition_to_pb(c))

    async def GetCoalition(self, request: pb.GetCoalitionRequest, context: Any) -> pb.GetCoalitionResponse:
        merchant_id, coalition_id = coalition_pb.ids(request)
        c = await self.svc.get_coalition(coalition_id, merchant_id)
        return pb.GetCoalitionResponse(coalition=coalition_pb.coalition_to_pb(c))

    async def GetSettlement(self, request: pb.GetSettlementRequest, context: Any) -> pb.GetSettlementResponse:
        merchant_id, coalition_id = coalition_pb.ids(request)
        start, end = coalition_pb.period(request, self.svc.clock())
        c, lines = await self.svc.get_settlement(coalition_id, merchant_id, start, end)
        return coalition_pb.settlement_to_pb(c, lines)

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        v = request_violations(request)
        v.check(request.after_cursor >= 0, "after_cursor", "after_cursor must not be negative")
        v.raise_if_any("invalid stream request")
        async for row in self.svc.events(request.after_cursor, request.merchant_id):
            yield pb.StreamEventsResponse(event=event_to_pb(row))

    async def ListExpiringCredits(
        self, request: pb.ListExpiringCreditsRequest, context: Any
    ) -> pb.ListExpiringCreditsResponse:
        checked(request, "merchant_id")
        if not request.HasField("expires_before"):
            raise InvalidArgument("expires_before is required", field="expires_before")
        rows, token = await self.svc.list_expiring(
            request.merchant_id, ts_from_pb(request.expires_before, "expires_before"),
            optional_ts(request, "expires_after"), page_size(request.page_size), request.page_token,
        )
        return pb.ListExpiringCreditsResponse(next_page_token=token, credits=[
            pb.ExpiringCredit(customer_id=r["customer_id"], amount=money_to_pb(r["amount"]),
                              earliest_expiry=ts_to_pb(r["earliest_expiry"]), lot_ids=r["lot_ids"])
            for r in rows
        ])

    async def ListBalances(self, request: pb.ListBalancesRequest, context: Any) -> pb.ListBalancesResponse:
        checked(request, "merchant_id")
        min_available = optional_money(request, "min_available", "min_available")
        rows, token = await self.svc.list_balances(
            request.merchant_id, min_available, optional_ts(request, "inactive_since"),
            page_size(request.page_size), request.page_token,
        )
        out = []
        for r in rows:
            view = BalanceView(r["currency"], available=int(r["available"]), pending=int(r["pending"]),
                               held=int(r["held"]), debt=int(r["debt"]), points=int(r["points"]))
            item = pb.CustomerBalance(customer_id=r["customer_id"],
                                      balance=balance_to_pb(r["merchant_id"], r["customer_id"], view))
            last = ts_to_pb(r["last_order_at"])
            if last is not None:
                item.last_order_at.CopyFrom(last)
            out.append(item)
        return pb.ListBalancesResponse(balances=out, next_page_token=token)

    async def GetProgramTimeline(self, request: pb.GetProgramTimelineRequest,
                                 context: Any) -> pb.GetProgramTimelineResponse:
        checked(request, "merchant_id")
        end = optional_ts(request, "to") or self.svc.clock()
        start = optional_ts(request, "from") or end - timedelta(days=30)
        v = Violations()
        v.check(end > start, "to", "to must be after from")
        v.check(end - start <= timedelta(days=MAX_TIMELINE_DAYS), "from", "at most 366 days per request")
        zone_name = request.timezone or "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            v.add("timezone", f"unknown time zone {zone_name!r}")
        v.raise_if_any("invalid timeline request")
        given = validate_currency(request.currency_code, "currency_code") if request.currency_code else None
        cur, days, delays = await self.svc.program_timeline(request.merchant_id, given, start, end, zone)
        return pb.GetProgramTimelineResponse(
            days=[pb.ProgramDay(date=str(d["date"]), earned=money_to_pb(Money(cur, int(d["earned"]))),
                                redeemed=money_to_pb(Money(cur, int(d["redeemed"]))),
                                expired=money_to_pb(Money(cur, int(d["expired"]))),
                                liability=money_to_pb(Money(cur, int(d["liability"])))) for d in days],
            redemption_delay=[pb.DelayBucket(min_days=lo, max_days=hi, customers=n) for lo, hi, n in delays])

    async def GetProgramStats(self, request: pb.GetProgramStatsRequest, context: Any) -> pb.GetProgramStatsResponse:
        checked(request, "merchant_id")
        start = optional_ts(request, "from") or _EPOCH
        end = optional_ts(request, "to") or self.svc.clock()
        if end <= start:
            raise InvalidArgument("to must be after from", field="to")
        given = validate_currency(request.currency_code, "currency_code") if request.currency_code else None
        _, s = await self.svc.program_stats(request.merchant_id, given, start, end)
        moves: dict[str, Any] = {k: money_to_pb(s[k]) if isinstance(s[k], Money) else s[k] for k in MOVES_STATS}
        return pb.GetProgramStatsResponse(stats=pb.ProgramStats(
            customers_earned=s["customers_earned"], customers_redeemed=s["customers_redeemed"],
            earned=money_to_pb(s["earned"]), redeemed=money_to_pb(s["redeemed"]), expired=money_to_pb(s["expired"]),
            outstanding_liability=money_to_pb(s["outstanding_liability"]), reversed=money_to_pb(s["reversed"]),
            avg_days_to_first_redemption=s["avg_days_to_first_redemption"],
            repeat_purchase_share=s["repeat_purchase_share"],
            **moves,
        ))

    async def ListAuditEvents(self, request: pb.ListAuditEventsRequest, context: Any) -> pb.ListAuditEventsResponse:
        request_violations(request, ("merchant_id",), limits={"action": 64}).raise_if_any("invalid request")
        rows, token = await self.svc.list_audit(request.merchant_id, request.page_size, request.page_token,
                                                request.action)
        return pb.ListAuditEventsResponse(next_page_token=token, events=[pb.AuditEvent(
            id=r["id"], at=ts_to_pb(r["at"]), key_id=r["key_id"], key_name=r["key_name"], role=r["role"],
            merchant_id=r["merchant_id"], action=r["action"], target=r["target"], change_json=change_json(r))
            for r in rows])
