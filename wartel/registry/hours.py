"""Opening hours (several windows per ISO weekday) and closures, all in the facility's own time zone.

Closures are entered as local date-times and stored as ``tstzrange`` so that the booking area can
test a slot against them with one ``&&``; they are shown back in local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import asyncpg

from audit import Actor, LogRef, append
from wartel.errors import NotFound, Unprocessable
from wartel.registry.hooks import FacilityChange, notify


@dataclass(frozen=True)
class Window:
    weekday: int  # ISO: 1 = Monday
    opens: time
    closes: time


async def facility_zone(conn: asyncpg.Connection, facility_id: int) -> ZoneInfo:
    tz = await conn.fetchval("SELECT time_zone FROM facilities WHERE id = $1", facility_id)
    if tz is None:
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    return ZoneInfo(tz)


async def opening_hours(conn: asyncpg.Connection, facility_id: int) -> list[Window]:
    rows = await conn.fetch(
        "SELECT weekday, opens, closes FROM opening_hours WHERE facility_id = $1 ORDER BY weekday, opens",
        facility_id)
    return [Window(r["weekday"], r["opens"], r["closes"]) for r in rows]


def check_windows(windows: list[Window]) -> None:
    """Friendlier messages than the database's; the exclusion constraint still guards concurrent writers."""
    by_day: dict[int, list[Window]] = {}
    for i, w in enumerate(windows):
        if w.closes <= w.opens:
            raise Unprocessable(f"window {i}: closes must be after opens", code="window_order",
                                field=f"windows.{i}.closes")
        by_day.setdefault(w.weekday, []).append(w)
    for day, ws in by_day.items():
        ws.sort(key=lambda w: w.opens)
        for a, b in zip(ws, ws[1:], strict=False):
            if b.opens < a.closes:
                raise Unprocessable(f"weekday {day}: windows {a.opens:%H:%M}-{a.closes:%H:%M} and "
                                    f"{b.opens:%H:%M}-{b.closes:%H:%M} overlap", code="windows_overlap",
                                    field="windows")


async def replace_opening_hours(conn: asyncpg.Connection, facility_id: int, windows: list[Window], *,
                                actor: Actor) -> list[Window]:
    """Replace the whole week's windows at once (what an office does when it publishes new hours)."""
    check_windows(windows)
    async with conn.transaction():
        # Serialise concurrent replacements of the same facility's week, and (lock order, sql/0025) the
        # bookings being made meanwhile: they commit first and the hook cancels them, or they see the new hours.
        await conn.execute("SELECT 1 FROM facilities WHERE id = $1 FOR UPDATE", facility_id)
        await conn.execute("DELETE FROM opening_hours WHERE facility_id = $1", facility_id)
        await conn.executemany(
            "INSERT INTO opening_hours (facility_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)",
            [(facility_id, w.weekday, w.opens, w.closes) for w in windows])
        await append(conn, LogRef.facility(facility_id), action="hours.replaced", subject_type="facility",
                     subject_id=facility_id,
                     payload={"windows": [[w.weekday, w.opens.isoformat("minutes"), w.closes.isoformat("minutes")]
                                          for w in sorted(windows, key=lambda w: (w.weekday, w.opens))]},
                     actor=actor)
        await notify(conn, FacilityChange("hours_changed", facility_id), actor)
    return await opening_hours(conn, facility_id)




def to_utc(local: datetime, zone: ZoneInfo, field: str) -> datetime:
    """A local wall-clock time of the facility as UTC. Indonesia has no DST, so this is never ambiguous."""
    if local.tzinfo is not None:
        raise Unprocessable("give the facility's local time without an offset (e.g. 2026-08-17T00:00)",
                            code="local_time_expected", field=field)
    return local.replace(tzinfo=zone).astimezone(UTC)


async def list_closures(conn: asyncpg.Connection, facility_id: int, *, since: datetime | None = None,
                        until: datetime | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT facility_id, closure_id, lower(during) AS starts_at, upper(during) AS ends_at, kind, reason,"
        " created_by, created_at FROM closures WHERE facility_id = $1"
        " AND during && tstzrange($2, $3) ORDER BY lower(during), closure_id", facility_id, since, until)


async def add_closure(conn: asyncpg.Connection, facility_id: int, *, starts_local: datetime,
                      ends_local: datetime, kind: str, reason: str, created_by: int | None,
                      actor: Actor) -> asyncpg.Record:
    """Close the kiosk from ``starts_local`` to ``ends_local`` (facility time, end exclusive).

    Notifies :mod:`wartel.registry.hooks` in this transaction so bookings inside it can be cancelled.
    """
    zone = await facility_zone(conn, facility_id)
    starts = to_utc(starts_local, zone, "starts")
    ends = to_utc(ends_local, zone, "ends")
    if ends <= starts:
        raise Unprocessable("a closure must end after it starts", code="closure_order", field="ends")
    async with conn.transaction():
        # Lock order (sql/0025): the facility row first, so a booking being made into the closure either
        # commits before it (and is cancelled by the hook below) or waits and then sees the closure.
        await conn.execute("SELECT 1 FROM facilities WHERE id = $1 FOR UPDATE", facility_id)
        row = await conn.fetchrow(
            "INSERT INTO closures (facility_id, during, kind, reason, created_by)"
            " VALUES ($1, tstzrange($2, $3), $4, $5, $6)"
            " RETURNING facility_id, closure_id, lower(during) AS starts_at, upper(during) AS ends_at, kind,"
            " reason, created_by, created_at", facility_id, starts, ends, kind, reason, created_by)
        await append(conn, LogRef.facility(facility_id), action="closure.added", subject_type="closure",
                     subject_id=row["closure_id"],
                     payload={"kind": kind, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()},
                     actor=actor)
        await notify(conn, FacilityChange("closure_added", facility_id, during=(starts, ends)), actor)
    return row


async def remove_closure(conn: asyncpg.Connection, facility_id: int, closure_id: int, *, actor: Actor) -> None:
    """Lift a closure. Bookings cancelled because of it stay cancelled (they were credited)."""
    async with conn.transaction():
        gone = await conn.fetchval(
            "DELETE FROM closures WHERE facility_id = $1 AND closure_id = $2 RETURNING closure_id",
            facility_id, closure_id)
        if gone is None:
            raise NotFound(f"closure {closure_id} not found", code="closure_not_found", field="closure_id")
        await append(conn, LogRef.facility(facility_id), action="closure.removed", subject_type="closure",
                     subject_id=closure_id, actor=actor)
