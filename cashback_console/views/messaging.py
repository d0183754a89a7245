"""Reminders (list, create, on/off, run now), message templates with a preview
and SMS segment count, and the merchant's settings: tiers and notifications."""

from __future__ import annotations

from typing import Any

from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2 as R
from cashback.wallet.v1 import wallet_pb2 as W
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.forms import unit_word
from cashback_console.i18n import translate
from cashback_console.services import ServiceError
from cashback_console.sessions import Session
from cashback_console.web import console_of, field_errors, page, redirect, render
from cashbackctl.notify_cmds import amount_for
from cashbackctl.units import AmountError, number, parse_amount, to_ascii

KINDS = {"credited": N.MESSAGE_KIND_CREDITED, "available": N.MESSAGE_KIND_AVAILABLE,
         "reminder": N.MESSAGE_KIND_REMINDER, "expiry_warning": N.MESSAGE_KIND_EXPIRY_WARNING}
CHANNELS = {"sms": N.CHANNEL_SMS, "email": N.CHANNEL_EMAIL}


async def _reminders_page(request: Request, s: Session, form: Any = None, errors: dict[str, str] | None = None,
                          status: int = 200) -> Response:
    listed = (await console_of(request).call(s, "notify", "ListReminderCampaigns", N.ListReminderCampaignsRequest(
        merchant_id=s.merchant, page_size=500))).campaigns
    values = {k: (form.getlist(k) if k == "channels" else v) for k, v in form.items()} if form else \
        {"timezone": s.timezone, "inactive_days": "30", "channels": ["sms"]}
    return render(request, s, "reminders.html", http_status=status, title_key="Reminders", reminders=listed,
                  form=values, errors=errors or {})


@page()
async def reminders(request: Request, s: Session) -> Response:
    return await _reminders_page(request, s)


@page()
async def create_reminder(request: Request, s: Session) -> Response:
    form = await request.form()
    errors: dict[str, str] = {}
    c = N.ReminderCampaign(merchant_id=s.merchant, name=str(form.get("name", "")).strip(),
                           cron=str(form.get("cron", "")).strip(), timezone=str(form.get("timezone", "")) or "UTC",
                           channels=[CHANNELS[ch] for ch in form.getlist("channels") if ch in CHANNELS], active=True)
    try:
        c.inactive_days = int(to_ascii(str(form.get("inactive_days", "0"))) or 0)
    except ValueError:
        errors["inactive_days"] = translate("write a whole number", s.lang)
    try:
        m = parse_amount(str(form.get("min_available", "")), "min_available", unit_word(s.currency))
        c.min_available.CopyFrom(common_pb2.Money(currency_code=m.currency, amount_minor=m.minor))
    except AmountError as exc:
        errors["min_available"] = str(exc).split(": ", 1)[-1]
    if not errors:
        try:
            await console_of(request).call(s, "notify", "CreateReminderCampaign",
                                           N.CreateReminderCampaignRequest(campaign=c))
        except ServiceError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise
            errors = field_errors(exc) or {"name": exc.message}
        else:
            s.flash = translate("Reminder created.", s.lang)
            return redirect("/reminders")
    return await _reminders_page(request, s, form, errors, status=400)


@page()
async def set_reminder_active(request: Request, s: Session) -> Response:
    active = str((await request.form()).get("active", "")) == "1"
    await console_of(request).call(s, "notify", "SetReminderCampaignActive", N.SetReminderCampaignActiveRequest(
        merchant_id=s.merchant, campaign_id=request.path_params["campaign_id"], active=active))
    return redirect("/reminders")


@page()
async def run_reminder(request: Request, s: Session) -> Response:
    run = (await console_of(request).call(s, "notify", "RunReminderCampaign", N.RunReminderCampaignRequest(
        merchant_id=s.merchant, campaign_id=request.path_params["campaign_id"]), deadline=300)).run
    s.flash = translate("Reminder run: {n} customers, {m} new messages.", s.lang,
                        n=number(run.customers_matched, s.lang), m=number(run.deliveries_created, s.lang))
    return redirect("/reminders")


async def customer_amount(request: Request, s: Session, kind: N.MessageKind.ValueType,
                          customer_id: str) -> common_pb2.Money:
    c = console_of(request)
    txs = list((await c.call(s, "wallet", "ListTransactions", W.ListTransactionsRequest(
        merchant_id=s.merchant, customer_id=customer_id, page_size=50))).transactions)
    currency = txs[0].amount.currency_code if txs else s.currency
    balance = (await c.call(s, "wallet", "GetBalance", W.GetBalanceRequest(
        merchant_id=s.merchant, customer_id=customer_id, currency_code=currency))).balance
    return amount_for(kind, txs, balance, currency)


@page()
async def templates_page(request: Request, s: Session) -> Response:
    form = {"kind": "credited", "channel": "sms", "locale": s.lang}
    return render(request, s, "templates.html", title_key="Templates", form=form)


