"""Schedules: cron day numbers mean what cron means (6 = Saturday, 0 and 7 =
Sunday), the next run is shown in the campaign's zone, and a reminder due while
no process led the scheduler still runs once within the misfire grace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from sqlalchemy import func, select

from cashback_kit.db import Database
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.domain.schedule import CronError, apscheduler_fields, cron_days
from cashback_services.notify.entrypoints.runtime import Leader, jobstore_url
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.service import NotifyService
from tests.notify.stack import eventually, notify_stack
from tests.support.servers import auth


@pytest.mark.parametrize(("field", "days"), [
    ("6", [6]), ("0", [0]), ("7", [0]), ("1-5", [1, 2, 3, 4, 5]), ("5-7", [0, 5, 6]), ("*/2", [0, 2, 4, 6]),
    ("sat,sun", [0, 6]), ("1,3-4", [1, 3, 4]), ("2/3", [2, 5]),
])
def test_day_of_week_numbers_mean_what_cron_means(field, days):
    assert cron_days(field) == days


def test_the_trigger_gets_day_names_so_apschedulers_monday_zero_numbering_cannot_shift_them():
    assert apscheduler_fields("0 10 * * 6") == {"minute": "0", "hour": "10", "day": "*", "month": "*",
                                                "day_of_week": "sat"}
    assert "day_of_week" not in apscheduler_fields("30 9 1 * *")
    for bad in ("0 10 * *", "0 10 * * 8", "0 10 * * 5-2", "0 10 * * */0"):
        with pytest.raises(CronError):
            apscheduler_fields(bad)


async def test_a_saturday_reminder_in_tehran_next_runs_on_a_saturday_at_ten_tehran_time(pg_url):
    async with notify_stack(pg_url) as s:
        c = N.ReminderCampaign(merchant_id="m1", name="شنبه‌ها", cron="0 10 * * 6", timezone="Asia/Tehran",
                               min_available=common_pb2.Money(currency_code="IRR", amount_minor=100_000),
                               inactive_days=30, channels=[N.CHANNEL_SMS])
        created = (await s.n.CreateReminderCampaign(N.CreateReminderCampaignRequest(campaign=c),
                                                    metadata=auth("ops"))).campaign
    local = created.next_run_at.ToDatetime(UTC).astimezone(ZoneInfo("Asia/Tehran"))
    assert local.strftime("%A %H:%M") == "Saturday 10:00"
    assert timedelta(0) < local - datetime.now(ZoneInfo("Asia/Tehran")) <= timedelta(days=7)
    assert created.next_run_local == f"{local.isoformat()} Saturday" and "+03:30" in created.next_run_local


class NoBalances:
    """The wallet's ListBalances with nobody matching: the run itself is what is counted."""

    def balances(self, *args):
        async def none():
            return
            yield

        return none()


async def _lead_once(pg_url: str, grace: timedelta, until) -> None:
    db = Database(pg_url)
    leader = Leader(NotifyService(db, NoBalances()), pg_url, misfire_grace=grace)  # type: ignore[arg-type]
    task = asyncio.create_task(leader.run())
    try:
        await eventually(until, within=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()  # the leader's connection closes: its advisory lock goes with it


@pytest.mark.parametrize(("grace", "runs"), [(timedelta(hours=1), 1), (timedelta(seconds=1), 0)],
                         ids=["within-the-grace-runs-once", "apschedulers-1s-default-would-skip-it"])
async def test_a_reminder_due_during_a_leader_change_runs_once_within_the_misfire_grace(pg_url, grace, runs):
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    svc = NotifyService(db, None)
    campaign = await svc.create_reminder({
        "campaign_id": "", "merchant_id": "m1", "name": "weekly", "cron": "0 10 * * 6", "timezone": "Asia/Tehran",
        "min_currency": "IRR", "min_amount": 0, "inactive_days": 0, "channels": "sms", "active": True})
    job_id = f"reminder:{campaign['merchant_id']}:{campaign['campaign_id']}"

    # The job store alone, read and written without a running scheduler.
    store = SQLAlchemyJobStore(url=jobstore_url(pg_url), tablename="notify_apscheduler_jobs")
    store.start(BackgroundScheduler(timezone="UTC"), "default")

    await _lead_once(pg_url, grace, lambda: asyncio.to_thread(store.lookup_job, job_id))
    # No leader for a while: the run that was due 20 minutes ago was missed.
    job = store.lookup_job(job_id)
    job.next_run_time = datetime.now(UTC) - timedelta(minutes=20)
    store.update_job(job)
    store.shutdown()

    async def count() -> int:
        async with db.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(t.runs))).scalar() or 0)

    async def settled() -> bool:
        await asyncio.sleep(2.0)  # let the new leader start, look at its due jobs and run them
        return True

    await _lead_once(pg_url, grace, settled)
    ran = await count()
    await db.dispose()
    assert ran == runs
