"""cashbackctl orders import FILE.csv: a merchant's past orders into rules' history.

The file is read as a stream (a million rows never sit in memory, only their
order_ids, to catch one given twice) and sent in batches of up to 1,000 orders
(RulesService.ImportOrders). A bad row is reported with its line number and
skipped; each batch is written whole or not at all, and a batch the service
refuses for some of its rows is sent again without them. Importing the same
file again is safe: orders already there are counted as already present."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import grpc
import typer
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.rpc import error_details_pb2, status_pb2
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import validate_currency
from cashback_kit.pb import require_id
from cashbackctl.common import call_failed, console, ctx, err_console, fail
from cashbackctl.units import AmountError, parse_amount

app = typer.Typer(no_args_is_help=True, help="A merchant's orders.")
COLUMNS = ("order_id", "customer_id", "placed_at", "currency", "amount")
# A past order has no lines to tell; its amount is one line's, under this SKU.
PAST_ORDER_SKU = "past-order"
MAX_BATCH = 1000
SHOWN_BAD_ROWS = 20


class BadRow(ValueError):
    """A row that cannot be imported; the message names the column."""


@dataclass
class Summary:
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    segments_at: datetime | None = None  # when rules recomputed the segments after the import

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "already_present": self.already_present,
                "skipped": len(self.bad), "bad_rows": [{"line": n, "error": why} for n, why in self.bad],
                "segments_recomputed_at": self.segments_at.isoformat() if self.segments_at else None}


def _instant(text: str) -> datetime:
    """ISO 8601 with a UTC offset ('2025-03-01T10:00:00+03:00', '...Z'), or a bare
    date, taken as midnight UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRow(f"placed_at: {text!r} is not a date or an ISO 8601 time") from None
    if when.tzinfo is None:
        raise BadRow(f"placed_at: {text!r} needs a UTC offset, e.g. 2025-03-01T10:00:00+03:00 or ...Z")
    return when.astimezone(UTC)


def order_of(row: dict[str, str], now: datetime) -> rules_pb2.Order:
    """One CSV row as a past order; BadRow names what is wrong with it."""
    short = [c for c in COLUMNS if row.get(c) is None]
    if short:
        raise BadRow(f"the row ends before {', '.join(short)}")
    try:
        order_id = require_id(row["order_id"], "order_id")
        customer_id = require_id(row["customer_id"], "customer_id")
        currency = validate_currency(row["currency"].strip().upper(), "currency")
    except InvalidArgument as exc:
        raise BadRow(exc.message) from None
    placed_at = _instant(row["placed_at"])
    if placed_at > now:
        raise BadRow(f"placed_at: {row['placed_at']!r} is in the future")
    try:
        amount = parse_amount(row["amount"], "amount", currency)
    except AmountError as exc:
        raise BadRow(str(exc)) from None
    if amount.currency != currency:
        raise BadRow(f"amount: {row['amount']!r} is not in the row's currency {currency}")
    if amount.minor < 0:
        raise BadRow(f"amount: {row['amount']!r} is negative")
    line = rules_pb2.OrderLine(sku=PAST_ORDER_SKU, quantity=1)
    line.unit_price.currency_code, line.unit_price.amount_minor = currency, amount.minor
    order = rules_pb2.Order(order_id=order_id, customer_id=customer_id, currency_code=currency, lines=[line])
    order.placed_at.FromDatetime(placed_at)
    return order


def _lines(raw: IO[bytes], progress: Progress, task: Any) -> Iterator[str]:
    """The file's text lines (a byte order mark dropped), advancing the bar by the bytes read."""
    for number, chunk in enumerate(raw, start=1):
        progress.advance(task, len(chunk))
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            fail(f"line {number} is not UTF-8 text; save the file as UTF-8 CSV (nothing after it was read)")
        yield text.removeprefix("\ufeff") if number == 1 else text


