"""What every cashbackctl command shares: where the services are, the ops key,
the merchant, output (human tables or --json), and errors as one clear line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import grpc
import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from rich.console import Console
from rich.table import Table

from cashback_kit.config import DEFAULT_ADDRS
from cashback_kit.money import Money
from cashbackctl.units import money_text

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


@dataclass
class Ctx:
    merchant: str
    key: str
    as_json: bool
    # --currency / CASHBACK_CURRENCY; otherwise found from the merchant's own data (merchant.py).
    currency: str = ""

    def target(self, service: str) -> str:
        return os.environ.get(f"{service.upper()}_ADDR", DEFAULT_ADDRS[service])

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.key}"),)

    @contextmanager
    def stub(self, service: str, factory: Callable[[grpc.Channel], T]) -> Iterator[T]:
        with grpc.insecure_channel(self.target(service)) as channel:
            yield factory(channel)


STATE: dict[str, Ctx] = {}


def dev_ops_key() -> str:
    """`make run` writes var/api-keys.json; use its ops key when none is given."""
    path = Path(os.environ.get("CASHBACK_API_KEYS_FILE", "var/api-keys.json"))
    try:
        keys = json.loads(path.read_text())["keys"]
    except (OSError, ValueError, KeyError):
        return ""
    return next((k["key"] for k in keys if k.get("role") == "ops"), "")


def ctx() -> Ctx:
    return STATE["ctx"]


def describe_error(exc: grpc.RpcError) -> str:
    """STATUS: message (field: description, ...), from the rich status details."""
    code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
    text = (exc.details() or "") if hasattr(exc, "details") else str(exc)
    fields: list[str] = []
    # (key, value) pairs at run time, whatever the stubs' metadata type says.
    trailers: Any = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else ()
    for key, value in trailers or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    fields += [f"{v.field}: {v.description}" for v in bad.field_violations]
    fields = [f for f in fields if f not in text]  # the message often names the first violation already
    suffix = f" ({'; '.join(fields)})" if fields else ""
    return f"{code}: {text}{suffix}"


def call(fn: Callable[..., T], request: Message, *, timeout: float = 30) -> T:
    """One RPC; a failure ends the command with one line and exit code 1, never a traceback."""
    try:
        return fn(request, metadata=ctx().metadata(), timeout=timeout)
    except grpc.RpcError as exc:
        call_failed(exc)
        raise


def call_failed(exc: grpc.RpcError) -> NoReturn:
    err_console.print(f"[red]error[/red] {describe_error(exc)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


def to_dict(msg: Message) -> dict[str, Any]:
    return MessageToDict(msg, preserving_proto_field_name=True)


def money(m: Any, lang: str = "en") -> str:
    """A Money message in the merchant's units: '25.00 SAR', '175,000 toman'."""
    if m is None or not m.currency_code:
        return "-"
    return money_text(Money(m.currency_code, m.amount_minor), lang)


def ts(t: Any) -> str:
    if t is None or (t.seconds == 0 and t.nanos == 0):
        return "-"
    return t.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")


def emit(data: Message | Sequence[Message] | dict[str, Any], columns: Sequence[tuple[str, Callable[[Any], str]]] = (),
         rows: Sequence[Any] = (), title: str | None = None) -> None:
    """--json prints the messages as JSON; otherwise a table of `columns` over `rows`."""
    if ctx().as_json:
        if isinstance(data, Message):
            out: Any = to_dict(data)
        elif isinstance(data, dict):
            out = data
        else:
            out = [to_dict(m) for m in data]
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=title, show_lines=False)
    cells = [[fn(row) for _, fn in columns] for row in rows]
    for i, (name, _) in enumerate(columns):
        if name in ID_COLUMNS:
            # Whole, on one line, so it can be pasted into the next command; the others make room.
            table.add_column(name, no_wrap=True, min_width=max((len(r[i]) for r in cells), default=0))
        else:
            table.add_column(name, overflow="fold")
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)


ID_COLUMNS = {"id", "transaction", "run", "customer", "campaign"}


class JsonAnywhere(typer.core.TyperGroup):
    """`--json` is the root's option, but people put it after the subcommand too:
    move it to the front wherever it is on the line (not after a `--`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if "--json" in args[:end]:
            args = ["--json", *(a for a in args[:end] if a != "--json"), *args[end:]]
        return super().parse_args(ctx, args)


def fail(message: str) -> NoReturn:
    err_console.print(f"[red]error[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
