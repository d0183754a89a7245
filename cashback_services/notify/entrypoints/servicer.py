"""NotifyService over gRPC: protos in, service layer, protos out. No SQL here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cashback.notify.v1 import notify_pb2 as N
from cashback.notify.v1 import notify_pb2_grpc

from cashback_kit.amounts import check_amount
from cashback_kit.audit import change_json
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.money import Money
from cashback_kit.pb import money_from_pb, require_id, ts_from_pb, ts_to_pb
from cashback_services.notify.domain.model import Contact, Policy
from cashback_services.notify.entrypoints.promotion_pb import draft_of, promotion_pb
from cashback_services.notify.service_layer.service import NotifyService, cron_trigger

_KIND = {N.MESSAGE_KIND_CREDITED: "credited", N.MESSAGE_KIND_AVAILABLE: "available",
         N.MESSAGE_KIND_REMINDER: "reminder", N.MESSAGE_KIND_EXPIRY_WARNING: "expiry_warning",
         N.MESSAGE_KIND_PROMOTION: "promotion",
         N.MESSAGE_KIND_TRANSFERRED_OUT: "transferred_out", N.MESSAGE_KIND_TRANSFERRED_IN: "transferred_in",
         N.MESSAGE_KIND_CONVERTED: "converted", N.MESSAGE_KIND_REWARD_REDEEMED: "reward_redeemed"}
_KIND_PB = {v: k for k, v in _KIND.items()}
_CHANNEL = {N.CHANNEL_SMS: "sms", N.CHANNEL_EMAIL: "email"}
_CHANNEL_PB = {v: k for k, v in _CHANNEL.items()}
_STATUS_PB = {s: getattr(N, f"DELIVERY_STATUS_{s}") for s in
              ("SCHEDULED", "SENDING", "SENT", "FAILED", "SUPPRESSED", "DEAD")}


def _kind(value: int, field: str) -> str:
    kind = _KIND.get(N.MessageKind.ValueType(value))
    if kind is None:
        raise InvalidArgument(f"{field} must be a known message kind", field=field)
    return kind


def _channel(value: int, field: str) -> str:
    channel = _CHANNEL.get(N.Channel.ValueType(value))
    if channel is None:
        raise InvalidArgument(f"{field} must be SMS or EMAIL", field=field)
    return channel


def contact_pb(c: Contact) -> N.Contact:
    return N.Contact(merchant_id=c.merchant_id, customer_id=c.customer_id, phone_e164=c.phone_e164, email=c.email,
                     locale=c.locale, timezone=c.timezone, sms_opt_in=c.sms_opt_in, email_opt_in=c.email_opt_in)


def policy_pb(p: Policy) -> N.NotifyPolicy:
    return N.NotifyPolicy(merchant_id=p.merchant_id, expiry_warning_days=list(p.expiry_warning_days),
                          quiet_hours_start=p.quiet_hours_start, quiet_hours_end=p.quiet_hours_end,
                          notify_on_credit=p.notify_on_credit, notify_on_available=p.notify_on_available,
                          shop_name=p.shop_name, default_region=p.default_region, hijri_dates=p.hijri_dates,
                          latin_digits=p.latin_digits)


def reminder_pb(r: dict[str, Any]) -> N.ReminderCampaign:
    out = N.ReminderCampaign(
        campaign_id=r["campaign_id"], merchant_id=r["merchant_id"], name=r["name"], cron=r["cron"],
        timezone=r["timezone"], inactive_days=r["inactive_days"], active=r["active"],
        channels=[_CHANNEL_PB[c] for c in r["channels"].split(",") if c])
    out.min_available.currency_code, out.min_available.amount_minor = r["min_currency"], r["min_amount"]
    if r["active"]:
        nxt = cron_trigger(r["cron"], r["timezone"]).get_next_fire_time(None, datetime.now(ZoneInfo(r["timezone"])))
        if nxt is not None:
            out.next_run_at.FromDatetime(nxt)
            local = nxt.astimezone(ZoneInfo(r["timezone"]))
            out.next_run_local = f"{local.isoformat()} {local.strftime('%A')}"
    return out


def delivery_pb(d: dict[str, Any]) -> N.Delivery:
    return N.Delivery(
        delivery_id=d["delivery_id"], merchant_id=d["merchant_id"], customer_id=d["customer_id"],
        kind=_KIND_PB[d["kind"]], channel=_CHANNEL_PB[d["channel"]], status=_STATUS_PB[d["status"]],
        to=d["to_addr"], subject=d["subject"], body=d["body"], encoding=d["encoding"], segments=d["segments"],
        provider_message_id=d["provider_message_id"], attempts=d["attempts"],
        scheduled_for=ts_to_pb(d["scheduled_for"]), sent_at=ts_to_pb(d["sent_at"]), error=d["error"])


def parked_pb(r: dict[str, Any]) -> N.ParkedEvent:
    return N.ParkedEvent(event_id=r["event_id"], merchant_id=r["merchant_id"], customer_id=r["customer_id"],
                         cursor=r["position"], error=r["error"], attempts=r["attempts"],
                         parked_at=ts_to_pb(r["parked_at"]), last_attempt_at=ts_to_pb(r["last_attempt_at"]))


def audit_pb(r: dict[str, Any]) -> N.AuditEvent:
    return N.AuditEvent(id=r["id"], at=ts_to_pb(r["at"]), key_id=r["key_id"], key_name=r["key_name"], role=r["role"],
                        merchant_id=r["merchant_id"], action=r["action"], target=r["target"],
                        change_json=change_json(r))


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, service: NotifyService) -> None:
        self.s = service

    async def UpsertContact(self, request: N.UpsertContactRequest, context: Any) -> N.UpsertContactResponse:
        c = request.contact
        require_id(c.merchant_id, "contact.merchant_id")
        require_id(c.customer_id, "contact.customer_id")
        saved = await self.s.upsert_contact(Contact(c.merchant_id, c.customer_id, c.phone_e164, c.email,
                                                    c.locale, c.timezone, c.sms_opt_in, c.email_opt_in))
        return N.UpsertContactResponse(contact=contact_pb(saved))

    async def GetContact(self, request: N.GetContactRequest, context: Any) -> N.GetContactResponse:
        require_id(request.merchant_id, "merchant_id")
        require_id(request.customer_id, "customer_id")
        return N.GetContactResponse(contact=contact_pb(await self.s.get_contact(request.merchant_id,
                                                                                request.customer_id)))

    async def FindContacts(self, request: N.FindContactsRequest, context: Any) -> N.FindContactsResponse:
        require_id(request.merchant_id, "merchant_id")
        found = await self.s.find_contacts(request.merchant_id, request.phone, request.email)
        return N.FindContactsResponse(contacts=[contact_pb(c) for c in found])

    async def SetTemplate(self, request: N.SetTemplateRequest, context: Any) -> N.SetTemplateResponse:
        tp = request.template
        require_id(tp.merchant_id, "template.merchant_id")
        await self.s.set_template(tp.merchant_id, _kind(tp.kind, "template.kind"),
                                  _channel(tp.channel, "template.channel"), tp.locale, tp.subject, tp.body)
        return N.SetTemplateResponse(template=tp)

    async def PreviewTemplate(self, request: N.PreviewTemplateRequest, context: Any) -> N.PreviewTemplateResponse:
        require_id(request.merchant_id, "merchant_id")
        amount: Money | None = None
        if request.HasField("amount"):
            amount = money_from_pb(request.amount, "amount", positive=True)
        body = request.template.body if request.HasField("template") else None
        subject = request.template.subject if request.HasField("template") else ""
        r = await self.s.preview(request.merchant_id, _kind(request.kind, "kind"), _channel(request.channel, "channel"),
                                 request.locale, body, request.customer_id, amount, subject)
        return N.PreviewTemplateResponse(rendered=N.RenderedMessage(subject=r.subject, body=r.body,
                                                                    encoding=r.encoding, segments=r.segments))

    async def SetNotifyPolicy(self, request: N.SetNotifyPolicyRequest, context: Any) -> N.SetNotifyPolicyResponse:
        p = request.policy
        require_id(p.merchant_id, "policy.merchant_id")
        saved = await self.s.set_policy(Policy(p.merchant_id, tuple(p.expiry_warning_days), p.quiet_hours_start,
                                               p.quiet_hours_end, p.notify_on_credit, p.notify_on_available,
                                               p.shop_name, p.default_region, p.hijri_dates, p.latin_digits))
        return N.SetNotifyPolicyResponse(policy=policy_pb(saved))

    async def GetNotifyPolicy(self, request: N.GetNotifyPolicyRequest, context: Any) -> N.GetNotifyPolicyResponse:
        require_id(request.merchant_id, "merchant_id")
        return N.GetNotifyPolicyResponse(policy=policy_pb(await self.s.get_policy(request.merchant_id)))

    async def CreateReminderCampaign(self, request: N.CreateReminderCampaignRequest,
                                     context: Any) -> N.CreateReminderCampaignResponse:
        c = request.campaign
        require_id(c.merchant_id, "campaign.merchant_id")
        v = Violations()
        v.check(all(ch in _CHANNEL for ch in c.channels), "campaign.channels", "SMS or EMAIL")
        v.check(c.HasField("min_available"), "campaign.min_available", "required, e.g. 100000 IRR")
        v.raise_if_any("invalid reminder campaign")
        minimum = money_from_pb(c.min_available, "campaign.min_available", non_negative=True)
        check_amount(minimum.minor, "campaign.min_available.amount_minor", "campaign.min_available")
        row = await self.s.create_reminder({
            "campaign_id": c.campaign_id, "merchant_id": c.merchant_id, "name": c.name, "cron": c.cron,
            "timezone": c.timezone, "min_currency": minimum.currency, "min_amount": minimum.minor,
            "inactive_days": c.inactive_days, "channels": ",".join(sorted({_CHANNEL[ch] for ch in c.channels})),
            "active": True})
        return N.CreateReminderCampaignResponse(campaign=reminder_pb(row))

    async def ListReminderCampaigns(self, request: N.ListReminderCampaignsRequest,
                                    context: Any) -> N.ListReminderCampaignsResponse:
        require_id(request.merchant_id, "merchant_id")
        rows, token = await self.s.list_reminders(request.merchant_id, request.page_size, request.page_token)
        return N.ListReminderCampaignsResponse(campaigns=[reminder_pb(r) for r in rows], next_page_token=token)

    async def SetReminderCampaignActive(self, request: N.SetReminderCampaignActiveRequest,
                                        context: Any) -> N.SetReminderCampaignActiveResponse:
        require_id(request.merchant_id, "merchant_id")
        require_id(request.campaign_id, "campaign_id")
        row = await self.s.set_reminder_active(request.merchant_id, request.campaign_id, request.active)
        return N.SetReminderCampaignActiveResponse(campaign=reminder_pb(row))

    async def RunReminderCampaign(self, request: N.RunReminderCampaignRequest,
                                  context: Any) -> N.RunReminderCampaignResponse:
        require_id(request.merchant_id, "merchant_id")
        require_id(request.campaign_id, "campaign_id")
        run = await self.s.run_reminder(request.merchant_id, request.campaign_id)
        return N.RunReminderCampaignResponse(run=N.CampaignRun(
            run_id=run["run_id"], campaign_id=run["campaign_id"], local_date=run["local_date"],
            customers_matched=run["customers_matched"], deliveries_created=run["deliveries_created"],
            started_at=ts_to_pb(run["started_at"])))

    async def ListDeliveries(self, request: N.ListDeliveriesRequest, context: Any) -> N.ListDeliveriesResponse:
        require_id(request.merchant_id, "merchant_id")
        rows, token = await self.s.list_deliveries(request.merchant_id, request.customer_id, request.page_size,
                                                   request.page_token)
        return N.ListDeliveriesResponse(deliveries=[delivery_pb(d) for d in rows], next_page_token=token)

    async def RequeueDeliveries(self, request: N.RequeueDeliveriesRequest,
                                context: Any) -> N.RequeueDeliveriesResponse:
        require_id(request.merchant_id, "merchant_id")
        after = ts_from_pb(request.created_after, "created_after") if request.HasField("created_after") else None
        before = ts_from_pb(request.created_before, "created_before") if request.HasField("created_before") else None
        ids = await self.s.requeue(request.merchant_id, list(request.delivery_ids), after, before)
        return N.RequeueDeliveriesResponse(requeued=len(ids), delivery_ids=ids)

    async def ListParkedEvents(self, request: N.ListParkedEventsRequest, context: Any) -> N.ListParkedEventsResponse:
        require_id(request.merchant_id, "merchant_id")
        rows, token = await self.s.ops.list_parked(request.merchant_id, request.page_size, request.page_token)
        return N.ListParkedEventsResponse(events=[parked_pb(r) for r in rows], next_page_token=token)

    async def RetryParkedEvents(self, request: N.RetryParkedEventsRequest,
                                context: Any) -> N.RetryParkedEventsResponse:
        require_id(request.merchant_id, "merchant_id")
        done, still = await self.s.ops.retry_parked(request.merchant_id, list(request.event_ids))
        return N.RetryParkedEventsResponse(processed_event_ids=done, still_parked=[parked_pb(r) for r in still])

    async def ListAuditEvents(self, request: N.ListAuditEventsRequest, context: Any) -> N.ListAuditEventsResponse:
        require_id(request.merchant_id, "merchant_id")
        rows, token = await self.s.ops.list_audit(request.merchant_id, request.page_size, request.page_token,
                                                  request.action)
        return N.ListAuditEventsResponse(events=[audit_pb(r) for r in rows], next_page_token=token)

    async def CreatePromotion(self, request: N.CreatePromotionRequest, context: Any) -> N.CreatePromotionResponse:
        require_id(request.merchant_id, "merchant_id")
        row = await self.s.promotions.create(draft_of(request))
        return N.CreatePromotionResponse(promotion=promotion_pb(row))

    async def ListPromotions(self, request: N.ListPromotionsRequest, context: Any) -> N.ListPromotionsResponse:
        require_id(request.merchant_id, "merchant_id")
        rows, token = await self.s.promotions.page(request.merchant_id, request.page_size, request.page_token)
        return N.ListPromotionsResponse(promotions=[promotion_pb(r) for r in rows], next_page_token=token)

    async def CancelPromotion(self, request: N.CancelPromotionRequest, context: Any) -> N.CancelPromotionResponse:
        require_id(request.merchant_id, "merchant_id")
        require_id(request.promotion_id, "promotion_id")
        row = await self.s.promotions.cancel(request.merchant_id, request.promotion_id)
        return N.CancelPromotionResponse(promotion=promotion_pb(row))
