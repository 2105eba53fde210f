"""Bookings, calls, transfers and releases written straight into the tables, as the engines would leave them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import asyncpg


async def booking(conn: asyncpg.Connection, facility_id: int, booth_id: int, inmate_id: int, contact_id: int,
                  starts: datetime, *, minutes: int = 15, status: str = "completed", booked_by: int,
                  cancel_reason: str | None = None, is_override: bool = False) -> int:
    return await conn.fetchval(
        "INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start,"
        " max_minutes, booked_by, cancel_reason, is_override, override_reason)"
        " VALUES ($1, $2, $3, $4, tstzrange($5, $6), $7, $5::date, $8, $9, $10, $11,"
        " CASE WHEN $11 THEN 'keluarga sakit' END) RETURNING booking_id",
        facility_id, booth_id, inmate_id, contact_id, starts, starts + timedelta(minutes=minutes), status,
        minutes, booked_by, cancel_reason, is_override)


async def call(conn: asyncpg.Connection, facility_id: int, booth_id: int, inmate_id: int, contact_id: int,
               started: datetime, *, seconds: int = 600, outcome: str = "completed", booking_id: int | None = None,
               ended_by: int | None = None) -> int:
    return await conn.fetchval(
        "INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, contact_id, dialled_e164, started_at,"
        " ended_at, outcome, ended_by, cut_off_reason)"
        " VALUES ($1, $2, $3, $4, $5, '+6281234567', $6, $7, $8, $9, CASE WHEN $8 = 'cut_off' THEN 'bahasa kode' END)"
        " RETURNING call_id",
        facility_id, booking_id, booth_id, inmate_id, contact_id, started, started + timedelta(seconds=seconds),
        outcome, ended_by)


async def transfer(conn: asyncpg.Connection, inmate_id: int, to_facility_id: int, at: datetime) -> None:
    """Move an inmate at a given instant, as wartel.registry.inmates.transfer_inmate would (it stamps now())."""
    await conn.execute(
        "WITH moved AS (INSERT INTO inmate_transfers (inmate_id, from_facility_id, to_facility_id, transferred_at)"
        " SELECT id, current_facility_id, $2, $3 FROM inmates WHERE id = $1 RETURNING inmate_id)"
        " UPDATE inmates SET current_facility_id = $2 WHERE id = (SELECT inmate_id FROM moved)",
        inmate_id, to_facility_id, at)


async def release(conn: asyncpg.Connection, inmate_id: int, on: date) -> None:
    await conn.execute("UPDATE inmates SET status = 'released', released_on = $2 WHERE id = $1", inmate_id, on)
