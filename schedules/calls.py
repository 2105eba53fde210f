"""The supervised call lifecycle and its refund rules.

    booked ─► checked_in ─► in_call ─► completed | time_limited | cut_off | technical_failure | not_answered
      │            │
      ├─► no_show  └─► cancelled (facility or technical: refunded)
      └─► cancelled

Quota: completed, time_limited and cut_off consume the call; technical_failure, not_answered and facility
cancellations give it back; no_show follows the policy version the booking was made under. A dropped call
never costs the inmate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from audit.detection.watchlist import ensure_contact_not_blocked
from schedules.board import notify_board
from schedules.booking import BOOKING_COLUMNS, get_booking, refund_booking
from schedules.errors import Conflict, InmateSanctioned, InvalidTransition, Unprocessable
from schedules.policy import policy_version
from schedules.sanctions import restriction_at

EndOutcome = Literal["completed", "time_limited", "cut_off", "technical_failure", "not_answered"]
END_OUTCOMES: tuple[str, ...] = ("completed", "time_limited", "cut_off", "technical_failure", "not_answered")
CONSUMING_OUTCOMES = frozenset({"completed", "time_limited", "cut_off"})
REFUNDED_OUTCOMES = frozenset({"technical_failure", "not_answered"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"checked_in", "no_show", "cancelled"}),
    "checked_in": frozenset({"in_call", "cancelled"}),
    "in_call": frozenset(END_OUTCOMES),
}
# An inmate may be brought to the booth this long before the slot.
CHECK_IN_EARLY = timedelta(minutes=30)

CALL_COLUMNS = """facility_id, call_id, booking_id, booth_id, inmate_id, contact_id, started_at, answered,
    ended_at, outcome, supervised_by, ended_by, cut_off_reason, source, limit_at"""


def _require(booking: dict[str, Any], target: str) -> None:
    if target not in TRANSITIONS.get(booking["status"], frozenset()):
        raise InvalidTransition(f"a booking that is {booking['status']} cannot become {target}",
                                booking_status=booking["status"], target=target)


async def _set_status(conn: asyncpg.Connection, booking: dict[str, Any], status: str, **columns: Any) -> dict[str, Any]:
    names = ["status", *columns]
    values = [status, *columns.values()]
    assignments = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"""UPDATE bookings SET {assignments}, updated_at = now() WHERE facility_id = $1 AND booking_id = $2
            RETURNING {BOOKING_COLUMNS}""",  # noqa: S608 - column names are from this module, values are $n
        booking["facility_id"], booking["booking_id"], *values)
    return dict(row)


async def _audit(conn: asyncpg.Connection, booking: dict[str, Any], action: str, actor: Actor,
                 **payload: Any) -> None:
    await append(conn, LogRef.facility(booking["facility_id"]), action=action, subject_type="booking",
                 subject_id=booking["booking_id"], actor=actor,
                 payload={"booking_id": booking["booking_id"], "inmate_id": booking["inmate_id"],
                          "booth_id": booking["booth_id"], "from": booking["status"], **payload})
    await notify_board(conn, booking["facility_id"], action, booking["booking_id"])


async def check_in(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None, user_id: int,
                   actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """The inmate is at the booth: from 30 minutes before the slot until it ends."""
    now = now or datetime.now(UTC)
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids, lock=True)
    _require(booking, "checked_in")
    if now < booking["starts_at"] - CHECK_IN_EARLY:
        raise Conflict("too early to check in for this slot", code="check_in_too_early",
                       starts_at=booking["starts_at"].isoformat())
    if now >= booking["ends_at"]:
        raise Conflict("the slot has passed", code="slot_passed")
    if booking["allowance"] == "family" and (await restriction_at(conn, booking["inmate_id"], now)).suspended:
        raise InmateSanctioned("the inmate's calls are suspended by a sanction", field="booking_id")
    row = await _set_status(conn, booking, "checked_in", checked_in_by=user_id, checked_in_at=now)
    await _audit(conn, booking, "booking.checked_in", actor, to="checked_in")
    return row


async def start_call(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None,
                     supervisor_id: int, actor: Actor, source: Literal["officer", "kiosk"] = "officer",
                     dialled_e164: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The call starts under ``supervisor_id``. It must end by start + allowed minutes, and never past the
    slot: a late start does not extend it."""
    now = now or datetime.now(UTC)
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids, lock=True)
    _require(booking, "in_call")
    if now >= booking["ends_at"]:
        raise Conflict("the slot has passed", code="slot_passed")
    # A number blocked after the booking was made is never connected.
    await ensure_contact_not_blocked(conn, booking["contact_id"], booking["facility_id"])
    limit_at = min(now + timedelta(minutes=booking["max_minutes"]), booking["ends_at"])
    if dialled_e164 is None:
        dialled_e164 = await conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", booking["contact_id"])
    try:
        call = await conn.fetchrow(
            f"""INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, contact_id, dialled_e164, started_at,
                    answered, supervised_by, source, limit_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {CALL_COLUMNS}""",  # noqa: S608 - constant column list
            booking["facility_id"], booking_id, booking["booth_id"], booking["inmate_id"], booking["contact_id"],
            dialled_e164, now, source == "officer", supervisor_id, source, limit_at)
    except asyncpg.ExclusionViolationError as exc:
        if exc.constraint_name != "call_one_live_per_booth":
            raise
        raise Conflict("another call is still live in this booth", code="booth_busy", field="booking_id") from exc
    await _set_status(conn, booking, "in_call")
    await _audit(conn, booking, "call.started", actor, to="in_call", call_id=call["call_id"],
                 supervised_by=supervisor_id, source=source, limit_at=limit_at)
    return dict(call)


