"""The campaign side of the program report: what each campaign cost against the
GMV it paid on, and whether customers who earned bought again more often than
those who did not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from cashback_kit.db import Database
from cashback_services.rules.adapters import report_repo


@dataclass(frozen=True)
class CampaignLine:
    campaign_id: str
    cost: int
    gmv: int
    orders: int


@dataclass(frozen=True)
class Repeat:
    earners: int
    earners_repeat: int
    non_earners: int
    non_earners_repeat: int


async def campaign_report(db: Database, merchant_id: str, currency: str, start: datetime,
                          end: datetime) -> tuple[list[CampaignLine], Repeat]:
    async with db.read() as conn:
        per_campaign = await report_repo.cost_per_campaign(conn, merchant_id, currency, start, end)
        first = await report_repo.first_orders(conn, merchant_id, currency, start, end)
        earned = await report_repo.earners(conn, merchant_id, currency, start, end)
        later = await report_repo.last_orders_since(conn, merchant_id, start)
    # A merchant's every customer passes through these sets: off the event loop.
    return await asyncio.to_thread(_summarise, per_campaign, first, earned, later)


def _summarise(per_campaign: list[tuple[str, int, int, int]], first: dict[str, datetime], earned: set[str],
               later: dict[str, datetime]) -> tuple[list[CampaignLine], Repeat]:
    lines = [CampaignLine(c, cost, gmv, n) for c, cost, gmv, n in per_campaign]
    again = {c for c, placed in first.items() if later.get(c, placed) > placed}
    repeat = Repeat(earners=len(earned & first.keys()), earners_repeat=len(again & earned),
                    non_earners=len(first.keys() - earned), non_earners_repeat=len(again - earned))
    lines.sort(key=lambda line: (-line.cost, line.campaign_id))
    return lines, repeat
