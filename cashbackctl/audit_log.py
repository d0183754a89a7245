"""`cashbackctl audit-log`: who changed what, across the services (issue 15, point 10).

Reads each service's ListAuditEvents (rules, notify and wallet) for the
merchant, newest first, and shows them merged by time. A service that cannot be
asked (down, or too old to have the RPC) is named on stderr and the others are
still shown; if none answers, exit 1."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import typer
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from google.protobuf.message import Message

from cashbackctl.common import ctx, describe_error, emit, err_console, to_dict, ts

PAGE = 200


@dataclass(frozen=True)
class Source:
    service: str
    stub: Callable[[grpc.Channel], Any]
    request: Callable[..., Message]


SOURCES = (
    Source("rules", rules_pb2_grpc.RulesServiceStub, rules_pb2.ListAuditEventsRequest),
    Source("notify", notify_pb2_grpc.NotifyServiceStub, notify_pb2.ListAuditEventsRequest),
    Source("wallet", wallet_pb2_grpc.WalletServiceStub, wallet_pb2.ListAuditEventsRequest),
)


def _newest(source: Source, limit: int, action: str) -> list[Message]:
    """Up to `limit` of the merchant's newest events in one service."""
    out: list[Message] = []
    token = ""
    with ctx().stub(source.service, source.stub) as stub:
        while len(out) < limit:
            resp = stub.ListAuditEvents(source.request(merchant_id=ctx().merchant, page_size=min(PAGE, limit),
                                                       page_token=token, action=action),
                                        metadata=ctx().metadata(), timeout=30)
            out += resp.events
            token = resp.next_page_token
            if not token:
                break
    return out[:limit]


def _key(e: Any) -> str:
    return f"{e.key_id} ({e.key_name})" if e.key_name else e.key_id


def audit_log(limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="newest N changes in all"),
              action: str = typer.Option("", help="only this RPC's changes, e.g. UpdateCampaign")) -> None:
    """Who changed what (campaigns, tiers, templates, contacts, requeues…): every ops
    change of the merchant in rules and notify, newest first, with the key's id (never the key)."""
    merged: list[tuple[str, Any]] = []
    answered = 0
    for source in SOURCES:
        try:
            merged += [(source.service, e) for e in _newest(source, limit, action)]
            answered += 1
        except grpc.RpcError as exc:
            err_console.print(f"[yellow]warning[/yellow] {source.service}: {describe_error(exc)}", highlight=False,
                              soft_wrap=True)
    if not answered:
        raise typer.Exit(1)
    merged.sort(key=lambda p: (p[1].at.seconds, p[1].at.nanos, p[0], p[1].id), reverse=True)
    rows = merged[:limit]
    if ctx().as_json:
        emit({"events": [{"service": s, **to_dict(e)} for s, e in rows]})
        return
    emit([], [("at", lambda r: ts(r[1].at)), ("service", lambda r: r[0]), ("action", lambda r: r[1].action),
              ("target", lambda r: r[1].target), ("key", lambda r: _key(r[1])), ("role", lambda r: r[1].role),
              ("change", lambda r: r[1].change_json)], rows, title=f"audit log of {ctx().merchant}")
