"""Booth terminals: device tokens, and reconciling the call events they report with bookings.

A terminal (or the PBX behind it) reports dialled, connected and disconnected with the booking it belongs
to. Every event is stored in ``call_events``; one that does not match a live booking of that booth (no
booking, wrong booth, booking not live, a number other than the booked contact's) is refused and ALWAYS
recorded with its ``mismatch`` for detection, in a transaction of its own that commits before the refusal.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from schedules import calls
from schedules.board import notify_board
from schedules.errors import KioskMismatch, NotFound, ScheduleError

DEVICE_TOKEN_PREFIX = "wtd_"
EventKind = Literal["dialled", "connected", "disconnected"]
Mismatch = Literal["number_not_booked", "no_booking", "booking_not_live", "wrong_booth"]
# The refusal code a terminal sees for each mismatch.
MISMATCH_CODES: dict[str, str] = {
    "no_booking": "call_without_booking",
    "wrong_booth": "wrong_booth",
    "booking_not_live": "booking_not_live",
    "number_not_booked": "number_not_booked",
}


@dataclass(frozen=True)
class Device:
    device_id: int
    facility_id: int
    booth_id: int

    def actor(self, request_id: str | None = None) -> Actor:
        return Actor(type="device", id=f"{self.facility_id}:{self.device_id}", request_id=request_id)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_device(conn: asyncpg.Connection, facility_id: int, booth_id: int, *, name: str,
                        actor: Actor) -> tuple[int, str]:
    """Register a terminal for a booth. Returns (device_id, token); only the token's hash is stored."""
    exists = await conn.fetchval("SELECT true FROM booths WHERE facility_id = $1 AND booth_id = $2",
                                 facility_id, booth_id)
    if not exists:
        raise NotFound(f"booth {booth_id} not found", code="booth_not_found", field="booth_id")
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device_id = await conn.fetchval(
        "INSERT INTO devices (facility_id, booth_id, name, token_hash) VALUES ($1, $2, $3, $4) RETURNING device_id",
        facility_id, booth_id, name, _digest(token))
    await append(conn, LogRef.facility(facility_id), action="device.created", subject_type="device",
                 subject_id=device_id, actor=actor, payload={"device_id": device_id, "booth_id": booth_id})
    return device_id, token


async def revoke_device(conn: asyncpg.Connection, facility_id: int, device_id: int, *, actor: Actor) -> None:
    done = await conn.fetchval(
        "UPDATE devices SET revoked_at = now() WHERE facility_id = $1 AND device_id = $2 AND revoked_at IS NULL "
        "RETURNING true", facility_id, device_id)
    if not done:
        raise NotFound(f"device {device_id} not found", code="device_not_found", field="device_id")
    await append(conn, LogRef.facility(facility_id), action="device.revoked", subject_type="device",
                 subject_id=device_id, actor=actor, payload={"device_id": device_id})


async def list_devices(conn: asyncpg.Connection, facility_id: int, booth_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT device_id, facility_id, booth_id, name, created_at, revoked_at FROM devices "
        "WHERE facility_id = $1 AND booth_id = $2 ORDER BY device_id", facility_id, booth_id)
    return [dict(r) for r in rows]


async def device_from_token(conn: asyncpg.Connection, token: str) -> Device | None:
    """The terminal a bearer token belongs to, unless unknown or revoked."""
    if not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    row = await conn.fetchrow(
        "SELECT device_id, facility_id, booth_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL",
        _digest(token))
    return Device(row["device_id"], row["facility_id"], row["booth_id"]) if row else None


@dataclass(frozen=True)
class KioskOutcome:
    event_id: int
    accepted: bool
    mismatch: str | None
    booking_id: int | None
    call_id: int | None
    booking_status: str | None


