"""Write a year of a shop's past orders as the CSV `cashbackctl orders import` reads.

    .venv/bin/python examples/past_orders.py past-orders.csv [--merchant-currency SAR]

About 2,000 orders of 400 customers (cust-001 … cust-400), dated back from today so that
every RFM segment has people in it: regulars who bought last week, customers who
stopped coming months ago, one-off buyers from last winter. The same file every day
(a fixed random seed), only the dates move with today."""

from __future__ import annotations

import argparse
import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

# (how many customers, orders each (low, high), days since the last order (low, high),
#  the span their orders cover in days, order size in major units (low, high))
PROFILES = (
    (40, (10, 18), (0, 10), 330, (250, 900)),  # regulars: recent, frequent, big
    (70, (5, 9), (5, 40), 300, (120, 400)),  # loyal
    (60, (1, 1), (0, 20), 0, (60, 300)),  # new this month
    (80, (3, 6), (60, 150), 200, (100, 350)),  # slipping away
    (50, (6, 12), (150, 250), 110, (300, 800)),  # used to buy a lot, gone quiet
    (100, (1, 2), (250, 300), 60, (30, 120)),  # one or two small orders long ago
)


def rows(today: datetime, currency: str) -> list[dict[str, str]]:
    rnd = random.Random(1404)
    out: list[dict[str, str]] = []
    customer = 0
    for count, orders, last, span, size in PROFILES:
        for _ in range(count):
            customer += 1
            last_order = today - timedelta(days=rnd.uniform(*last))
            n = rnd.randint(*orders)
            for k in range(n):
                placed = last_order - timedelta(days=span * k / max(n - 1, 1)) if k else last_order
                amount = rnd.randint(size[0] * 100, size[1] * 100)
                out.append({"order_id": f"past-{customer}-{k + 1}", "customer_id": f"cust-{customer:03d}",
                            "placed_at": placed.isoformat(timespec="seconds"), "currency": currency,
                            "amount": f"{amount // 100}.{amount % 100:02d}"})
    out.sort(key=lambda r: r["placed_at"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the CSV")
    parser.add_argument("--merchant-currency", default="SAR", help="ISO 4217 code of the amounts (default SAR)")
    args = parser.parse_args()
    today = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # past orders end yesterday
    data = rows(today, args.merchant_currency)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=("order_id", "customer_id", "placed_at", "currency", "amount"))
        writer.writeheader()
        writer.writerows(data)
    print(f"wrote {len(data):,} past orders of {len({r['customer_id'] for r in data})} customers to {args.out}")


if __name__ == "__main__":
    main()
