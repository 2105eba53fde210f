"""Slot alignment has one home, the SQL function facility_slot: the day's grid is what it accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from schedules.availability import free_slots, load_facility
from tests.factory import Factory

DAY = date(2031, 3, 4)  # a Tuesday, chosen, not today


async def test_the_grid_lists_exactly_the_slots_facility_slot_accepts(owner_conn: asyncpg.Connection) -> None:
    factory = Factory(owner_conn)
    fid = await factory.facility(time_zone="Asia/Jayapura", slot_minutes=20, hours=False)
    await factory.booth(fid)
    # Two windows; the first does not end on a slot boundary (10:10), so its last 20 minutes hold no slot.
    await factory.opening_hours(fid, DAY.isoweekday(), time(8, 0), time(10, 10))
    await factory.opening_hours(fid, DAY.isoweekday(), time(13, 0), time(14, 0))
    facility = await load_facility(owner_conn, fid)
    zone = ZoneInfo("Asia/Jayapura")

    booths = await free_slots(owner_conn, facility, DAY, now=datetime(2031, 3, 1, tzinfo=UTC))

    starts = [s["starts_at"].astimezone(zone).time() for s in booths[0]["slots"]]
    assert starts == [
        time(8, 0),
        time(8, 20),
        time(8, 40),
        time(9, 0),
        time(9, 20),
        time(9, 40),
        time(13, 0),
        time(13, 20),
        time(13, 40),
    ]
    assert all(s["ends_at"] - s["starts_at"] == timedelta(minutes=20) for s in booths[0]["slots"])
    # Every five minutes of the day: the function accepts exactly the grid's starts.
    accepted = []
    for minute in range(0, 24 * 60, 5):
        at = datetime.combine(DAY, time(minute // 60, minute % 60), tzinfo=zone)
        if await owner_conn.fetchval("SELECT aligned FROM facility_slot($1, $2)", fid, at):
            accepted.append(at.time())
    assert accepted == starts
