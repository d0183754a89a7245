"""cashbackctl customers transfer | transfer-policy, points rate | convert, rewards
upsert | list | redeem: issue 17's wallet calls, for ops and for support acting
for a customer (every write takes an idempotency key, so a retry does it once)."""

from __future__ import annotations

import typer
from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit.money import Money
from cashbackctl.common import call, ctx, emit, fail, money, ts
from cashbackctl.merchant import customer_currency, merchant_currency
from cashbackctl.units import AmountError, parse_amount

points = typer.Typer(no_args_is_help=True, help="Points beside credit: the merchant's rate and conversions.")
rewards = typer.Typer(no_args_is_help=True, help="The rewards catalogue customers buy with points.")
KEY_HELP = "a unique key: a retry does it once"


def _amount(text: str, field: str, currency: str | None = None) -> common_pb2.Money:
    try:
        m: Money = parse_amount(text, field, currency or merchant_currency)
    except AmountError as exc:
        fail(str(exc))
    return common_pb2.Money(currency_code=m.currency, amount_minor=m.minor)


def transfer(
    from_customer: str = typer.Argument(..., help="who gives"),
    to_customer: str = typer.Argument(..., help="who receives"),
    amount: str = typer.Argument(..., help="e.g. '25 SAR', '50,000 toman'; a bare number is in the sender's currency"),
    key: str = typer.Option(..., "--idempotency-key", "-k", help=KEY_HELP),
    note: str = typer.Option("", "--note", help="the sender's words to the receiver (stored, never logged)"),
) -> None:
    """Move available credit from one customer to another (earliest expiry first; expiry dates kept)."""
    req = wallet_pb2.TransferCreditRequest(
        merchant_id=ctx().merchant,
        from_customer_id=from_customer,
        to_customer_id=to_customer,
        amount=_amount(amount, "amount", customer_currency(from_customer)),
        idempotency_key=key,
        note=note,
    )
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        t = call(stub.TransferCredit, req).transfer
    emit(
        t,
        [
            ("transfer", lambda t: t.transfer_id),
            ("from", lambda t: t.from_customer_id),
            ("to", lambda t: t.to_customer_id),
            ("amount", lambda t: money(t.amount)),
            ("expiry dates", lambda t: ", ".join(f"{money(p.amount)} until {ts(p.expires_at)}" for p in t.parts)),
        ],
        [t],
    )


def transfer_policy(
    require_known_receiver: bool = typer.Argument(
        ..., help="true: transfers only to customers with a wallet history here; false: to anyone"
    ),
) -> None:
    """The merchant's transfer policy."""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        p = call(
            stub.SetTransferPolicy,
            wallet_pb2.SetTransferPolicyRequest(
                merchant_id=ctx().merchant, require_known_receiver=require_known_receiver
            ),
        ).policy
    emit(
        p,
        [
            ("known receivers only", lambda p: "yes" if p.require_known_receiver else "no"),
            ("since", lambda p: ts(p.updated_at)),
        ],
        [p],
    )


@points.command("rate")
def rate(
    count: int = typer.Argument(..., help="points given ..."),
    per: str = typer.Argument(..., help="... for every this much credit, e.g. '1 SAR', '10,000 toman'"),
) -> None:
    """Set the merchant's points rate (later conversions use it)."""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        r = call(
            stub.SetPointsRate,
            wallet_pb2.SetPointsRateRequest(merchant_id=ctx().merchant, points=count, per=_amount(per, "per")),
        ).rate
    emit(
        r,
        [("points", lambda r: str(r.points)), ("per", lambda r: money(r.per)), ("since", lambda r: ts(r.updated_at))],
        [r],
    )


