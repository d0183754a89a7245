"""cashbackctl: the ops command line for the cashback platform. It talks gRPC to
rules, wallet and notify (RULES_ADDR, WALLET_ADDR, NOTIFY_ADDR) with an ops key
(--key, CASHBACK_OPS_KEY, or the ops key in `make run`'s var/api-keys.json)."""

from __future__ import annotations

import json
import os

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cashbackctl import (
    campaigns,
    coalitions,
    customers,
    notify_cmds,
    orders_import,
    policies,
    promotions,
    requeue,
    segments,
)
from cashbackctl.audit import audit
from cashbackctl.audit_log import audit_log
from cashbackctl.common import STATE, Ctx, JsonAnywhere, ctx, dev_ops_key
from cashbackctl.parked import app as parked_app
from cashbackctl.program_report import report

app = typer.Typer(cls=JsonAnywhere, no_args_is_help=True, add_completion=False, help=__doc__,
                  pretty_exceptions_enable=False)
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(customers.app, name="customers")
app.add_typer(notify_cmds.contacts, name="contacts")
app.add_typer(notify_cmds.templates, name="templates")
app.add_typer(notify_cmds.reminders, name="reminders")
app.add_typer(policies.tiers, name="tiers")
app.add_typer(segments.app, name="segments")
app.add_typer(orders_import.app, name="orders")
app.add_typer(policies.notify_policy, name="notify-policy")
app.add_typer(parked_app, name="parked")
app.add_typer(coalitions.app, name="coalitions")
app.add_typer(promotions.app, name="promotions")
# "-10 SAR" starts with a dash: without this click takes it for an unknown option -1.
app.command("adjust", context_settings={"ignore_unknown_options": True})(customers.adjust)
app.command("deliveries")(notify_cmds.deliveries)
app.command("requeue")(requeue.requeue)
app.command("audit")(audit)
app.command("audit-log")(audit_log)
app.command("report")(report)
app.command("settlement")(coalitions.settlement)


@app.callback()
def _root(
    merchant: str = typer.Option(os.environ.get("CASHBACK_MERCHANT", "m1"), "--merchant", "-m",
                                 help="merchant id (CASHBACK_MERCHANT)"),
    key: str = typer.Option("", "--key", help="ops API key (CASHBACK_OPS_KEY)", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="JSON output for scripts (anywhere on the line)"),
    currency: str = typer.Option(os.environ.get("CASHBACK_CURRENCY", ""), "--currency",
                                 help="the merchant's currency (CASHBACK_CURRENCY); default: found from its "
                                 "campaigns or wallet", show_default=False),
) -> None:
    STATE["ctx"] = Ctx(merchant=merchant, key=key or os.environ.get("CASHBACK_OPS_KEY", "") or dev_ops_key(),
                       as_json=as_json, currency=currency.upper())


@app.command()
def health() -> None:
    """Health of rules, wallet and notify (grpc.health.v1)."""
    result: dict[str, str] = {}
    for service in ("rules", "wallet", "notify"):
        try:
            with grpc.insecure_channel(ctx().target(service)) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=3)
            result[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        except grpc.RpcError as exc:
            result[service] = exc.code().name
    if ctx().as_json:
        typer.echo(json.dumps(result))
    else:
        for service, status in result.items():
            typer.echo(f"{service:<7} {ctx().target(service):<22} {status}")
    if any(s != "SERVING" for s in result.values()):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
