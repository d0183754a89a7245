"""cashbackctl contacts / templates / reminders / deliveries (notify service)."""

from __future__ import annotations

from pathlib import Path

import typer
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashbackctl.common import call, console, ctx, emit, fail, money, ts
from cashbackctl.merchant import customer_currency, merchant_currency
from cashbackctl.units import AmountError, parse_amount

contacts = typer.Typer(no_args_is_help=True, help="Customer contacts (phone, email, locale, opt-ins).")
templates = typer.Typer(no_args_is_help=True, help="Message templates, with a preview.")
reminders = typer.Typer(no_args_is_help=True, help="Reminder campaigns on a cron.")
N = notify_pb2


def _stub():
    return ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub)


def _kind(name: str) -> N.MessageKind.ValueType:
    try:
        return N.MessageKind.Value(f"MESSAGE_KIND_{name.upper().replace('-', '_')}")
    except ValueError:
        fail("kind must be credited, available, reminder or expiry-warning")
        raise


def _channel(name: str) -> N.Channel.ValueType:
    try:
        return N.Channel.Value(f"CHANNEL_{name.upper()}")
    except ValueError:
        fail("channel must be sms or email")
        raise


CONTACT_COLUMNS = [("customer", lambda c: c.customer_id), ("locale", lambda c: c.locale),
                   ("zone", lambda c: c.timezone), ("sms", lambda c: "on" if c.sms_opt_in else "off"),
                   ("email", lambda c: "on" if c.email_opt_in else "off")]


@contacts.command("set")
def contact_set(customer_id: str, phone: str = typer.Option("", help="any format; stored as E.164"),
                email: str = typer.Option(""), locale: str = typer.Option("en"),
                timezone: str = typer.Option("UTC"), sms: bool = typer.Option(True, "--sms/--no-sms"),
                mail: bool = typer.Option(True, "--email-opt-in/--no-email-opt-in")) -> None:
    """Create or replace a customer's contact."""
    contact = N.Contact(merchant_id=ctx().merchant, customer_id=customer_id, phone_e164=phone, email=email,
                        locale=locale, timezone=timezone, sms_opt_in=sms, email_opt_in=mail)
    with _stub() as stub:
        c = call(stub.UpsertContact, N.UpsertContactRequest(contact=contact)).contact
    emit(c, CONTACT_COLUMNS, [c])


@contacts.command("show")
def contact_show(customer_id: str) -> None:
    """Show a customer's contact."""
    with _stub() as stub:
        c = call(stub.GetContact, N.GetContactRequest(merchant_id=ctx().merchant, customer_id=customer_id)).contact
    emit(c, CONTACT_COLUMNS, [c])


@templates.command("set")
def template_set(kind: str, channel: str, locale: str,
                 body: Path = typer.Option(..., exists=True, help="file with the Jinja2 body"),
                 subject: str = typer.Option("", help="email subject")) -> None:
    """Set the merchant's template for (kind, channel, locale)."""
    t = N.Template(merchant_id=ctx().merchant, kind=_kind(kind), channel=_channel(channel), locale=locale,
                   subject=subject, body=body.read_text())
    with _stub() as stub:
        out = call(stub.SetTemplate, N.SetTemplateRequest(template=t)).template
    emit(out, [("kind", lambda x: N.MessageKind.Name(x.kind)), ("channel", lambda x: N.Channel.Name(x.channel)),
               ("locale", lambda x: x.locale)], [out])


def amount_for(kind: N.MessageKind.ValueType, transactions: list[wallet_pb2.Transaction], balance: wallet_pb2.Balance,
               currency: str) -> common_pb2.Money:
    """The amount a message of this kind would carry for the customer today: the latest
    award for "credited", the next expiring credit for a warning, else what is available."""
    if kind == N.MESSAGE_KIND_CREDITED:
        award = next((t for t in transactions if t.type == wallet_pb2.TRANSACTION_TYPE_AWARD), None)
        return award.amount if award else common_pb2.Money(currency_code=currency, amount_minor=0)
    if kind == N.MESSAGE_KIND_EXPIRY_WARNING and balance.next_expiry_amount.amount_minor:
        return balance.next_expiry_amount
    return balance.available


def customer_amount(kind: N.MessageKind.ValueType, customer_id: str) -> common_pb2.Money:
    currency = customer_currency(customer_id)
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        txs = call(stub.ListTransactions, wallet_pb2.ListTransactionsRequest(
            merchant_id=ctx().merchant, customer_id=customer_id, page_size=50)).transactions
        b = call(stub.GetBalance, wallet_pb2.GetBalanceRequest(
            merchant_id=ctx().merchant, customer_id=customer_id, currency_code=currency)).balance
    return amount_for(kind, list(txs), b, currency)


@templates.command("preview")
def template_preview(kind: str, channel: str = typer.Argument("sms"),
                     locale: str = typer.Argument("", help="default: the customer's with --customer, else en"),
                     customer: str = typer.Option("", help="use this customer's real amounts (and locale and "
                                                  "time zone when no locale is given)"),
                     amount: str = typer.Option("", help="sample amount, e.g. '25 SAR' or '50,000 toman'"),
                     body: Path | None = typer.Option(None, exists=True, help="render this body instead")) -> None:
    """Render a template and show its SMS encoding and segment count."""
    # The service renders in the customer's locale whenever it is given the customer, so a
    # locale asked for explicitly is kept by not sending the customer (only their amounts).
    req = N.PreviewTemplateRequest(merchant_id=ctx().merchant, kind=_kind(kind), channel=_channel(channel),
                                   locale=locale or ("" if customer else "en"),
                                   customer_id="" if locale else customer)
    if body is not None:
        req.template.CopyFrom(N.Template(merchant_id=ctx().merchant, kind=req.kind, channel=req.channel,
                                         locale=req.locale, body=body.read_text()))
    if amount:
        try:
            m = parse_amount(amount, "amount", merchant_currency)
        except AmountError as exc:
            fail(str(exc))
        req.amount.currency_code, req.amount.amount_minor = m.currency, m.minor
    elif customer:
        req.amount.CopyFrom(customer_amount(req.kind, customer))
    with _stub() as stub:
        r = call(stub.PreviewTemplate, req).rendered
    if ctx().as_json:
        emit(r)
        return
    if r.subject:
        console.print(f"[bold]subject:[/bold] {r.subject}", highlight=False)
    console.print(r.body, highlight=False)
    if r.encoding:
        console.print(f"[dim]{r.encoding}, {r.segments} segment(s), {len(r.body)} characters[/dim]")