@points.command("convert")
def convert(
    customer_id: str = typer.Argument(...),
    credit: str = typer.Option("", "--credit", help="credit to turn into points, e.g. '30 SAR'"),
    pts: int = typer.Option(0, "--points", help="points to turn into credit"),
    key: str = typer.Option(..., "--idempotency-key", "-k", help=KEY_HELP),
) -> None:
    """Turn a customer's credit into points (--credit) or points into credit (--points), exactly."""
    if bool(credit) == bool(pts):
        fail("give exactly one of --credit or --points")
    req = wallet_pb2.ConvertCreditRequest(merchant_id=ctx().merchant, customer_id=customer_id, idempotency_key=key)
    if credit:
        req.credit.CopyFrom(_amount(credit, "credit", customer_currency(customer_id)))
    else:
        req.points = pts
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        c = call(stub.ConvertCredit, req)
    emit(
        c,
        [
            ("transaction", lambda c: c.transaction_id),
            ("credit", lambda c: money(c.credit)),
            ("points", lambda c: str(c.points)),
            ("rate", lambda c: f"{c.rate.points} per {money(c.rate.per)}"),
        ],
        [c],
    )


REWARD_COLUMNS = [
    ("reward", lambda r: r.reward_id),
    ("names", lambda r: ", ".join(f"{k}: {v}" for k, v in sorted(r.names.items()))),
    ("points", lambda r: str(r.points_cost)),
    ("stock", lambda r: str(r.stock) if r.HasField("stock") else "∞"),
    ("active", lambda r: "yes" if r.active else "no"),
    ("redeemed", lambda r: str(r.redeemed_count)),
]


@rewards.command("upsert")
def upsert(
    reward_id: str = typer.Argument(...),
    cost: int = typer.Option(..., "--points", help="what one redemption costs, in points"),
    names: list[str] = typer.Option(
        ..., "--name", help="locale=name, once per language: --name 'fa=ماگ قهوه' --name 'en=Coffee mug'"
    ),
    stock: int = typer.Option(-1, "--stock", help="how many are left (default: unlimited)", show_default=False),
    active: bool = typer.Option(True, "--active/--inactive"),
) -> None:
    """Add a reward to the catalogue, or replace it (its redemption count is kept)."""
    pairs = [n.split("=", 1) for n in names]
    if any(len(p) != 2 for p in pairs):
        fail("--name: write locale=name, e.g. 'en=Coffee mug'")
    reward = wallet_pb2.Reward(
        merchant_id=ctx().merchant,
        reward_id=reward_id,
        points_cost=cost,
        active=active,
        names={k.strip(): v.strip() for k, v in pairs},
    )
    if stock >= 0:
        reward.stock = stock
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        saved = call(stub.UpsertReward, wallet_pb2.UpsertRewardRequest(reward=reward)).reward
    emit(saved, REWARD_COLUMNS, [saved])


@rewards.command("list")
def list_rewards(active_only: bool = typer.Option(False, "--active-only")) -> None:
    """The merchant's rewards, by id."""
    out: list[wallet_pb2.Reward] = []
    token = ""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        while True:
            resp = call(
                stub.ListRewards,
                wallet_pb2.ListRewardsRequest(
                    merchant_id=ctx().merchant, active_only=active_only, page_size=200, page_token=token
                ),
            )
            out.extend(resp.rewards)
            token = resp.next_page_token
            if not token:
                break
    emit(out, REWARD_COLUMNS, out)


@rewards.command("redeem")
def redeem(
    customer_id: str = typer.Argument(...),
    reward_id: str = typer.Argument(...),
    key: str = typer.Option(..., "--idempotency-key", "-k", help=KEY_HELP),
) -> None:
    """Spend a customer's points on a reward (earliest-expiring points first)."""
    with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as stub:
        r = call(
            stub.RedeemReward,
            wallet_pb2.RedeemRewardRequest(
                merchant_id=ctx().merchant, customer_id=customer_id, reward_id=reward_id, idempotency_key=key
            ),
        ).redemption
    emit(
        r,
        [
            ("redemption", lambda r: r.redemption_id),
            ("reward", lambda r: r.reward_id),
            ("points", lambda r: str(r.points)),
            ("when", lambda r: ts(r.created_at)),
        ],
        [r],
    )
