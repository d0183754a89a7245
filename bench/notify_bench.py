"""Issue #7 target 6: notify sends 10,000 due SMS to the local Twilio-compatible
server at >= 0.8x the rate of a bare twilio-SDK loop sending the same messages
with the same concurrency.

- The server is tests/notify/fake_twilio.py, run in its own process on 127.0.0.1
  (so neither side pays for the server's CPU in its own event loop).
- Bare: the twilio SDK's AsyncTwilioHttpClient (pooled aiohttp session; the only
  change is the base-URL rewrite to the local server) and `Client.messages.create_async`,
  `concurrency` sends in flight, over the very numbers and bodies notify rendered.
- Ours: n due SMS deliveries made by `deliveries.create` (contacts, policy,
  templates, rendering: not timed), then drained by the real `Sender` with the real
  Twilio provider from `build_providers`, on PostgreSQL, the way `send_forever` runs it.

`python -m bench.notify_bench` starts a throw-away PostgreSQL cluster and prints both."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.providers import build_providers
from cashback_services.notify.domain.planning import Message, for_customer
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.deliveries import create
from cashback_services.notify.service_layer.sender import Sender
from tests.notify import fake_twilio as ft

LOCALES = ("fa-IR", "ar-SA", "en")  # Persian and Arabic bodies are UCS-2, English GSM-7
SEED_BATCH = 500
ROOT = Path(__file__).resolve().parents[1]


# --- the Twilio-compatible server, in a child process -------------------------------------------

async def _serve_fake_twilio() -> None:
    """Child process: start the fake, print its port, answer "count" with how many
    messages it accepted, exit at end of input."""
    fake = await ft.FakeTwilio().start()
    print(fake.port, flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "count":
            print(len(fake.messages), flush=True)
    await fake.stop()


class FakeTwilioProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeTwilioProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.notify_bench", "--serve-fake-twilio",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            cwd=ROOT)
        self.port = int(await self._line())
        return self

    async def _line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the fake Twilio process exited")
        return line.decode().strip()

    async def count(self) -> int:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"count\n")
        await self.proc.stdin.drain()
        return int(await self._line())

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# --- seeding (not timed) -------------------------------------------------------------------------

async def seed(db: Database, n: int, now: datetime) -> list[tuple[str, str]]:
    """n contacts and n due SMS deliveries through `create`; returns (to, body) of each."""
    async with db.write() as conn:
        await conn.execute(insert(t.contacts), [{
            "merchant_id": "m1", "customer_id": f"c{i}", "phone_e164": f"+96650{i:07d}", "email": "",
            "locale": LOCALES[i % len(LOCALES)], "timezone": "Asia/Riyadh", "sms_opt_in": True,
            "email_opt_in": False, "updated_at": now} for i in range(n)])
    for start in range(0, n, SEED_BATCH):
        async with db.write() as conn:
            for i in range(start, min(n, start + SEED_BATCH)):
                context = for_customer(kind="credited", amount=Money("SAR", 1500 + i), customer_id=f"c{i}",
                                       merchant_id="m1")
                await create(conn, Message("m1", f"c{i}", "credited", f"bench:{i}", context), now, channels=("sms",))
    D = t.deliveries
    async with db.read() as conn:
        rows = (await conn.execute(select(D.c.to_addr, D.c.body).where(D.c.status == "SCHEDULED")
                                   .order_by(D.c.id))).all()
    if len(rows) != n:
        raise RuntimeError(f"seeded {len(rows)} due SMS, wanted {n}")
    return [(r[0], r[1]) for r in rows]


async def count_status(db: Database, status: str) -> int:
    async with db.read() as conn:
        q = select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status == status)
        return int((await conn.execute(q)).scalar() or 0)


# --- bare: the twilio SDK alone ------------------------------------------------------------------

async def bare_loop(base_url: str, messages: list[tuple[str, str]], concurrency: int) -> float:
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    class LocalBase(AsyncTwilioHttpClient):
        """The SDK's own client; requests go to the local server instead of api.twilio.com."""

        async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return await super().request(method, url.replace("https://api.twilio.com", base_url, 1),
                                         *args, **kwargs)

    http = LocalBase()
    client = Client(ft.ACCOUNT_SID, ft.AUTH_TOKEN, http_client=http)
    todo = iter(messages)
    sent = 0

    async def worker() -> None:
        nonlocal sent
        for to, body in todo:
            msg = await client.messages.create_async(to=to, from_=ft.FROM_NUMBER, body=body)
            sent += bool(msg.sid)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await http.close()
    if sent != len(messages):
        raise RuntimeError(f"bare loop: {sent} of {len(messages)} sent")
    return len(messages) / elapsed


