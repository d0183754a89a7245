"""Campaigns: list, create, edit (every field), pause / activate / end, and the
"what would this have cost last month" simulation beside the form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cashback.rules.v1 import rules_pb2 as R
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.forms import UPDATE_PATHS, campaign_from_form, form_from_campaign
from cashback_console.i18n import translate
from cashback_console.services import ServiceError
from cashback_console.sessions import Session
from cashback_console.views.auth import discover
from cashback_console.web import TEMPLATES, console_of, field_errors, helpers, page, redirect, render
from cashbackctl.campaigns import last_month
from cashbackctl.units import date_text

STATUSES = {"draft": R.CAMPAIGN_STATUS_DRAFT, "active": R.CAMPAIGN_STATUS_ACTIVE,
            "paused": R.CAMPAIGN_STATUS_PAUSED, "ended": R.CAMPAIGN_STATUS_ENDED}
RENAMES = {"percent_bps": "percent", "starts_at": "starts_on", "ends_at": "ends_on",
           "tier_percent_bps": "tier_percent", "reward": "percent"}


@page()
async def campaign_list(request: Request, s: Session) -> Response:
    status = request.query_params.get("status", "")
    wanted = STATUSES.get(status, R.CAMPAIGN_STATUS_UNSPECIFIED)
    out: list[R.Campaign] = []
    token = ""
    while True:
        resp = await console_of(request).call(s, "rules", "ListCampaigns", R.ListCampaignsRequest(
            merchant_id=s.merchant, page_size=500, page_token=token, status=wanted))
        out.extend(resp.campaigns)
        token = resp.next_page_token
        if not token:
            break
    return render(request, s, "campaigns.html", title_key="Campaigns", campaigns=out,
                  status_filter=status if status in STATUSES else "")


def _new_form(s: Session) -> dict[str, Any]:
    return {"timezone": s.timezone, "currency_code": s.currency, "reward_kind": "percent", "status": "draft",
            "trigger": "order", "stacking": "stackable", "pending_days": "0", "expires_after_days": "0"}


def _form_page(request: Request, s: Session, campaign: R.Campaign | None, form: Any, errors: dict[str, str],
               status: int = 200, **extra: Any) -> Response:
    title = campaign.name if campaign else translate("New campaign", s.lang)
    values = {k: (form.getlist(k) if k == "channels" else v) for k, v in form.items()} if hasattr(form, "getlist") \
        else form
    return render(request, s, "campaign_form.html", http_status=status, title=title, campaign=campaign, form=values,
                  errors=errors, **extra)


@page()
async def new_campaign(request: Request, s: Session) -> Response:
    return _form_page(request, s, None, _new_form(s), {})


@page()
async def create_campaign(request: Request, s: Session) -> Response:
    form = await request.form()
    campaign, errors = campaign_from_form(form, s.merchant, s.currency, lambda t: translate(t, s.lang),
                                          creating=True)
    if campaign is not None:
        try:
            created = (await console_of(request).call(s, "rules", "CreateCampaign",
                                                      R.CreateCampaignRequest(campaign=campaign))).campaign
        except ServiceError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise
            errors = field_errors(exc, RENAMES) or {"name": exc.message}
        else:
            if not s.currency:
                await discover(request, s, s.merchant)
            s.flash = translate("Campaign saved.", s.lang)
            return redirect(f"/campaigns/{created.campaign_id}")
    return _form_page(request, s, None, form, errors, status=400)


async def _get(request: Request, s: Session, campaign_id: str) -> R.Campaign:
    return (await console_of(request).call(s, "rules", "GetCampaign", R.GetCampaignRequest(
        merchant_id=s.merchant, campaign_id=campaign_id))).campaign


@page()
async def edit_campaign(request: Request, s: Session) -> Response:
    c = await _get(request, s, request.path_params["campaign_id"])
    return _form_page(request, s, c, form_from_campaign(c), {})


@page()
async def update_campaign(request: Request, s: Session) -> Response:
    current = await _get(request, s, request.path_params["campaign_id"])
    form = await request.form()
    patch, errors = campaign_from_form(form, s.merchant, current.currency_code, lambda t: translate(t, s.lang),
                                       creating=False)
    if patch is not None:
        patch.campaign_id, patch.currency_code = current.campaign_id, current.currency_code
        try:
            await console_of(request).call(s, "rules", "UpdateCampaign", R.UpdateCampaignRequest(
                campaign=patch, update_mask=FieldMask(paths=UPDATE_PATHS)))
        except ServiceError as exc:
            if exc.code not in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"):
                raise
            errors = field_errors(exc, RENAMES) or {"name": exc.message}
        else:
            s.flash = translate("Campaign saved.", s.lang)
            return redirect(f"/campaigns/{current.campaign_id}")
    return _form_page(request, s, current, form, errors, status=400)


@page()
async def set_status(request: Request, s: Session) -> Response:
    wanted = STATUSES.get(str((await request.form()).get("status", "")))
    campaign_id = request.path_params["campaign_id"]
    if wanted is not None and wanted != R.CAMPAIGN_STATUS_DRAFT:
        await console_of(request).call(s, "rules", "SetCampaignStatus", R.SetCampaignStatusRequest(
            merchant_id=s.merchant, campaign_id=campaign_id, status=wanted))
    back = request.headers.get("referer", "")
    return redirect(f"/campaigns/{campaign_id}" if f"/campaigns/{campaign_id}" in back else "/campaigns")


@page()
async def simulate(request: Request, s: Session) -> Response:
    """The form's draft replayed over last month's orders. Called by the page's script on
    every change (answering with the panel alone) or by the button without script."""
    form = await request.form()
    editing = request.query_params.get("campaign", "")
    draft, errors = campaign_from_form(_named(form), s.merchant, s.currency, lambda t: translate(t, s.lang),
                                       creating=not editing)
    context: dict[str, Any] = {}
    if draft is not None:
        zone = ZoneInfo(draft.timezone or "UTC")
        start, stop = last_month(zone.key)
        t0, t1 = Timestamp(), Timestamp()
        t0.FromDatetime(start)
        t1.FromDatetime(stop)
        try:
            context["sim"] = (await console_of(request).call(s, "rules", "SimulateCampaign", R.SimulateCampaignRequest(
                campaign=draft, **{"from": t0, "to": t1}), deadline=120)).simulation
            context["sim_period"] = translate("last month, {first} to {last}", s.lang,
                                              first=date_text(start.astimezone(zone).date(), s.lang),
                                              last=date_text((stop.astimezone(zone) - timedelta(days=1)).date(),
                                                             s.lang))
        except ServiceError as exc:
            context["sim_error"] = exc.message
    else:
        context["sim_error"] = "; ".join(f"{k}: {v}" for k, v in errors.items())
    if request.headers.get("x-console-fragment") == "simulation":
        return _fragment(s, "_simulation.html", context)
    campaign = await _get(request, s, editing) if editing else None
    return _form_page(request, s, campaign, form, errors, **context)


def _named(form: Any) -> Any:
    """A draft may be simulated before it has a name."""
    if (form.get("name") or "").strip():
        return form
    from starlette.datastructures import FormData

    return FormData([*[(k, v) for k, v in form.multi_items() if k != "name"], ("name", "draft")])


def _fragment(s: Session, template: str, context: dict[str, Any]) -> Response:
    from starlette.responses import HTMLResponse

    html = TEMPLATES.get_template(template).render({**helpers(s), **context})
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