@page()
async def templates_post(request: Request, s: Session) -> Response:
    """Preview (with a customer's real amounts when one is named) or save."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    kind = KINDS.get(values.get("kind", ""), N.MESSAGE_KIND_UNSPECIFIED)
    channel = CHANNELS.get(values.get("channel", ""), N.CHANNEL_UNSPECIFIED)
    locale, body, customer = values.get("locale", "en"), values.get("body", "").strip(), values.get("customer", "")
    template = N.Template(merchant_id=s.merchant, kind=kind, channel=channel, locale=locale,
                          subject=values.get("subject", ""), body=body)
    c = console_of(request)
    try:
        if values.get("action") == "save":
            await c.call(s, "notify", "SetTemplate", N.SetTemplateRequest(template=template))
            s.flash = translate("Saved.", s.lang)
        req = N.PreviewTemplateRequest(merchant_id=s.merchant, kind=kind, channel=channel, locale=locale)
        if body:
            req.template.CopyFrom(template)
        if customer:
            req.amount.CopyFrom(await customer_amount(request, s, kind, customer))
        rendered = (await c.call(s, "notify", "PreviewTemplate", req)).rendered
    except ServiceError as exc:
        if exc.code != "INVALID_ARGUMENT":
            raise
        return render(request, s, "templates.html", http_status=400, title_key="Templates", form=values,
                      errors={"body": exc.message})
    return render(request, s, "templates.html", title_key="Templates", form=values, rendered=rendered)


async def _settings_values(request: Request, s: Session) -> dict[str, Any]:
    policy = (await console_of(request).call(s, "notify", "GetNotifyPolicy",
                                             N.GetNotifyPolicyRequest(merchant_id=s.merchant))).policy
    return {"warn_days": ", ".join(map(str, policy.expiry_warning_days)), "quiet_start": policy.quiet_hours_start,
            "quiet_end": policy.quiet_hours_end, "on_credit": policy.notify_on_credit,
            "on_available": policy.notify_on_available, "window_days": "90"}


@page()
async def settings_page(request: Request, s: Session) -> Response:
    return render(request, s, "settings.html", title_key="Settings", form=await _settings_values(request, s))


@page()
async def save_tiers(request: Request, s: Session) -> Response:
    form = await request.form()
    errors: dict[str, str] = {}
    tiers = []
    try:
        window = int(to_ascii(str(form.get("window_days", "90"))) or 90)
    except ValueError:
        window, errors["window_days"] = 90, translate("write a whole number", s.lang)
    for line in str(form.get("tiers", "")).splitlines():
        if not line.strip():
            continue
        name, sep, spend = line.partition("=")
        try:
            if not sep or not name.strip():
                raise AmountError(f"tiers: {translate('write name=percent, e.g. gold=12', s.lang)}")
            m = parse_amount(spend, "tiers", unit_word(s.currency))
        except AmountError as exc:
            errors["tiers"] = f"{line.strip()}: {str(exc).split(': ', 1)[-1]}"
            break
        # A calendar month starts in the zone (and calendar) of the merchant's campaigns: rules picks it.
        monthly = bool(form.get("calendar_month"))
        tiers.append(R.Tier(name=name.strip(), window_days=0 if monthly else window,
                            window=R.TIER_WINDOW_CALENDAR_MONTH if monthly else R.TIER_WINDOW_ROLLING_DAYS,
                            min_spend=common_pb2.Money(currency_code=m.currency, amount_minor=m.minor)))
    if not errors:
        try:
            await console_of(request).call(s, "rules", "UpsertTierPolicy", R.UpsertTierPolicyRequest(
                merchant_id=s.merchant, tiers=tiers))
        except ServiceError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise
            errors["tiers"] = exc.message
        else:
            s.flash = translate("Saved.", s.lang)
            return redirect("/settings")
    values = {**(await _settings_values(request, s)), **{k: str(v) for k, v in form.items()}}
    return render(request, s, "settings.html", http_status=400, title_key="Settings", form=values, errors=errors)


@page()
async def save_notify(request: Request, s: Session) -> Response:
    form = await request.form()
    errors: dict[str, str] = {}
    try:
        days = [int(d) for d in to_ascii(str(form.get("warn_days", ""))).replace(" ", "").split(",") if d]
    except ValueError:
        days, errors["warn_days"] = [], translate("write a whole number", s.lang)
    policy = N.NotifyPolicy(merchant_id=s.merchant, expiry_warning_days=days,
                            quiet_hours_start=str(form.get("quiet_start", "")),
                            quiet_hours_end=str(form.get("quiet_end", "")),
                            notify_on_credit=bool(form.get("on_credit")),
                            notify_on_available=bool(form.get("on_available")))
    if not errors:
        try:
            await console_of(request).call(s, "notify", "SetNotifyPolicy", N.SetNotifyPolicyRequest(policy=policy))
        except ServiceError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise
            errors = field_errors(exc, {"quiet_hours_start": "quiet_start", "quiet_hours_end": "quiet_end",
                                        "expiry_warning_days": "warn_days"}) or {"warn_days": exc.message}
        else:
            s.flash = translate("Saved.", s.lang)
            return redirect("/settings")
    values = {**(await _settings_values(request, s)), **{k: str(v) for k, v in form.items()}}
    return render(request, s, "settings.html", http_status=400, title_key="Settings", form=values, errors=errors)
