"""cashbackctl coalitions / settlement: partner brands that share customers' credit
(docs/coalitions.md). Every command acts for --merchant with its ops key."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import typer
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from cashbackctl.common import call, ctx, emit, fail, money, ts
from cashbackctl.merchant import merchant_currency

app = typer.Typer(no_args_is_help=True, help="Coalitions of partner brands: propose, join, show.")

MEMBER_COLUMNS = [
    ("merchant", lambda m: m.merchant_id),
    ("joined", lambda m: ts(m.joined_at) if m.joined else "not yet"),
]


def _show(c: wallet_pb2.Coalition) -> None:
    state = f"active since {ts(c.activated_at)}" if c.active else "waiting for every member to join"
    emit(c, MEMBER_COLUMNS, list(c.members), title=f"{c.coalition_id}: {c.name} ({c.currency_code}), {state}")


@app.command()
def create(coalition_id: str,
           name: str = typer.Option(..., "--name", help="shown to members' ops"),
           members: list[str] = typer.Option(..., "--member", help="another member's merchant id (repeat)"),
           currency: str = typer.Option("", "--currency", help="the members' one currency (default: --merchant's)"),
           ) -> None:
    """Propose a coalition of --merchant and the --member merchants; it is active once each has joined."""
    own = ctx().merchant
    request = wallet_pb2.CreateCoalitionRequest(
        merchant_id=own, coalition_id=coalition_id, name=name, member_merchant_ids=[own, *members],
        currency_code=currency.upper() or merchant_currency())
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        _show(call(stub.CreateCoalition, request).coalition)


@app.command()
def join(coalition_id: str) -> None:
    """--merchant agrees to a coalition it was named in."""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        _show(call(stub.JoinCoalition, wallet_pb2.JoinCoalitionRequest(
            merchant_id=ctx().merchant, coalition_id=coalition_id)).coalition)


@app.command()
def show(coalition_id: str) -> None:
    """The members, who has joined, and whether the coalition is active."""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        _show(call(stub.GetCoalition, wallet_pb2.GetCoalitionRequest(
            merchant_id=ctx().merchant, coalition_id=coalition_id)).coalition)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a day, YYYY-MM-DD (got {text!r})")


def _ts(day: date) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(datetime.combine(day, time(), UTC))
    return out


def settlement(coalition_id: str,
               since: str = typer.Option("", "--from", help="first day, YYYY-MM-DD, UTC (default: the beginning)"),
               until: str = typer.Option("", "--to", help="last day, included, YYYY-MM-DD, UTC (default: now)"),
               ) -> None:
    """Who owes whom in a coalition: the net per pair of members over the days given."""
    request = wallet_pb2.GetSettlementRequest(merchant_id=ctx().merchant, coalition_id=coalition_id)
    if since:
        getattr(request, "from").CopyFrom(_ts(_day(since, "--from")))
    if until:
        request.to.CopyFrom(_ts(_day(until, "--to") + timedelta(days=1)))
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        resp = call(stub.GetSettlement, request)
    emit(resp, [
        ("owes", lambda line: line.debtor_merchant_id),
        ("to", lambda line: line.creditor_merchant_id),
        ("amount", lambda line: money(line.amount)),
        ("its credit spent there", lambda line: money(line.owed_to_creditor)),
        ("the other way", lambda line: money(line.owed_to_debtor)),
    ], list(resp.lines), title=f"{resp.coalition_id}: nothing owed" if not resp.lines else resp.coalition_id)