async def _reconcile(conn: asyncpg.Connection, device: Device, kind: EventKind, booking_id: int | None,
                     dialled_e164: str | None, cause: str | None, actor: Actor,
                     now: datetime) -> tuple[str | None, int | None, str | None]:
    """Apply the event to its booking; returns (mismatch, call_id, booking status)."""
    if booking_id is None:
        return "no_booking", None, None
    row = await conn.fetchrow(
        "SELECT b.booth_id, b.status, c.phone_e164 FROM bookings b JOIN contacts c ON c.id = b.contact_id "
        "WHERE b.facility_id = $1 AND b.booking_id = $2 FOR UPDATE OF b", device.facility_id, booking_id)
    if row is None:
        return "no_booking", None, None
    if row["booth_id"] != device.booth_id:
        return "wrong_booth", None, row["status"]
    status = row["status"]
    live = await calls.live_call(conn, device.facility_id, booking_id)
    scope = [device.facility_id]
    if kind == "dialled":
        if status not in ("checked_in", "in_call"):
            return "booking_not_live", None, status
        if dialled_e164 != row["phone_e164"]:
            return "number_not_booked", live["call_id"] if live else None, status
        if status == "checked_in":
            supervisor = await conn.fetchval(
                "SELECT checked_in_by FROM bookings WHERE facility_id = $1 AND booking_id = $2",
                device.facility_id, booking_id)
            call = await calls.start_call(conn, booking_id, facility_ids=scope, supervisor_id=supervisor,
                                          actor=actor, source="kiosk", dialled_e164=dialled_e164, now=now)
            return None, call["call_id"], "in_call"
        await conn.execute("UPDATE calls SET dialled_e164 = $3 WHERE facility_id = $1 AND call_id = $2",
                           device.facility_id, live["call_id"], dialled_e164)  # type: ignore[index]
        return None, live["call_id"] if live else None, status
    if live is None:
        # A repeated disconnect of a call that already ended is a harmless retry, not a mismatch.
        if kind == "disconnected" and status in calls.END_OUTCOMES:
            return None, None, status
        return "booking_not_live", None, status
    if kind == "connected":
        await conn.execute("UPDATE calls SET answered = true WHERE facility_id = $1 AND call_id = $2",
                           device.facility_id, live["call_id"])
        await notify_board(conn, device.facility_id, "call.connected", booking_id)
        return None, live["call_id"], status
    answered = await conn.fetchval("SELECT answered FROM calls WHERE facility_id = $1 AND call_id = $2",
                                   device.facility_id, live["call_id"])
    if cause == "failure":
        outcome = "technical_failure"
    elif not answered:
        outcome = "not_answered"
    elif live["limit_at"] is not None and now >= live["limit_at"]:
        outcome = "time_limited"
    else:
        outcome = "completed"
    ended = await calls.end_call(conn, booking_id, facility_ids=scope, outcome=outcome, reason=None,  # type: ignore[arg-type]
                                 user_id=None, actor=actor, now=now)
    return None, live["call_id"], ended["status"]


async def report_event(conn: asyncpg.Connection, device: Device, *, kind: EventKind, booking_id: int | None,
                       dialled_e164: str | None = None, occurred_at: datetime | None = None,
                       cause: Literal["normal", "failure"] | None = None, request_id: str | None = None,
                       now: datetime | None = None) -> KioskOutcome:
    """Record a terminal's event and apply it; raise :class:`KioskMismatch` (after recording) if refused.

    Runs its own transaction (the connection must not be in one), so a refused event stays recorded.
    """
    now = now or datetime.now(UTC)
    actor = device.actor(request_id)
    async with conn.transaction():
        try:
            async with conn.transaction():  # a savepoint: a refused transition still leaves the event recorded
                mismatch, call_id, status = await _reconcile(conn, device, kind, booking_id, dialled_e164, cause,
                                                             actor, now)
        except ScheduleError:
            mismatch, call_id, status = "booking_not_live", None, None
        event_id = await conn.fetchval(
            """INSERT INTO call_events (facility_id, device_id, booth_id, booking_id, call_id, kind, dialled_e164,
                   occurred_at, accepted, mismatch, detail)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING event_id""",
            device.facility_id, device.device_id, device.booth_id, booking_id, call_id, kind, dialled_e164,
            occurred_at or now, mismatch is None, mismatch, cause)
        await append(conn, LogRef.facility(device.facility_id),
                     action="kiosk.mismatch" if mismatch else "kiosk.event", subject_type="call_event",
                     subject_id=event_id, actor=actor,
                     payload={"event_id": event_id, "kind": kind, "booking_id": booking_id, "call_id": call_id,
                              "booth_id": device.booth_id, "mismatch": mismatch})
    outcome = KioskOutcome(event_id, mismatch is None, mismatch, booking_id, call_id, status)
    if mismatch is not None:
        raise KioskMismatch(f"event refused and recorded: {mismatch}", code=MISMATCH_CODES[mismatch],
                            field="booking_id" if mismatch != "number_not_booked" else "dialled_number",
                            event_id=event_id, mismatch=mismatch)
    return outcome