# --- ours: the notify Sender ---------------------------------------------------------------------

async def drain(sender: Sender) -> None:
    """What `send_forever` does, stopping once nothing is due."""
    await sender.run(until_idle=True)


async def ours(db: Database, base_url: str, n: int, concurrency: int) -> float:
    settings = Settings.from_env("notify", {
        "NOTIFY_DATABASE_URL": db.url, "TWILIO_ACCOUNT_SID": ft.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": ft.AUTH_TOKEN,
        "TWILIO_FROM": ft.FROM_NUMBER, "TWILIO_API_BASE_URL": base_url})
    router, email = build_providers(settings)
    sender = Sender(db, router, email, None, concurrency=concurrency)
    try:
        started = time.perf_counter()
        await drain(sender)
        elapsed = time.perf_counter() - started
    finally:
        await router.close()
        await email.close()
    sent = await count_status(db, "SENT")
    if sent != n:
        raise RuntimeError(f"ours: {sent} of {n} deliveries SENT")
    return n / elapsed


async def reschedule(db: Database, created: datetime) -> None:
    """Put the seeded deliveries back as `create` made them (due, never attempted) for another round."""
    async with db.write() as conn:
        await conn.execute(update(t.deliveries).values(
            status="SCHEDULED", attempts=0, lease_until=None, sent_at=None, provider_message_id="", error="",
            next_attempt_at=created))
    await vacuum(db)


async def vacuum(db: Database) -> None:
    """VACUUM ANALYZE after seeding or rescheduling (not timed), so autovacuum does not
    wake up for the 10,000 rows just written in the middle of the next timed run (of
    either side: it ran during the bare loop as often as during ours)."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE notify_deliveries")


async def notify_sms(pg_url: str | None, n: int = 10_000, concurrency: int = 32,
                     rounds: int = 3) -> tuple[float, float, str]:
    """(bare rate /s, ours /s, note): medians over `rounds` alternating runs of each
    (this machine is shared and noisy). pg_url: an empty PostgreSQL database for notify."""
    if not pg_url:
        return 0.0, 0.0, "needs PostgreSQL"
    db = Database(pg_url)  # as the service makes it
    bares: list[float] = []
    ourses: list[float] = []
    try:
        await db.migrate(MIGRATIONS, "notify_alembic_version")
        created = datetime.now(UTC)
        messages = await seed(db, n, created)
        await vacuum(db)
        async with FakeTwilioProcess() as server:
            for r in range(rounds):
                if r:
                    await reschedule(db, created)
                before = await server.count()
                bares.append(await bare_loop(server.base_url, messages, concurrency))
                mid = await server.count()
                ourses.append(await ours(db, server.base_url, n, concurrency))
                after = await server.count()
                if mid - before != n or after - mid != n:
                    raise RuntimeError(f"the server got {mid - before} bare and {after - mid} of ours, wanted {n}")
    finally:
        await db.dispose()
    per_round = [o / b for b, o in zip(bares, ourses, strict=True)]
    ratios = ", ".join(f"{r:.2f}" for r in per_round)
    note = (f"{n:,} SMS x {rounds} rounds (medians; per-round ratios {ratios}, "
            f"median {statistics.median(per_round):.2f}), {concurrency} in flight, "
            f"fake Twilio in its own process; ours = claim/send/finish on PostgreSQL under leases")
    return statistics.median(bares), statistics.median(ourses), note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-fake-twilio", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_twilio:
        asyncio.run(_serve_fake_twilio())
        return
    from tests.support.pgcluster import remove_cluster, start_cluster

    cluster = start_cluster()
    try:
        url = cluster.new_database_url("notify")
        bare, got, note = asyncio.run(notify_sms(url, args.n, args.concurrency, args.rounds))
    finally:
        remove_cluster(cluster)
    ratio = got / bare if bare else 0.0
    print(f"bare twilio SDK loop: {bare:,.0f} SMS/s")
    print(f"notify Sender:        {got:,.0f} SMS/s")
    print(f"ratio: {ratio:.2f} (target >= 0.80: {'MET' if ratio >= 0.8 else 'NOT MET'})")
    print(note)


if __name__ == "__main__":
    main()
