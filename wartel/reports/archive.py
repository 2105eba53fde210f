"""The monthly archive: each region's report for a finished month, produced once on schedule and kept."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import asyncpg
import structlog

from audit import Actor, LogRef, append
from wartel.config import Settings
from wartel.errors import NotFound
from wartel.reports.compliance import compliance_report
from wartel.reports.models import ComplianceReport
from wartel.reports.period import Period, previous_month

log = structlog.get_logger("wartel.reports")

# The westernmost zone (WIB, UTC+7) finishes a month last; a month is over everywhere once it is over there.
_LAST_ZONE_OFFSET_H = 7


def month_finished_everywhere(period: Period, now: datetime) -> bool:
    last_midnight = datetime(period.end.year, period.end.month, period.end.day, tzinfo=UTC)
    return now.timestamp() >= last_midnight.timestamp() + (24 - _LAST_ZONE_OFFSET_H) * 3600


async def store_monthly_report(conn: asyncpg.Connection, region_id: int, period: Period, *,
                               actor: Actor) -> bool:
    """Compute and keep ``period``'s report for the region; False when one is already kept."""
    exists = await conn.fetchval(
        "SELECT true FROM compliance_reports WHERE region_id = $1 AND month = $2", region_id, period.start)
    if exists:
        return False
    report = await compliance_report(conn, period=period, region_id=region_id)
    async with conn.transaction():
        stored = await conn.fetchval(
            "INSERT INTO compliance_reports (region_id, month, generated_by, body) VALUES ($1, $2, $3, $4::text::jsonb)"
            " ON CONFLICT (region_id, month) DO NOTHING RETURNING true",
            region_id, period.start, actor.id or actor.type, report.model_dump_json())
        if stored:
            await append(conn, LogRef.region(region_id), action="report.monthly_stored",
                         subject_type="compliance_report", subject_id=f"{region_id}:{period.label}",
                         payload={"region_id": region_id, "month": period.label,
                                  "facilities": len(report.facilities)}, actor=actor)
    return bool(stored)


async def stored_months(conn: asyncpg.Connection, region_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT month, generated_at, generated_by FROM compliance_reports WHERE region_id = $1 ORDER BY month DESC",
        region_id)


async def stored_report(conn: asyncpg.Connection, region_id: int, month: date) -> ComplianceReport:
    body = await conn.fetchval(
        "SELECT body FROM compliance_reports WHERE region_id = $1 AND month = $2", region_id, month)
    if body is None:
        raise NotFound(f"no stored report for {month:%Y-%m}", code="report_not_found", field="month")
    return ComplianceReport.model_validate(body if isinstance(body, dict) else json.loads(body))


async def produce_monthly_reports(pool: asyncpg.Pool, settings: Settings) -> None:
    """Scheduled job: last month's report for every region that has none yet."""
    now = datetime.now(UTC)
    # Last month as WIB counts it: from 00:00 WIB on the 1st the month is over everywhere. (Taken from the UTC
    # date, the month that had just ended waited until 07:00 WIB for its report.)
    period = previous_month((now + timedelta(hours=_LAST_ZONE_OFFSET_H)).date())
    if not month_finished_everywhere(period, now):
        period = previous_month(period.start)
    async with pool.acquire() as conn:
        regions = await conn.fetch(
            "SELECT r.id FROM regions r WHERE NOT EXISTS (SELECT 1 FROM compliance_reports c"
            " WHERE c.region_id = r.id AND c.month = $1) ORDER BY r.id", period.start)
        for r in regions:
            if await store_monthly_report(conn, r["id"], period, actor=Actor.system("monthly_compliance_report")):
                log.info("monthly compliance report stored", region_id=r["id"], month=period.label)
