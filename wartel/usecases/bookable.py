"""What the booking page offers: only slots the booking rules will accept, and why the others are not.

The rules themselves live in :mod:`schedules.booking` (checked again, in the database's transaction, when
the officer books); this reads the same policy values to say beforehand what would be refused: closed,
a closure and its name (a holiday), the lead time, the booking window, a booth out of service, taken.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from schedules.availability import Facility, free_slots
from schedules.policy import resolve_policy


async def bookable_day(conn: asyncpg.Connection, facility: Facility, day: date, *, risk_level: str,
                       now: datetime | None = None) -> dict[str, Any]:
    """``{booths, reason, closure, earliest, last_day, lead_minutes}`` for the family allowance on ``day``.

    Each slot gets a ``state``: free, or why not (past, lead_time, window, closed, out_of_service, taken);
    ``reason`` says why nothing can be booked that day (closed, closure, window), ``closure`` names a
    closure covering the day's slots, ``earliest`` is the first moment the lead time allows.
    """
    now = now or datetime.now(UTC)
    settings = (await resolve_policy(conn, facility.id, risk_level, "family")).settings  # type: ignore[arg-type]
    lead = timedelta(minutes=settings.min_lead_minutes)
    today = now.astimezone(facility.zone).date()
    last_day = today + timedelta(days=settings.max_days_ahead)
    booths = await free_slots(conn, facility, day, now=now)
    beyond = day > last_day
    for booth in booths:
        for slot in booth["slots"]:
            if slot["state"] != "free":
                continue
            if beyond:
                slot["state"] = "window"
            elif slot["starts_at"] < now + lead:
                slot["state"] = "lead_time"
    day_start = datetime.combine(day, datetime.min.time(), facility.zone)
    closure = await conn.fetchval(
        "SELECT reason FROM closures WHERE facility_id = $1 AND during && tstzrange($2, $3, '[)')"
        " ORDER BY lower(during) LIMIT 1", facility.id, day_start, day_start + timedelta(days=1))
    any_slots = any(b["slots"] for b in booths)
    reason = None
    if beyond:
        reason = "window"
    elif not any_slots:
        reason = "closed"
    elif closure and all(s["state"] in ("closed", "past") for b in booths for s in b["slots"]):
        reason = "closure"
    return {"booths": booths, "reason": reason, "closure": closure, "earliest": now + lead,
            "last_day": last_day, "lead_minutes": settings.min_lead_minutes}
