"""cashbackctl tiers / notify-policy: the merchant's tier policy (rules) and
notification policy (notify)."""

from __future__ import annotations

import typer
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.notify.v1 import notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashbackctl.common import call, ctx, emit, fail, money
from cashbackctl.merchant import merchant_currency
from cashbackctl.units import AmountError, parse_amount

tiers = typer.Typer(no_args_is_help=True, help="Customer tiers by spend in rolling days or the calendar month "
                    "(rules).")
notify_policy = typer.Typer(no_args_is_help=True, help="When customers are messaged (notify).")


@tiers.command("set")
def tiers_set(tier: list[str] = typer.Argument(..., help="name=min spend, e.g. silver='1,000 SAR' "
                                               "gold='5,000,000 toman'"),
              window_days: int = typer.Option(90, help="spend counted over this many days"),
              calendar_month: bool = typer.Option(False, "--calendar-month",
                                                  help="spend counted since the 1st of the month instead "
                                                  "(\"1,000,000 toman a month\")"),
              timezone: str = typer.Option("", help="where a month starts, e.g. Asia/Tehran (default: the "
                                           "zone of the merchant's campaigns)"),
              calendar: str = typer.Option("", help="gregorian or solar-hijri months (default: the zone's, "
                                           "Solar Hijri in Asia/Tehran)")) -> None:
    """Replace the merchant's tier policy (no tiers listed = none)."""
    window = rules_pb2.TIER_WINDOW_CALENDAR_MONTH if calendar_month else rules_pb2.TIER_WINDOW_ROLLING_DAYS
    days = 0 if calendar_month else window_days
    calendars = {"": rules_pb2.TIER_CALENDAR_UNSPECIFIED, "gregorian": rules_pb2.TIER_CALENDAR_GREGORIAN,
                 "solar-hijri": rules_pb2.TIER_CALENDAR_SOLAR_HIJRI}
    if calendar.lower().replace("_", "-") not in calendars:
        fail(f"--calendar: gregorian or solar-hijri (got {calendar!r})")
    out = []
    for spec in tier:
        name, sep, spend = spec.partition("=")
        if not sep or not name.strip():
            fail(f"tier: write name=min spend, e.g. silver='1,000 SAR' (got {spec!r})")
        try:
            m = parse_amount(spend, f"tier {name.strip()}", merchant_currency)
        except AmountError as exc:
            fail(str(exc))
        out.append(rules_pb2.Tier(name=name.strip(), window_days=days, window=window,
                                  min_spend=common_pb2.Money(currency_code=m.currency, amount_minor=m.minor)))
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        policy = call(stub.UpsertTierPolicy, rules_pb2.UpsertTierPolicyRequest(
            merchant_id=ctx().merchant, tiers=out, timezone=timezone,
            calendar=calendars[calendar.lower().replace("_", "-")])).tier_policy
    emit(policy, [("tier", lambda t: t.name), ("min spend", lambda t: money(t.min_spend)),
                  ("window", lambda t: window_words(t, policy))], list(policy.tiers))


def window_words(tier: rules_pb2.Tier, policy: rules_pb2.TierPolicy) -> str:
    """'90 days' or 'calendar month (Asia/Tehran, Solar Hijri)'."""
    if tier.window != rules_pb2.TIER_WINDOW_CALENDAR_MONTH:
        return f"{tier.window_days} days"
    months = "Solar Hijri" if policy.calendar == rules_pb2.TIER_CALENDAR_SOLAR_HIJRI else "Gregorian"
    return f"calendar month ({policy.timezone}, {months})"


@tiers.command("assign")
def tiers_assign(customer_id: str, tier: str = typer.Argument("", help="empty clears the manual tier")) -> None:
    """Put a customer in a tier by hand (overrides the spend policy)."""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        p = call(stub.SetCustomerTier, rules_pb2.SetCustomerTierRequest(
            merchant_id=ctx().merchant, customer_id=customer_id, tier=tier)).profile
    emit(p, [("customer", lambda x: x.customer_id), ("tier", lambda x: x.tier or "-"),
             ("manual", lambda x: x.manual_tier or "-")], [p])


POLICY_COLUMNS = [
    ("expiry warnings", lambda p: ", ".join(f"{d} days before" for d in p.expiry_warning_days) or "none"),
    ("quiet hours", lambda p: f"{p.quiet_hours_start}–{p.quiet_hours_end}" if p.quiet_hours_start else "none"),
    ("on credit", lambda p: "yes" if p.notify_on_credit else "no"),
    ("on available", lambda p: "yes" if p.notify_on_available else "no"),
    ("shop name", lambda p: p.shop_name or "-"),
    ("region", lambda p: p.default_region or "from the locale"),
    ("hijri dates", lambda p: "yes" if p.hijri_dates else "no"),
    ("digits", lambda p: "latin" if p.latin_digits else "native"),
]


def _notify():
    return ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub)


@notify_policy.command("show")
def policy_show() -> None:
    """The merchant's notification policy."""
    with _notify() as stub:
        p = call(stub.GetNotifyPolicy, N.GetNotifyPolicyRequest(merchant_id=ctx().merchant)).policy
    emit(p, POLICY_COLUMNS, [p])


@notify_policy.command("set")
def policy_set(warn_days: str = typer.Option(None, help="days before expiry to warn, e.g. 7,1 (empty: none)"),
               quiet: str = typer.Option(None, help="quiet hours in the customer's zone, e.g. 22:00-08:00 "
                                         "(empty: none)"),
               on_credit: bool = typer.Option(None, "--on-credit/--no-on-credit", help="message when credited"),
               on_available: bool = typer.Option(None, "--on-available/--no-on-available",
                                                 help="message when credit becomes available"),
               shop_name: str = typer.Option(None, help="the shop's name in every message, e.g. 'Nahal'"),
               region: str = typer.Option(None, help="default country of numbers written without one, e.g. IR, SA"),
               hijri_dates: bool = typer.Option(None, "--hijri-dates/--no-hijri-dates",
                                                help="Arabic messages show the Umm al-Qura date beside the Gregorian"),
               latin_digits: bool = typer.Option(None, "--latin-digits/--native-digits",
                                                 help="digits 0-9 instead of Persian or Arabic-Indic ones")) -> None:
    """Change the notification policy; what is not given stays as it is."""
    with _notify() as stub:
        p = call(stub.GetNotifyPolicy, N.GetNotifyPolicyRequest(merchant_id=ctx().merchant)).policy
        p.merchant_id = ctx().merchant
        if warn_days is not None:
            try:
                days = [int(d) for d in warn_days.replace(" ", "").split(",") if d]
            except ValueError:
                fail(f"warn_days: write whole days separated by commas, e.g. 7,1 (got {warn_days!r})")
            del p.expiry_warning_days[:]
            p.expiry_warning_days.extend(days)
        if quiet is not None:
            start, _, end = quiet.partition("-")
            if quiet and not end:
                fail(f"quiet: write start-end, e.g. 22:00-08:00 (got {quiet!r})")
            p.quiet_hours_start, p.quiet_hours_end = start.strip(), end.strip()
        if on_credit is not None:
            p.notify_on_credit = on_credit
        if on_available is not None:
            p.notify_on_available = on_available
        if shop_name is not None:
            p.shop_name = shop_name.strip()
        if region is not None:
            p.default_region = region.strip().upper()
        if hijri_dates is not None:
            p.hijri_dates = hijri_dates
        if latin_digits is not None:
            p.latin_digits = latin_digits
        out = call(stub.SetNotifyPolicy, N.SetNotifyPolicyRequest(policy=p)).policy
    emit(out, POLICY_COLUMNS, [out])
