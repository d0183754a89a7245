"""The background loops of a notify process: the stream follower, the senders,
and (in the one leader) the APScheduler jobs.

Leadership: APScheduler's FAQ says only one scheduler may use a job store, so
the scheduler runs only in the process holding a session-level PostgreSQL
advisory lock on a dedicated connection; the others retry every few seconds and
take over when the leader's connection dies. A job due while no process led (a
leader change, a deploy) still runs once when the new leader starts, if that is
within the misfire grace (NOTIFY_MISFIRE_GRACE_SECONDS, default 1 hour):
APScheduler's own default grace is 1 second."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cashback_kit.db import Database
from cashback_kit.pb import utcnow
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.service_layer.flows import ORDER_GATHER, expiry_scan, read_cursor
from cashback_services.notify.service_layer.parked import handle
from cashback_services.notify.service_layer.sender import Sender
from cashback_services.notify.service_layer.service import NotifyService, cron_trigger

log = logging.getLogger("cashback.notify.runtime")
LEADER_LOCK = 0x6E6F74696679  # "notify"
# The running process's service, for APScheduler jobs (they are stored by reference, not pickled objects).
_ACTIVE: dict[str, Any] = {}


async def follow(db: Database, wallet: WalletGateway, clock: Callable[[], datetime] = utcnow,
                 gather: timedelta = ORDER_GATHER, renderer: TemplateRenderer | None = None) -> None:
    """Follow the wallet's events from the stored cursor; reconnect with backoff. An event
    that cannot be processed is parked (service_layer/parked.py) and the stream moves on;
    only an outage (wallet or database away) makes it wait and read the same event again."""
    delay = 0.5
    while True:
        try:
            async for event in wallet.stream(await read_cursor(db)):
                await handle(db, event, clock(), gather, renderer)
                delay = 0.5
        except Exception as exc:
            log.warning("wallet stream interrupted; reconnecting", extra={"error": type(exc).__name__})
        await asyncio.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 10)


async def send_forever(sender: Sender, idle: float = 0.5) -> None:
    await sender.run(idle)


def jobstore_url(database_url: str) -> str:
    """APScheduler's job store is synchronous: the same database through a sync driver."""
    url = make_url(database_url)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


async def job_expiry_scan() -> None:
    svc: NotifyService = _ACTIVE["service"]
    if svc.wallet is not None:
        created = await expiry_scan(svc.db, svc.wallet, svc.clock(), svc.renderer)
        log.info("expiry scan", extra={"created": created})


async def job_reminder(merchant_id: str, campaign_id: str) -> None:
    svc: NotifyService = _ACTIVE["service"]
    run = await svc.run_reminder(merchant_id, campaign_id)
    log.info("reminder campaign ran", extra={"campaign_id": campaign_id, "created": run["deliveries_created"]})


# Promotions this process is sending now: their date job is gone from the store once it fired,
# so without this a reconcile would start the same run a second time alongside.
_RUNNING: set[str] = set()


async def job_promotion(merchant_id: str, promotion_id: str) -> None:
    svc: NotifyService = _ACTIVE["service"]
    key = f"promotion:{merchant_id}:{promotion_id}"
    _RUNNING.add(key)
    try:
        done = await svc.promotions.run(merchant_id, promotion_id)
    finally:
        _RUNNING.discard(key)
    if done is not None:
        log.info("promotion sent", extra={"promotion_id": promotion_id, "matched": done["matched"]})


class Leader:
    def __init__(self, service: NotifyService, database_url: str, scan_minutes: float = 60,
                 misfire_grace: timedelta = timedelta(hours=1)) -> None:
        self.service, self.database_url, self.scan_minutes = service, database_url, scan_minutes
        self.grace = int(misfire_grace.total_seconds())
        self.is_leader = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None

    async def run(self) -> None:
        _ACTIVE["service"] = self.service
        db = self.service.db
        while True:
            try:
                async with db.engine.connect() as conn:
                    got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK})).scalar()
                    await conn.commit()
                    if got:
                        log.info("this process is the scheduler leader")
                        lead = asyncio.create_task(self._lead())
                        try:
                            while not lead.done():  # the lock lives as long as this connection does
                                await conn.execute(text("SELECT 1"))
                                await conn.commit()
                                await asyncio.sleep(2)
                        finally:
                            lead.cancel()
                            self._stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader election interrupted", extra={"error": type(exc).__name__})
            await asyncio.sleep(2)

    async def _lead(self) -> None:
        # Coalesced: however many runs were missed within the grace, one runs.
        self.scheduler = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(
            url=jobstore_url(self.database_url), tablename="notify_apscheduler_jobs")}, timezone="UTC",
            job_defaults={"misfire_grace_time": self.grace, "coalesce": True, "max_instances": 1})
        self.scheduler.start()
        self.is_leader.set()
        try:
            self.scheduler.add_job(job_expiry_scan, "interval", minutes=self.scan_minutes, id="expiry-scan",
                                   replace_existing=True)
            while True:
                await self.reconcile()
                await self.reconcile_promotions()
                await asyncio.sleep(5)
        finally:
            self._stop()

    async def reconcile(self) -> None:
        """Make the cron jobs match the active reminder campaigns (any process may change them)."""
        assert self.scheduler is not None
        from sqlalchemy import select

        from cashback_services.notify.adapters import tables as t

        async with self.service.db.read() as conn:
            rows = (await conn.execute(select(t.reminders))).mappings().all()
        # Campaign ids are per merchant: the job id names both.
        wanted = {f"reminder:{r['merchant_id']}:{r['campaign_id']}": r for r in rows if r["active"]}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("reminder:") and job.id not in wanted:
                job.remove()
        for job_id, r in wanted.items():
            job = self.scheduler.get_job(job_id)
            trigger = cron_trigger(r["cron"], r["timezone"])
            if job is None or str(job.trigger) != str(trigger) or job.misfire_grace_time != self.grace:
                self.scheduler.add_job(job_reminder, trigger, args=[r["merchant_id"], r["campaign_id"]], id=job_id,
                                       replace_existing=True)

    async def reconcile_promotions(self) -> None:
        """A date job for every promotion not yet sent: at its send_at, or now for one due
        already or interrupted mid-send (a crash, a leader change): its run creates only
        what is missing."""
        assert self.scheduler is not None
        now = self.service.clock()
        for merchant_id, promotion_id, send_at in await self.service.promotions.open_promotions():
            job_id = f"promotion:{merchant_id}:{promotion_id}"
            if job_id in _RUNNING or self.scheduler.get_job(job_id) is not None:
                continue
            self.scheduler.add_job(job_promotion, "date", run_date=max(send_at, now), args=[merchant_id, promotion_id],
                                   id=job_id, replace_existing=True)

    def _stop(self) -> None:
        self.is_leader.clear()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
