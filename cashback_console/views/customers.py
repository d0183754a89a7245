"""Customers: look up by id or phone; balance, history, open holds, messages,
profile (tier, RFM segment and scores) and contact; an adjustment with a reason
and an idempotency key."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any
from urllib.parse import quote

from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2 as R
from cashback.wallet.v1 import wallet_pb2 as W
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.forms import unit_word
from cashback_console.i18n import translate
from cashback_console.i18n_segments import SEGMENT_WORDS
from cashback_console.services import ServiceError
from cashback_console.sessions import Session
from cashback_console.web import console_of, field_errors, page, redirect, render
from cashbackctl.units import AmountError, parse_amount

SETTLED = (W.TRANSACTION_TYPE_CAPTURE, W.TRANSACTION_TYPE_RELEASE)


def looks_like_phone(q: str) -> bool:
    """Seven digits or more (any script) and nothing but what people write in a
    number: a plus, spaces, dashes, brackets, dots and invisible bidi marks."""
    return sum(ch.isdigit() for ch in q) >= 7 and all(
        ch.isdigit() or ch in " +-()." or unicodedata.category(ch) == "Cf" for ch in q)


async def _look_up(request: Request, s: Session, q: str) -> Response:
    """An id opens the customer; a phone or an email asks notify for its contacts:
    one opens that customer, several are listed. The phone or email never leaves
    this request (the form posts it; no redirect or log carries it)."""
    if not q:
        return render(request, s, "customers.html", title_key="Customers")
    email = "@" in q
    if not email and not looks_like_phone(q):
        return redirect(f"/customers/{quote(q, safe='')}")
    req = N.FindContactsRequest(merchant_id=s.merchant, email=q) if email else N.FindContactsRequest(
        merchant_id=s.merchant, phone=q)
    try:
        found = list((await console_of(request).call(s, "notify", "FindContacts", req)).contacts)
    except ServiceError as exc:
        if exc.code != "INVALID_ARGUMENT":
            raise
        return redirect(f"/customers/{quote(q, safe='')}")  # not a phone number after all: an id of digits
    if len(found) == 1:
        return redirect(f"/customers/{quote(found[0].customer_id, safe='')}")
    return render(request, s, "customers.html", title_key="Customers", q=q, found=found)


@page()
async def search(request: Request, s: Session) -> Response:
    return await _look_up(request, s, request.query_params.get("q", "").strip())


@page()
async def search_post(request: Request, s: Session) -> Response:
    return await _look_up(request, s, str((await request.form()).get("q", "")).strip())


def available_change(t: W.Transaction) -> common_pb2.Money | None:
    """What the transaction did to the customer's available credit (None: nothing).
    A transaction's `amount` is the change to available + pending, so credit that matured
    (pending -> available) shows 0 there; this is the column a support agent reads."""
    moved = [e.amount.amount_minor for e in t.entries if e.account == "customer:available"]
    return common_pb2.Money(currency_code=t.amount.currency_code, amount_minor=sum(moved)) if moved else None


def open_holds(history: list[W.Transaction]) -> list[W.Transaction]:
    """HOLD transactions not yet captured or released (the wallet lists no holds itself)."""
    settled = {t.hold_id for t in history if t.type in SETTLED}
    return [t for t in history if t.type == W.TRANSACTION_TYPE_HOLD and t.hold_id not in settled]


async def customer_page(request: Request, s: Session, customer_id: str, form: Any = None,
                        errors: dict[str, str] | None = None, status: int = 200) -> Response:
    c = console_of(request)
    history = list((await c.call(s, "wallet", "ListTransactions", W.ListTransactionsRequest(
        merchant_id=s.merchant, customer_id=customer_id, page_size=200))).transactions)
    # The customer's own currency (their latest credit transaction's, not points), else the merchant's.
    currency = next((t.amount.currency_code for t in history if t.amount.currency_code not in ("", "PTS")),
                    s.currency)
    balance = (await c.call(s, "wallet", "GetBalance", W.GetBalanceRequest(
        merchant_id=s.merchant, customer_id=customer_id, currency_code=currency))).balance if currency \
        else W.Balance()
    profile = (await c.call(s, "rules", "GetCustomerProfile", R.GetCustomerProfileRequest(
        merchant_id=s.merchant, customer_id=customer_id))).profile
    try:
        contact = (await c.call(s, "notify", "GetContact", N.GetContactRequest(
            merchant_id=s.merchant, customer_id=customer_id))).contact
    except ServiceError as exc:
        if exc.code != "NOT_FOUND":
            raise
        contact = None
    deliveries = (await c.call(s, "notify", "ListDeliveries", N.ListDeliveriesRequest(
        merchant_id=s.merchant, customer_id=customer_id, page_size=50))).deliveries
    return render(request, s, "customer.html", http_status=status, title=customer_id, customer_id=customer_id,
                  segment_name=lambda seg: SEGMENT_WORDS.get(seg, (seg, ""))[0],
                  monthly=R.TIER_WINDOW_CALENDAR_MONTH,
                  balance=balance, profile=profile, contact=contact, history=history, holds=open_holds(history),
                  available_change=available_change,
                  deliveries=deliveries, form=dict(form or {}), errors=errors or {},
                  idempotency_key=(form or {}).get("idempotency_key") or uuid.uuid4().hex)


@page()
async def show(request: Request, s: Session) -> Response:
    return await customer_page(request, s, request.path_params["customer_id"])


@page()
async def adjust(request: Request, s: Session) -> Response:
    customer_id = request.path_params["customer_id"]
    form = await request.form()
    reason, key = str(form.get("reason", "")).strip(), str(form.get("idempotency_key", "")).strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = translate("required", s.lang)
    money = None
    try:
        money = parse_amount(str(form.get("amount", "")), "amount", unit_word(s.currency))
    except AmountError as exc:
        errors["amount"] = str(exc).split(": ", 1)[-1]
    if not errors and money is not None:
        try:
            await console_of(request).call(s, "wallet", "AdjustBalance", W.AdjustBalanceRequest(
                merchant_id=s.merchant, customer_id=customer_id, reason=reason, idempotency_key=key,
                amount=common_pb2.Money(currency_code=money.currency, amount_minor=money.minor)))
        except ServiceError as exc:
            if exc.code not in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"):
                raise
            errors = field_errors(exc) or {"amount": exc.message}
        else:
            s.flash = translate("Balance adjusted.", s.lang)
            return redirect(f"/customers/{customer_id}")
    return await customer_page(request, s, customer_id, form, errors, status=400)
