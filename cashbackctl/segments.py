"""cashbackctl segments: the merchant's RFM segments (rules' ListSegments)."""

from __future__ import annotations

import typer
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from cashbackctl.common import call, console, ctx, emit, money, ts

app = typer.Typer(no_args_is_help=True, help="RFM segments: who buys recently, often and much (rules).")


@app.command("list")
def segments_list() -> None:
    """The eleven segments with their customers and spend, and when they were computed."""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        got = call(stub.ListSegments, rules_pb2.ListSegmentsRequest(merchant_id=ctx().merchant))
    if not ctx().as_json:
        when = ts(got.computed_at) if got.HasField("computed_at") else "never (no orders scored or imported yet)"
        console.print(f"customers with an order in the last {got.window_days} days; computed {when}",
                      highlight=False)
    emit(got, [("segment", lambda s: s.segment), ("customers", lambda s: f"{s.customers:,}"),
               ("spend", lambda s: money(s.spend) if s.HasField("spend") else "-")], list(got.segments))