REMINDER_COLUMNS = [("id", lambda c: c.campaign_id), ("name", lambda c: c.name), ("cron", lambda c: c.cron),
                    ("zone", lambda c: c.timezone), ("min available", lambda c: money(c.min_available)),
                    ("inactive days", lambda c: str(c.inactive_days)),
                    ("active", lambda c: "yes" if c.active else "no"),
                    ("next run", lambda c: ts(c.next_run_at))]


@reminders.command("create")
def reminder_create(name: str, cron: str = typer.Option(..., help="5-field cron, e.g. '0 10 * * 6'"),
                    timezone: str = typer.Option("UTC"), min_available: str = typer.Option(...),
                    inactive_days: int = typer.Option(30),
                    channel: list[str] = typer.Option(["sms"])) -> None:
    """Create a reminder campaign, e.g. every Saturday 10:00 Tehran time."""
    try:
        m = parse_amount(min_available, "min_available", merchant_currency)
    except AmountError as exc:
        fail(str(exc))
    c = N.ReminderCampaign(merchant_id=ctx().merchant, name=name, cron=cron, timezone=timezone,
                           inactive_days=inactive_days, channels=[_channel(ch) for ch in channel], active=True)
    c.min_available.currency_code, c.min_available.amount_minor = m.currency, m.minor
    with _stub() as stub:
        out = call(stub.CreateReminderCampaign, N.CreateReminderCampaignRequest(campaign=c)).campaign
    emit(out, REMINDER_COLUMNS, [out])


@reminders.command("list")
def reminder_list() -> None:
    """List reminder campaigns."""
    with _stub() as stub:
        out = list(call(stub.ListReminderCampaigns, N.ListReminderCampaignsRequest(
            merchant_id=ctx().merchant, page_size=500)).campaigns)
    emit(out, REMINDER_COLUMNS, out)


def _resolve_reminder(stub, ref: str) -> str:
    ids = [c.campaign_id for c in call(stub.ListReminderCampaigns, N.ListReminderCampaignsRequest(
        merchant_id=ctx().merchant, page_size=500)).campaigns]
    found = [i for i in ids if i == ref] or [i for i in ids if i.startswith(ref)]
    if len(found) != 1:
        fail(f"campaign_id: {'no' if not found else 'more than one'} reminder campaign starts with {ref!r}")
    return found[0]


def _set_active(campaign_id: str, active: bool) -> None:
    with _stub() as stub:
        out = call(stub.SetReminderCampaignActive, N.SetReminderCampaignActiveRequest(
            merchant_id=ctx().merchant, campaign_id=_resolve_reminder(stub, campaign_id), active=active)).campaign
    emit(out, REMINDER_COLUMNS, [out])


@reminders.command("on")
def reminder_on(campaign_id: str = typer.Argument(..., help="id or a unique prefix")) -> None:
    """Switch a reminder campaign on (it runs on its cron again)."""
    _set_active(campaign_id, True)


@reminders.command("off")
def reminder_off(campaign_id: str = typer.Argument(..., help="id or a unique prefix")) -> None:
    """Switch a reminder campaign off (no more runs until switched on)."""
    _set_active(campaign_id, False)


@reminders.command("run")
def reminder_run(campaign_id: str = typer.Argument(..., help="id or a unique prefix")) -> None:
    """Run a reminder campaign now (once per customer per local day)."""
    with _stub() as stub:
        run = call(stub.RunReminderCampaign, N.RunReminderCampaignRequest(
            merchant_id=ctx().merchant, campaign_id=_resolve_reminder(stub, campaign_id)), timeout=300).run
    emit(run, [("run", lambda r: r.run_id), ("local date", lambda r: r.local_date),
               ("customers", lambda r: str(r.customers_matched)),
               ("new deliveries", lambda r: str(r.deliveries_created))],
         [run])


def deliveries(customer: str = typer.Option("", help="only this customer"),
               limit: int = typer.Option(50)) -> None:
    """Messages sent or scheduled, newest first."""
    with _stub() as stub:
        out = list(call(stub.ListDeliveries, N.ListDeliveriesRequest(
            merchant_id=ctx().merchant, customer_id=customer, page_size=limit)).deliveries)
    emit(out, [("when", lambda d: ts(d.sent_at) if d.sent_at.seconds else ts(d.scheduled_for)),
               ("customer", lambda d: d.customer_id),
               ("kind", lambda d: N.MessageKind.Name(d.kind).removeprefix("MESSAGE_KIND_")),
               ("channel", lambda d: N.Channel.Name(d.channel).removeprefix("CHANNEL_")),
               ("status", lambda d: N.DeliveryStatus.Name(d.status).removeprefix("DELIVERY_STATUS_")),
               ("tries", lambda d: str(d.attempts)), ("text", lambda d: d.body or "-"),
               ("error", lambda d: d.error or "-")], out)