async def live_call(conn: asyncpg.Connection, facility_id: int, booking_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {CALL_COLUMNS} FROM calls WHERE facility_id = $1 AND booking_id = $2 AND ended_at IS NULL",  # noqa: S608 - constant column list
        facility_id, booking_id)
    return dict(row) if row else None


async def end_call(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None,
                   outcome: EndOutcome, reason: str | None, user_id: int | None, actor: Actor,
                   now: datetime | None = None) -> dict[str, Any]:
    """End the live call with its outcome; technical failure and no answer give the call back."""
    now = now or datetime.now(UTC)
    if outcome not in END_OUTCOMES:
        raise Unprocessable(f"unknown outcome {outcome}", code="invalid_outcome", field="outcome")
    if outcome == "cut_off" and not (reason or "").strip():
        raise Unprocessable("cutting a call off needs a reason", code="cut_off_reason_required", field="reason")
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids, lock=True)
    _require(booking, outcome)
    call = await live_call(conn, booking["facility_id"], booking_id)
    ended_at = max(now, call["started_at"]) if call else now
    if call is not None:
        await conn.execute(
            """UPDATE calls SET ended_at = $3, outcome = $4, ended_by = $5, cut_off_reason = $6,
                   answered = CASE WHEN $4 = 'not_answered' THEN false
                                   WHEN $4 IN ('completed', 'time_limited', 'cut_off') THEN true ELSE answered END
                WHERE facility_id = $1 AND call_id = $2""",
            booking["facility_id"], call["call_id"], ended_at, outcome, user_id,
            reason.strip() if outcome == "cut_off" and reason else None)
    refunded = await refund_booking(conn, booking) if outcome in REFUNDED_OUTCOMES else False
    row = await _set_status(conn, booking, outcome, ended_at=ended_at)
    await _audit(conn, booking, "call.ended", actor, to=outcome, call_id=call["call_id"] if call else None,
                 refunded=refunded, cut_off=outcome == "cut_off")
    return row


async def mark_no_show(conn: asyncpg.Connection, booking: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """The slot passed and the inmate never checked in: charged or refunded as the booking's policy says."""
    _require(booking, "no_show")
    policy = await policy_version(conn, booking["policy_id"], booking["policy_version"])
    refunded = False if policy.settings.no_show_consumes else await refund_booking(conn, booking)
    row = await _set_status(conn, booking, "no_show", ended_at=booking["ends_at"])
    await _audit(conn, booking, "booking.no_show", actor, to="no_show", refunded=refunded)
    return row
