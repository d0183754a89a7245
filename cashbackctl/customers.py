"""cashbackctl customers / adjust: balance, history, profile, and ops corrections."""

from __future__ import annotations

import typer
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashbackctl.common import call, console, ctx, emit, fail, money, to_dict, ts
from cashbackctl.merchant import customer_currency
from cashbackctl.units import AmountError, parse_amount

app = typer.Typer(no_args_is_help=True, help="A customer's wallet and profile.")
CURRENCY_HELP = "default: the customer's latest transaction's, else the merchant's"


def _balance(customer_id: str, currency: str) -> wallet_pb2.Balance:
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        return call(stub.GetBalance, wallet_pb2.GetBalanceRequest(
            merchant_id=ctx().merchant, customer_id=customer_id, currency_code=currency)).balance


BALANCE_COLUMNS = [
    ("available", lambda b: money(b.available)),
    ("pending", lambda b: money(b.pending)),
    ("held", lambda b: money(b.held)),
    ("debt", lambda b: money(b.debt)),
    ("points", lambda b: f"{b.points:,}"),
    ("next expiry", lambda b: f"{money(b.next_expiry_amount)} at {ts(b.next_expiry_at)}"
     if b.next_expiry_amount.amount_minor else "-"),
]


@app.command()
def balance(customer_id: str, currency: str = typer.Option("", "--currency", "-c", help=CURRENCY_HELP)) -> None:
    """Available, pending, held credit and the next expiry."""
    b = _balance(customer_id, currency.upper() or customer_currency(customer_id))
    emit(b, BALANCE_COLUMNS, [b], title=f"{customer_id}")


@app.command()
def history(customer_id: str, limit: int = typer.Option(50, help="at most this many, newest first")) -> None:
    """The customer's ledger transactions, newest first."""
    out: list[wallet_pb2.Transaction] = []
    token = ""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        while len(out) < limit:
            resp = call(stub.ListTransactions, wallet_pb2.ListTransactionsRequest(
                merchant_id=ctx().merchant, customer_id=customer_id, page_size=min(200, limit - len(out)),
                page_token=token))
            out.extend(resp.transactions)
            token = resp.next_page_token
            if not token:
                break
    emit(out, [
        ("when", lambda t: ts(t.created_at)),
        ("type", lambda t: wallet_pb2.TransactionType.Name(t.type).removeprefix("TRANSACTION_TYPE_")),
        ("amount", lambda t: money(t.amount)),
        ("available", _available_change),
        ("order", lambda t: t.order_id or "-"),
        ("reason", lambda t: t.reason or "-"),
        ("id", lambda t: t.transaction_id),
    ], out)


def _available_change(t: wallet_pb2.Transaction) -> str:
    """What the transaction did to the available credit: `amount` is the change to available +
    pending, so credit that matured shows 0.00 there and +30.00 here."""
    moved = [e.amount.amount_minor for e in t.entries if e.account == "customer:available"]
    if not moved:
        return "-"
    return money(common_pb2.Money(currency_code=t.amount.currency_code, amount_minor=sum(moved)))


@app.command()
def profile(customer_id: str, currency: str = typer.Option("", "--currency", "-c", help=CURRENCY_HELP)) -> None:
    """Tier, order count and spend, RFM segment and scores (rules), balance (wallet), contact (notify)."""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        prof = call(stub.GetCustomerProfile, rules_pb2.GetCustomerProfileRequest(
            merchant_id=ctx().merchant, customer_id=customer_id)).profile
    bal = _balance(customer_id, currency.upper() or customer_currency(customer_id))
    with ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub) as stub:
        try:
            contact = stub.GetContact(notify_pb2.GetContactRequest(
                merchant_id=ctx().merchant, customer_id=customer_id), metadata=ctx().metadata(), timeout=10).contact
        except Exception:
            contact = None
    if ctx().as_json:
        emit({"profile": to_dict(prof), "balance": to_dict(bal), "contact": to_dict(contact) if contact else None})
        return
    window = "this month" if prof.window == rules_pb2.TIER_WINDOW_CALENDAR_MONTH else f"{prof.window_days} d"
    console.print(f"[bold]{customer_id}[/bold]  tier: {prof.tier or '-'}  orders: {prof.order_count}  "
                  f"spend ({window}): {money(prof.spend_in_window)}", highlight=False)
    console.print(rfm_words(prof), highlight=False)
    emit(bal, BALANCE_COLUMNS, [bal])
    if contact:
        console.print(f"contact: locale {contact.locale or '-'}, zone {contact.timezone or '-'}, "
                      f"sms {'on' if contact.sms_opt_in else 'off'}, email {'on' if contact.email_opt_in else 'off'}")


def rfm_words(prof: rules_pb2.CustomerProfile) -> str:
    """'segment: champions (R 5, F 5, M 5)', or why there is none."""
    if not prof.HasField("rfm"):
        return "segment: - (no order in the RFM window when scores were last computed)"
    r = prof.rfm
    return f"segment: {r.segment} (R {r.recency}, F {r.frequency}, M {r.monetary})"


def adjust(customer_id: str = typer.Argument(...),
           amount: str = typer.Argument(..., help="signed, e.g. '25 SAR', '-10 SAR', '50,000 toman'; "
                                        "a bare number is in the merchant's currency"),
           reason: str = typer.Option(..., "--reason", "-r", help="why (kept in the ledger)"),
           key: str = typer.Option(..., "--idempotency-key", "-k", help="a unique key: a retry adjusts once")) -> None:
    """Credit or debit a customer's available credit (ops correction)."""
    try:
        m = parse_amount(amount, "amount", lambda: customer_currency(customer_id))
    except AmountError as exc:
        fail(str(exc))
    req = wallet_pb2.AdjustBalanceRequest(
        merchant_id=ctx().merchant, customer_id=customer_id, reason=reason, idempotency_key=key,
        amount=common_pb2.Money(currency_code=m.currency, amount_minor=m.minor))
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        tx = call(stub.AdjustBalance, req).transaction
    emit(tx, [("transaction", lambda t: t.transaction_id), ("amount", lambda t: money(t.amount)),
              ("reason", lambda t: t.reason)], [tx])
