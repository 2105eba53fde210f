"""Scheduled work of the call lifecycle. Each item is its own short transaction.

The service runs these through ``wartel.jobs`` (APScheduler, one run at a time across processes by an
advisory lock); the functions also hold row locks and re-check state, so even an overlapping run could
not apply a transition twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from audit import Actor
from schedules.booking import BOOKING_COLUMNS, _cancel
from schedules.calls import end_call, mark_no_show

NO_SHOW_JOB = "no_show_sweeper"
OVERDUE_JOB = "overdue_call_closer"
BATCH = 200


async def sweep_no_shows(conn: asyncpg.Connection, *, now: datetime | None = None, limit: int = BATCH) -> dict[str, int]:
    """Close bookings whose slot has passed without a call.

    Never checked in: ``no_show`` (charged or not as the booking's policy says). Checked in but never
    started: the facility did not put the call through, so it is cancelled as ``facility`` and refunded.
    """
    now = now or datetime.now(UTC)
    actor = Actor.system(NO_SHOW_JOB)
    counts = {"no_show": 0, "cancelled": 0}
    ids = await conn.fetch(
        "SELECT facility_id, booking_id FROM bookings WHERE status IN ('booked', 'checked_in') "
        "AND upper(slot) <= $1 ORDER BY lower(slot) LIMIT $2", now, limit)
    for key in ids:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE facility_id = $1 AND booking_id = $2 "  # noqa: S608 - constant column list
                "AND status IN ('booked', 'checked_in') AND upper(slot) <= $3 FOR UPDATE SKIP LOCKED",
                key["facility_id"], key["booking_id"], now)
            if row is None:
                continue
            booking = dict(row)
            if booking["status"] == "booked":
                await mark_no_show(conn, booking, actor=actor)
                counts["no_show"] += 1
            else:
                await _cancel(conn, booking, reason="facility", note="slot ended after check-in without a call",
                              refund=True, user_id=None, actor=actor, extra={"cause": "not_put_through"})
                counts["cancelled"] += 1
    return counts


async def close_overdue_calls(conn: asyncpg.Connection, *, now: datetime | None = None,
                              limit: int = BATCH) -> int:
    """End every live call past its limit as ``time_limited`` (it consumes the call, as a completed one)."""
    now = now or datetime.now(UTC)
    actor = Actor.system(OVERDUE_JOB)
    rows = await conn.fetch(
        "SELECT facility_id, booking_id FROM calls WHERE ended_at IS NULL AND limit_at <= $1 "
        "AND booking_id IS NOT NULL ORDER BY limit_at LIMIT $2", now, limit)
    closed = 0
    for r in rows:
        async with conn.transaction():
            status = await conn.fetchval(
                "SELECT status FROM bookings WHERE facility_id = $1 AND booking_id = $2 FOR UPDATE",
                r["facility_id"], r["booking_id"])
            if status != "in_call":
                continue
            await end_call(conn, r["booking_id"], facility_ids=[r["facility_id"]], outcome="time_limited",
                           reason=None, user_id=None, actor=actor, now=now)
            closed += 1
    return closed


async def no_show_job(pool: asyncpg.Pool, settings: Any) -> dict[str, int]:
    async with pool.acquire() as conn:
        return await sweep_no_shows(conn)


async def overdue_call_job(pool: asyncpg.Pool, settings: Any) -> int:
    async with pool.acquire() as conn:
        return await close_overdue_calls(conn)