def _rows(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        fail(f"the header must name {', '.join(COLUMNS)}; missing: {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, row


def _field_violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
    trailers: Any = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else ()
    out: list[tuple[str, str]] = []
    for key, value in trailers or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    out += [(v.field, v.description) for v in bad.field_violations]
    return out


def _refused_rows(exc: grpc.RpcError, size: int) -> dict[int, str]:
    """Which orders of the batch (by index) the service refused, and why; {}
    when the refusal is not about single orders."""
    out: dict[int, str] = {}
    for path, why in _field_violations(exc):
        head, _, rest = path.partition("].")
        if head.startswith("orders[") and head[7:].isdigit() and int(head[7:]) < size:
            out.setdefault(int(head[7:]), f"{rest}: {why}" if rest else why)
    return out


def _send(stub: rules_pb2_grpc.RulesServiceStub, batch: list[tuple[int, rules_pb2.Order]], summary: Summary) -> None:
    """One batch; rows the service refuses are reported and the rest sent again
    (a refused batch wrote nothing)."""
    while batch:
        req = rules_pb2.ImportOrdersRequest(merchant_id=ctx().merchant, orders=[o for _, o in batch])
        try:
            resp = stub.ImportOrders(req, metadata=ctx().metadata(), timeout=120)
        except grpc.RpcError as exc:
            refused = _refused_rows(exc, len(batch)) if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else {}
            if not refused:
                _stopped(summary, batch[0][0])
                call_failed(exc)
            summary.bad += [(batch[i][0], why) for i, why in sorted(refused.items())]
            batch = [b for i, b in enumerate(batch) if i not in refused]
            continue
        summary.imported += resp.imported
        summary.already_present += resp.already_present
        return


def _stopped(summary: Summary, line: int) -> None:
    err_console.print(f"stopped at the batch starting on line {line}: {summary.imported} imported, "
                      f"{summary.already_present} already present before it; importing the file again is safe "
                      "(orders already there are skipped)", highlight=False, soft_wrap=True)


def run_import(path: Path, batch_size: int, now: datetime) -> Summary:
    summary = Summary()
    first_line: dict[str, int] = {}
    batch: list[tuple[int, rules_pb2.Order]] = []
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[rows]} rows"),
               TimeRemainingColumn())
    with (path.open("rb") as raw, Progress(*columns, console=err_console, transient=True) as progress,
          ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub):
        task = progress.add_task("import", total=path.stat().st_size, rows=0)
        for line, row in _rows(_lines(raw, progress, task)):
            summary.rows += 1
            try:
                order = order_of(row, now)
                if order.order_id in first_line:
                    raise BadRow(f"order_id: also on line {first_line[order.order_id]}")
            except BadRow as exc:
                summary.bad.append((line, str(exc)))
                continue
            first_line[order.order_id] = line
            batch.append((line, order))
            if len(batch) >= batch_size:
                _send(stub, batch, summary)
                batch = []
                progress.update(task, rows=summary.rows)
        if batch:
            _send(stub, batch, summary)
    return summary


def wait_for_segments(since: datetime, seconds: float) -> datetime | None:
    """Rules recomputes the segments a few seconds after an import (its RFM worker): wait
    for that, so what the next command shows includes the orders just imported."""
    deadline = time.monotonic() + seconds
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        while time.monotonic() < deadline:
            try:
                got = stub.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id=ctx().merchant),
                                        metadata=ctx().metadata(), timeout=10)
            except grpc.RpcError:  # the import itself is done; only the wait is given up
                return None
            if got.HasField("computed_at") and got.computed_at.ToDatetime(tzinfo=UTC) >= since:
                return got.computed_at.ToDatetime(tzinfo=UTC)
            time.sleep(0.5)
    return None


def _report(summary: Summary) -> None:
    if ctx().as_json:
        sys.stdout.write(json.dumps(summary.as_dict(), indent=2) + "\n")
        return
    for line, why in summary.bad[:SHOWN_BAD_ROWS]:
        console.print(f"line {line}: {why} (skipped)", highlight=False, soft_wrap=True)
    if len(summary.bad) > SHOWN_BAD_ROWS:
        console.print(f"... and {len(summary.bad) - SHOWN_BAD_ROWS} more bad rows (--json lists them all)")
    console.print(f"{summary.rows} rows: {summary.imported} imported, {summary.already_present} already present, "
                  f"{len(summary.bad)} skipped", highlight=False)
    if summary.segments_at is not None:
        console.print("RFM segments recomputed with them (cashbackctl segments list)", highlight=False)
    elif summary.imported:
        console.print("RFM segments will include them once rules recomputes (within a minute)", highlight=False)


@app.command("import")
def import_orders(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV with a header: order_id,customer_id,placed_at,currency,amount"),
    batch_size: int = typer.Option(MAX_BATCH, "--batch-size", min=1, max=MAX_BATCH, help="orders per call"),
    wait: float = typer.Option(60.0, "--wait", min=0,
                               help="seconds to wait for rules to recompute the RFM segments (0: do not wait)"),
) -> None:
    """Past orders (from before the merchant used cashback) into customers' history.

    They count as earlier orders and as tier spend, earn no cashback and use no
    budget. placed_at is ISO 8601 with an offset, or a date (midnight UTC);
    amount is in the currency's units ('125.50', or '50,000 toman' for IRR).
    Exits 1 when any row was skipped."""
    started = datetime.now(UTC)
    summary = run_import(file, batch_size, started)
    if summary.imported and wait:
        summary.segments_at = wait_for_segments(started, wait)
    _report(summary)
    if summary.bad:
        raise typer.Exit(1)
