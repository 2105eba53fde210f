"""The live board of a facility: calls in progress and the next bookings per booth.

Every state change of a booking or call sends ``pg_notify('board_<facility_id>', ...)`` in its own
transaction, so listeners hear of it exactly when (and only if) it commits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from schedules.availability import load_facility


def board_channel(facility_id: int) -> str:
    return f"board_{int(facility_id)}"


async def notify_board(conn: asyncpg.Connection, facility_id: int, event: str, booking_id: int | None) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", board_channel(facility_id),
                       json.dumps({"event": event, "booking_id": booking_id}))


async def facility_board(conn: asyncpg.Connection, facility_id: int, *, now: datetime | None = None,
                         next_per_booth: int = 3) -> dict[str, Any]:
    """Snapshot of the board. Times are ISO 8601 UTC; the page shows them in ``time_zone``."""
    now = now or datetime.now(UTC)
    facility = await load_facility(conn, facility_id)
    live = await conn.fetch(
        """SELECT c.call_id, c.booking_id, c.booth_id, bo.name AS booth_name, c.inmate_id, i.full_name AS inmate_name,
                  i.registration_no, c.started_at, c.limit_at, c.answered, c.source, c.supervised_by,
                  u.full_name AS supervisor_name, b.allowance
             FROM calls c
             JOIN booths bo ON bo.facility_id = c.facility_id AND bo.booth_id = c.booth_id
             LEFT JOIN inmates i ON i.id = c.inmate_id
             LEFT JOIN users u ON u.id = c.supervised_by
             LEFT JOIN bookings b ON b.facility_id = c.facility_id AND b.booking_id = c.booking_id
            WHERE c.facility_id = $1 AND c.ended_at IS NULL
            ORDER BY c.booth_id""", facility_id)
    booths = await conn.fetch(
        "SELECT booth_id, name, kind, in_service FROM booths WHERE facility_id = $1 ORDER BY booth_id", facility_id)
    upcoming = await conn.fetch(
        """SELECT booth_id, booking_id, inmate_id, full_name AS inmate_name, registration_no, starts_at, ends_at,
                  status, allowance, max_minutes
             FROM (SELECT b.booth_id, b.booking_id, b.inmate_id, i.full_name, i.registration_no,
                          lower(b.slot) AS starts_at, upper(b.slot) AS ends_at, b.status, b.allowance, b.max_minutes,
                          row_number() OVER (PARTITION BY b.booth_id ORDER BY lower(b.slot)) AS n
                     FROM bookings b JOIN inmates i ON i.id = b.inmate_id
                    WHERE b.facility_id = $1 AND b.status IN ('booked', 'checked_in') AND upper(b.slot) > $2) x
            WHERE n <= $3 ORDER BY booth_id, starts_at""", facility_id, now, next_per_booth)
    calls = []
    for r in live:
        elapsed = max(int((now - r["started_at"]).total_seconds()), 0)
        remaining = max(int((r["limit_at"] - now).total_seconds()), 0) if r["limit_at"] else None
        calls.append({
            "call_id": r["call_id"], "booking_id": r["booking_id"], "booth_id": r["booth_id"],
            "booth_name": r["booth_name"], "inmate_id": r["inmate_id"], "inmate_name": r["inmate_name"],
            "registration_no": r["registration_no"], "allowance": r["allowance"],
            "started_at": r["started_at"], "limit_at": r["limit_at"], "elapsed_s": elapsed,
            "remaining_s": remaining, "answered": r["answered"], "source": r["source"],
            "supervisor": {"user_id": r["supervised_by"], "name": r["supervisor_name"]}
            if r["supervised_by"] else None})
    next_by_booth: dict[int, list[dict[str, Any]]] = {}
    for r in upcoming:
        next_by_booth.setdefault(r["booth_id"], []).append({
            "booking_id": r["booking_id"], "inmate_id": r["inmate_id"], "inmate_name": r["inmate_name"],
            "registration_no": r["registration_no"], "starts_at": r["starts_at"], "ends_at": r["ends_at"],
            "status": r["status"], "allowance": r["allowance"], "max_minutes": r["max_minutes"]})
    live_by_booth = {c["booth_id"]: c["call_id"] for c in calls}
    return {
        "facility_id": facility_id, "time_zone": facility.time_zone, "generated_at": now,
        "calls": calls,
        "booths": [{"booth_id": b["booth_id"], "name": b["name"], "kind": b["kind"], "in_service": b["in_service"],
                    "live_call_id": live_by_booth.get(b["booth_id"]), "next": next_by_booth.get(b["booth_id"], [])}
                   for b in booths],
    }
