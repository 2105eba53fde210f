"""Free slots per facility, booth and day, from opening hours and closures in the facility's zone.

A slot starts at an opening time plus a whole number of slot lengths and ends inside the same opening
window (the rule a booking is judged by is the SQL function ``facility_slot``, sql/0024; this lists the
slots it accepts). Booth state and existing bookings decide whether it is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from schedules.errors import NotFound


@dataclass(frozen=True)
class Facility:
    id: int
    region_id: int
    time_zone: str
    slot_minutes: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


async def load_facility(conn: asyncpg.Connection, facility_id: int) -> Facility:
    row = await conn.fetchrow(
        "SELECT id, region_id, time_zone, slot_minutes FROM facilities WHERE id = $1", facility_id)
    if row is None:
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    return Facility(row["id"], row["region_id"], row["time_zone"], row["slot_minutes"])


# The day's slots: candidates every slot length from each opening time, kept when facility_slot (sql/0024),
# the rule a booking is judged by, accepts them, so the grid shown and the slots bookable cannot differ.
_DAY_SLOTS = """
SELECT g.starts_at, w.ends_at
  FROM facilities f
  JOIN opening_hours oh ON oh.facility_id = f.id AND oh.weekday = $3
 CROSS JOIN LATERAL generate_series(($2::date + oh.opens) AT TIME ZONE f.time_zone,
                                    ($2::date + oh.closes) AT TIME ZONE f.time_zone,
                                    make_interval(mins => f.slot_minutes)) AS g(starts_at)
 CROSS JOIN LATERAL facility_slot(f.id, g.starts_at) w
 WHERE f.id = $1 AND w.aligned
 ORDER BY g.starts_at
"""


async def free_slots(conn: asyncpg.Connection, facility: Facility, day: date, *, booth_id: int | None = None,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """Per booth, every slot of the local ``day`` with whether it can still be booked and why not."""
    now = now or datetime.now(UTC)
    booths = await conn.fetch(
        "SELECT booth_id, name, kind, in_service FROM booths WHERE facility_id = $1 "
        "AND ($2::bigint IS NULL OR booth_id = $2) ORDER BY booth_id", facility.id, booth_id)
    if booth_id is not None and not booths:
        raise NotFound(f"booth {booth_id} not found", code="booth_not_found", field="booth_id")
    slots = [(r["starts_at"], r["ends_at"])
             for r in await conn.fetch(_DAY_SLOTS, facility.id, day, day.isoweekday())]
    if not slots:
        return [{"booth_id": b["booth_id"], "name": b["name"], "kind": b["kind"], "in_service": b["in_service"],
                 "slots": []} for b in booths]
    day_start, day_end = slots[0][0], slots[-1][1]
    closures = await conn.fetch(
        "SELECT lower(during) AS s, upper(during) AS e FROM closures WHERE facility_id = $1 "
        "AND during && tstzrange($2, $3, '[)')", facility.id, day_start, day_end)
    taken = await conn.fetch(
        "SELECT booth_id, lower(slot) AS s, upper(slot) AS e FROM bookings WHERE facility_id = $1 "
        "AND status <> 'cancelled' AND slot && tstzrange($2, $3, '[)')", facility.id, day_start, day_end)
    by_booth: dict[int, list[tuple[datetime, datetime]]] = {}
    for t in taken:
        by_booth.setdefault(t["booth_id"], []).append((t["s"], t["e"]))
    out = []
    for b in booths:
        items = []
        for s, e in slots:
            if s < now:
                state = "past"
            elif any(c["s"] < e and s < c["e"] for c in closures):
                state = "closed"
            elif not b["in_service"]:
                state = "out_of_service"
            elif any(ts < e and s < te for ts, te in by_booth.get(b["booth_id"], ())):
                state = "taken"
            else:
                state = "free"
            items.append({"starts_at": s, "ends_at": e, "state": state})
        out.append({"booth_id": b["booth_id"], "name": b["name"], "kind": b["kind"], "in_service": b["in_service"],
                    "slots": items})
    return out
