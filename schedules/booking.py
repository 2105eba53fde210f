"""Booking a booth slot for an inmate and a verified contact; cancelling and rescheduling.

The two overlap rules (one booking per booth slot, one booking per inmate at a time) are the exclusion
constraints ``booking_booth_no_overlap`` and ``booking_inmate_no_overlap``; the quota is the ledger row's
CHECK. The Python checks before them exist to give a precise refusal, never to guard an invariant.
Every change appends its audit record and notifies the live board in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from audit.detection.watchlist import refuse_blocked
from schedules import quota
from schedules.availability import load_facility
from schedules.board import notify_board
from schedules.errors import (
    BoothKindNotCovered,
    BoothOutOfService,
    CancellationCutoffPassed,
    ContactBlocked,
    ContactNotVerified,
    FacilityClosed,
    InmateBusy,
    InmateNotActive,
    InmateSanctioned,
    InvalidTransition,
    NotFound,
    OutsideBookingWindow,
    OutsideOpeningHours,
    QuotaExhausted,
    SlotMisaligned,
    SlotTaken,
    Unprocessable,
)
from schedules.periods import local_day, period_of
from schedules.policy import PolicyVersion, policy_from_row, policy_version, sanctioned_limits

CancelReason = Literal["inmate", "family", "facility", "technical"]
# Cancellations the inmate's side did not cause are always refunded.
REFUNDED_CANCEL_REASONS = frozenset({"facility", "technical"})

BOOKING_COLUMNS = """facility_id, booking_id, booth_id, inmate_id, contact_id, lower(slot) AS starts_at,
    upper(slot) AS ends_at, status, allowance, period, period_start, policy_id, policy_version, max_minutes,
    charged, refunded, is_override, override_reason, booked_by, booked_at, checked_in_by, checked_in_at,
    cancelled_by, cancelled_at, cancel_reason, cancel_note, ended_at, updated_at"""


@dataclass(frozen=True)
class BookingRequest:
    facility_id: int
    booth_id: int
    inmate_id: int
    contact_id: int
    starts_at: datetime
    override_reason: str | None = None


@dataclass(frozen=True)
class _Terms:
    """What a booking will be made under: slot, policy, allowance and limits."""

    slot: tuple[datetime, datetime]
    policy: PolicyVersion
    allowance: str
    calls_allowed: int
    max_minutes: int
    period_start: Any


def _reason_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# One round trip locks what a booking depends on and gathers everything it is judged on (sql/0025: the lock
# order is written there and in docs/architecture.md); the checks then run in Python in a fixed order so each
# refusal is precise. The invariants themselves stay in the constraints of the insert below, and the rules
# the read applies (which policy, sanctions, slot alignment, watchlist) are the SQL functions of sql/0024.
_CONTEXT = "SELECT * FROM booking_context($1, $2, $3, $4, $5, $6)"


def _judge(ctx: asyncpg.Record | None, *, facility_id: int, booth_id: int, inmate_id: int, contact_id: int,
           starts_at: datetime, now: datetime, override: bool) -> _Terms:
    """Every booking rule except the ones the database enforces (overlaps, quota), in a fixed order."""
    if ctx is None:
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    if not ctx["booth_found"]:
        raise NotFound(f"booth {booth_id} not found", code="booth_not_found", field="booth_id")
    if not ctx["in_service"]:
        raise BoothOutOfService("this booth is out of service", field="booth_id")
    if ctx["current_facility_id"] != facility_id:
        raise NotFound(f"inmate {inmate_id} not found at this facility", code="inmate_not_found", field="inmate_id")
    if ctx["inmate_status"] != "active":
        raise InmateNotActive(f"the inmate is {ctx['inmate_status']}, not active here", field="inmate_id")
    if ctx["contact_inmate_id"] != inmate_id:
        raise NotFound(f"contact {contact_id} not found for this inmate", code="contact_not_found",
                       field="contact_id")
    if ctx["contact_status"] in ("rejected", "revoked"):
        raise ContactBlocked("this contact is blocked", field="contact_id")
    if ctx["contact_status"] != "verified":
        raise ContactNotVerified("this contact is not verified yet", field="contact_id")
    if ctx["opens"] is None:
        raise OutsideOpeningHours("the kiosk is not open at that time", field="starts_at")
    step = timedelta(minutes=ctx["slot_minutes"])
    if not ctx["aligned"]:
        raise SlotMisaligned(f"slots are {ctx['slot_minutes']} minutes from the opening time; pick a slot start",
                             field="starts_at")
    if ctx["closure_id"] is not None:
        raise FacilityClosed("the kiosk is closed then", field="starts_at", closure_id=ctx["closure_id"])
    if ctx["policy_id"] is None:
        raise NotFound(f"no call policy applies at facility {facility_id}", code="policy_not_found")
    policy = policy_from_row(ctx, risk_level_column="policy_risk_level")
    s = policy.settings
    if ctx["booth_kind"] not in s.booth_kinds:
        raise BoothKindNotCovered(f"the policy does not cover {ctx['booth_kind']} booths for this inmate",
                                  field="booth_id", booth_kinds=list(s.booth_kinds))
    if starts_at < now:
        raise OutsideBookingWindow("that slot has already started", field="starts_at")
    # An emergency override may skip the lead time, never the opening hours or the far end of the window.
    if not override and starts_at < now + timedelta(minutes=s.min_lead_minutes):
        raise OutsideBookingWindow(f"book at least {s.min_lead_minutes} minutes ahead", field="starts_at",
                                   min_lead_minutes=s.min_lead_minutes)
    if ctx["local_day"] > local_day(now, ctx["time_zone"]) + timedelta(days=s.max_days_ahead):
        raise OutsideBookingWindow(f"book at most {s.max_days_ahead} days ahead", field="starts_at",
                                   max_days_ahead=s.max_days_ahead)
    limits = [s.max_minutes, ctx["slot_minutes"], ctx["booth_max"], ctx["contact_max"]]
    suspended, calls_allowed, max_minutes = sanctioned_limits(
        policy.allowance, s.calls_allowed, min(m for m in limits if m is not None), suspended=ctx["suspended"],
        sanction_calls=ctx["sanction_calls"], sanction_minutes=ctx["sanction_minutes"])
    if suspended:
        raise InmateSanctioned("the inmate's calls are suspended by a sanction at that time",
                               field="inmate_id", sanction_ids=list(ctx["sanction_ids"]))
    # A number on the watchlist as blocked (facility, region or national) can never be booked, nor a
    # booking moved onto a new slot for it.
    refuse_blocked(ctx["blocked_entry_id"])
    if ctx["taken_by"] is not None:
        raise SlotTaken("this booth slot is already booked", field="starts_at")
    return _Terms(slot=(starts_at, starts_at + step), policy=policy, allowance=policy.allowance,
                  calls_allowed=calls_allowed, max_minutes=max_minutes,
                  period_start=period_of(starts_at, ctx["time_zone"], s.period))


async def _terms_for(conn: asyncpg.Connection, *, facility_id: int, booth_id: int, inmate_id: int,
                     contact_id: int, starts_at: datetime, now: datetime, override: bool,
                     moving: int | None = None) -> _Terms:
    ctx = await conn.fetchrow(_CONTEXT, facility_id, booth_id, inmate_id, contact_id, starts_at, moving)
    return _judge(ctx, facility_id=facility_id, booth_id=booth_id, inmate_id=inmate_id, contact_id=contact_id,
                  starts_at=starts_at, now=now, override=override)


def _overlap_error(exc: asyncpg.ExclusionViolationError) -> Exception:
    if exc.constraint_name == "booking_booth_no_overlap":
        return SlotTaken("this booth slot was just booked by someone else", field="starts_at")
    if exc.constraint_name == "booking_inmate_no_overlap":
        return InmateBusy("the inmate already has a booking at that time", field="inmate_id")
    return exc


# The booking row, its quota charge (or override count) and the board notification in one statement:
# the exclusion constraints refuse an overlap, the ledger's CHECK refuses an overdraw.
_INSERT_AND_CHARGE = f"""
WITH b AS (
    INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, allowance, period, period_start,
                          policy_id, policy_version, max_minutes, charged, is_override, override_reason, booked_by)
    VALUES ($1, $2, $3, $4, tstzrange($5, $6, '[)'), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    RETURNING {BOOKING_COLUMNS}
), q AS (
    -- Reading from b makes the booking row come first: the quota row lock is never held while waiting
    -- on another booking's overlap check, so a booking cannot deadlock with a cancellation.
    INSERT INTO quota_ledger AS q (inmate_id, allowance, period, period_start, allowed, used, overrides)
    SELECT b.inmate_id, b.allowance, b.period, b.period_start, $17, CASE WHEN $13 THEN 1 ELSE 0 END,
           CASE WHEN $13 THEN 0 ELSE 1 END
      FROM b
    ON CONFLICT (inmate_id, allowance, period, period_start) DO UPDATE
       SET used = q.used + EXCLUDED.used, overrides = q.overrides + EXCLUDED.overrides,
           allowed = CASE WHEN EXCLUDED.used > 0 THEN EXCLUDED.allowed ELSE q.allowed END, updated_at = now()
    RETURNING q.allowed, q.used
)
SELECT b.*, q.allowed AS quota_allowed, q.used AS quota_used,
       pg_notify('board_' || b.facility_id, json_build_object('event', 'booking.created',
                                                               'booking_id', b.booking_id)::text) AS notified
  FROM b, q
"""  # noqa: S608 - constant column list, values are $n parameters


async def book_call(conn: asyncpg.Connection, request: BookingRequest, *, user_id: int, actor: Actor,
                    now: datetime | None = None) -> dict[str, Any]:
    """Book a slot; raises a refusal with its code. Must run inside the caller's (short) transaction."""
    now = now or datetime.now(UTC)
    override = request.override_reason is not None
    reason = (request.override_reason or "").strip()
    if override and not reason:
        raise Unprocessable("an override needs a reason", code="override_reason_required", field="override_reason")
    terms = await _terms_for(conn, facility_id=request.facility_id, booth_id=request.booth_id,
                             inmate_id=request.inmate_id, contact_id=request.contact_id,
                             starts_at=request.starts_at, now=now, override=override)
    s = terms.policy.settings
    try:
        row = await conn.fetchrow(
            _INSERT_AND_CHARGE, request.facility_id, request.booth_id, request.inmate_id, request.contact_id,
            terms.slot[0], terms.slot[1], terms.allowance, s.period, terms.period_start, terms.policy.policy_id,
            terms.policy.version, terms.max_minutes, not override, override, reason or None, user_id,
            terms.calls_allowed)
    except asyncpg.ExclusionViolationError as exc:
        raise _overlap_error(exc) from exc
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name != "quota_ledger_within_allowance":
            raise
        raise QuotaExhausted(f"the {terms.allowance} calls of this {s.period} are used up "
                             f"({terms.calls_allowed} allowed)", allowed=terms.calls_allowed,
                             period_start=terms.period_start.isoformat()) from exc
    booking = dict(row)
    payload: dict[str, Any] = {
        "booking_id": booking["booking_id"], "booth_id": request.booth_id, "inmate_id": request.inmate_id,
        "contact_id": request.contact_id, "starts_at": terms.slot[0], "allowance": terms.allowance,
        "policy_id": terms.policy.policy_id, "policy_version": terms.policy.version,
        "period_start": terms.period_start, "quota_used": booking.pop("quota_used"),
        "quota_allowed": booking.pop("quota_allowed")}
    booking.pop("notified")
    if override:
        payload["override_reason_sha256"] = _reason_digest(reason)
    await append(conn, LogRef.facility(request.facility_id),
                 action="booking.override" if override else "booking.created", subject_type="booking",
                 subject_id=booking["booking_id"], payload=payload, actor=actor)
    return booking


async def get_booking(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None,
                      lock: bool = False) -> dict[str, Any]:
    """One booking, if within ``facility_ids`` (None: any). ``lock`` takes its row lock for a change."""
    row = await conn.fetchrow(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings WHERE booking_id = $1
              AND ($2::bigint[] IS NULL OR facility_id = ANY($2::bigint[])) {"FOR UPDATE" if lock else ""}""",  # noqa: S608 - constant column list, values are $n parameters
        booking_id, facility_ids)
    if row is None:
        raise NotFound(f"booking {booking_id} not found", code="booking_not_found", field="booking_id")
    return dict(row)


async def list_bookings(conn: asyncpg.Connection, *, facility_ids: list[int] | None, facility_id: int | None = None,
                        inmate_id: int | None = None, status: str | None = None, since: datetime | None = None,
                        until: datetime | None = None, after: tuple[datetime, int] | None = None,
                        limit: int = 50) -> list[dict[str, Any]]:
    """Bookings in slot order, keyset-paginated by (starts_at, booking_id)."""
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings
             WHERE ($1::bigint[] IS NULL OR facility_id = ANY($1::bigint[]))
               AND ($2::bigint IS NULL OR facility_id = $2) AND ($3::bigint IS NULL OR inmate_id = $3)
               AND ($4::text IS NULL OR status = $4) AND ($5::timestamptz IS NULL OR upper(slot) > $5)
               AND ($6::timestamptz IS NULL OR lower(slot) < $6)
               AND ($7::timestamptz IS NULL OR (lower(slot), booking_id) > ($7, $8::bigint))
             ORDER BY lower(slot), booking_id LIMIT $9""",  # noqa: S608 - constant column list, values are $n parameters
        facility_ids, facility_id, inmate_id, status, since, until, after[0] if after else None,
        after[1] if after else None, limit)
    return [dict(r) for r in rows]


async def refund_booking(conn: asyncpg.Connection, booking: dict[str, Any]) -> bool:
    """Give a charged booking's call back to its period. Returns whether anything was refunded."""
    if not booking["charged"]:
        return False
    await quota.refund(conn, inmate_id=booking["inmate_id"], allowance=booking["allowance"],
                       period=booking["period"], period_start=booking["period_start"])
    await conn.execute(
        "UPDATE bookings SET charged = false, refunded = true, updated_at = now() "
        "WHERE facility_id = $1 AND booking_id = $2", booking["facility_id"], booking["booking_id"])
    return True


async def _cancel(conn: asyncpg.Connection, booking: dict[str, Any], *, reason: str, note: str | None,
                  refund: bool, user_id: int | None, actor: Actor, action: str = "booking.cancelled",
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Cancel one locked booking. ``extra["cause"]``, when given, is also kept as the booking's
    ``cancel_cause`` (sql/0026), the key the pages and reports select by; the note stays words for people."""
    refunded = await refund_booking(conn, booking) if refund else False
    row = await conn.fetchrow(
        f"""UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancel_note = $4, cancelled_by = $5,
                cancel_cause = $6, cancelled_at = now(), updated_at = now()
            WHERE facility_id = $1 AND booking_id = $2 RETURNING {BOOKING_COLUMNS}""",  # noqa: S608 - constant column list, values are $n parameters
        booking["facility_id"], booking["booking_id"], reason, note, user_id, (extra or {}).get("cause"))
    await append(conn, LogRef.facility(booking["facility_id"]), action=action, subject_type="booking",
                 subject_id=booking["booking_id"], actor=actor,
                 payload={"booking_id": booking["booking_id"], "inmate_id": booking["inmate_id"],
                          "booth_id": booking["booth_id"], "reason": reason, "refunded": refunded,
                          "previous_status": booking["status"], **(extra or {})})
    await notify_board(conn, booking["facility_id"], "booking.cancelled", booking["booking_id"])
    return dict(row)


async def cancel_booking(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None,
                         reason: CancelReason, note: str | None, user_id: int, actor: Actor,
                         now: datetime | None = None) -> dict[str, Any]:
    """Cancel a booking that has not started.

    Facility and technical cancellations are always refunded. The inmate's or family's cancellation is
    refunded before the policy's cutoff; after it the slot is still freed but the call stays charged.
    """
    now = now or datetime.now(UTC)
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids, lock=True)
    if booking["status"] not in ("booked", "checked_in"):
        raise InvalidTransition(f"a booking that is {booking['status']} cannot be cancelled",
                                booking_status=booking["status"])
    policy = await policy_version(conn, booking["policy_id"], booking["policy_version"])
    before_cutoff = now <= booking["starts_at"] - timedelta(minutes=policy.settings.cancel_cutoff_minutes)
    refund = reason in REFUNDED_CANCEL_REASONS or before_cutoff
    return await _cancel(conn, booking, reason=reason, note=note, refund=refund, user_id=user_id, actor=actor,
                         extra={"before_cutoff": before_cutoff})


def _refuse_move(booking: dict[str, Any], policy: PolicyVersion, *, reason: str, now: datetime) -> None:
    if booking["status"] != "booked":
        raise InvalidTransition(f"a booking that is {booking['status']} cannot be rescheduled",
                                booking_status=booking["status"])
    cutoff = booking["starts_at"] - timedelta(minutes=policy.settings.cancel_cutoff_minutes)
    if reason not in REFUNDED_CANCEL_REASONS and now > cutoff:
        raise CancellationCutoffPassed("too late to move this booking; the cutoff has passed",
                                       cutoff=cutoff.isoformat())


async def reschedule_booking(conn: asyncpg.Connection, booking_id: int, *, facility_ids: list[int] | None,
                             starts_at: datetime, booth_id: int | None, reason: CancelReason, user_id: int,
                             actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """Move a booking to another slot (and booth) in one step: it keeps its id, policy version and charge.

    The move is refused after the cancellation cutoff unless the facility or a technical fault causes it;
    if the new slot lies in another quota period the charge moves with it (and may find that period full).
    """
    now = now or datetime.now(UTC)
    # Read without the row lock first: the lock order (sql/0025) puts the registry rows a booking depends on
    # before the booking row, which a registry change locks last when it cancels. The booking row is locked
    # after _terms_for and its state checked again then.
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids)
    policy = await policy_version(conn, booking["policy_id"], booking["policy_version"])
    _refuse_move(booking, policy, reason=reason, now=now)
    facility = await load_facility(conn, booking["facility_id"])
    new_booth_id = booth_id or booking["booth_id"]
    terms = await _terms_for(conn, facility_id=facility.id, booth_id=new_booth_id, inmate_id=booking["inmate_id"],
                             contact_id=booking["contact_id"], starts_at=starts_at, now=now,
                             override=booking["is_override"], moving=booking_id)
    booking = await get_booking(conn, booking_id, facility_ids=facility_ids, lock=True)
    _refuse_move(booking, policy, reason=reason, now=now)  # again, on the locked row
    new_period_start = period_of(terms.slot[0], facility.time_zone, booking["period"])  # type: ignore[arg-type]
    try:
        row = await conn.fetchrow(
            f"""UPDATE bookings SET booth_id = $3, slot = tstzrange($4, $5, '[)'), period_start = $6,
                    max_minutes = LEAST(max_minutes, $7), updated_at = now()
                WHERE facility_id = $1 AND booking_id = $2 RETURNING {BOOKING_COLUMNS}""",  # noqa: S608 - constant column list, values are $n parameters
            facility.id, booking_id, new_booth_id, terms.slot[0], terms.slot[1], new_period_start,
            terms.max_minutes)
    except asyncpg.ExclusionViolationError as exc:
        raise _overlap_error(exc) from exc
    if booking["charged"] and new_period_start != booking["period_start"]:
        await quota.refund(conn, inmate_id=booking["inmate_id"], allowance=booking["allowance"],
                           period=booking["period"], period_start=booking["period_start"])
        await quota.charge(conn, inmate_id=booking["inmate_id"], allowance=booking["allowance"],
                           period=booking["period"], period_start=new_period_start, allowed=terms.calls_allowed)
    await append(conn, LogRef.facility(facility.id), action="booking.rescheduled", subject_type="booking",
                 subject_id=booking_id, actor=actor,
                 payload={"booking_id": booking_id, "inmate_id": booking["inmate_id"], "reason": reason,
                          "from_booth_id": booking["booth_id"], "from_starts_at": booking["starts_at"],
                          "to_booth_id": new_booth_id, "to_starts_at": terms.slot[0]})
    await notify_board(conn, facility.id, "booking.rescheduled", booking_id)
    return dict(row)


async def cancel_for_facility_event(conn: asyncpg.Connection, facility_id: int, *, booth_id: int | None = None,
                                    during: tuple[datetime, datetime] | None = None, note: str,
                                    actor: Actor, user_id: int | None = None,
                                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Cancel (reason ``facility``, refunded) the bookings a booth outage or a closure makes impossible.

    ``booth_id``: every future booking of that booth; ``during``: every booking overlapping that time
    (both: the booth's bookings in that time). Calls already in progress are left to the supervising
    officer. Returns the affected bookings, so officers can tell the inmates and families.
    """
    if booth_id is None and during is None:
        raise ValueError("name a booth or a time range")
    now = now or datetime.now(UTC)
    # Inmate order keeps the quota-row locks in one order across concurrent cancellations.
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings
             WHERE facility_id = $1 AND status IN ('booked', 'checked_in') AND upper(slot) > $2
               AND ($3::bigint IS NULL OR booth_id = $3)
               AND ($4::timestamptz IS NULL OR slot && tstzrange($4, $5, '[)'))
             ORDER BY inmate_id, booking_id FOR UPDATE""",  # noqa: S608 - constant column list, values are $n parameters
        facility_id, now, booth_id, during[0] if during else None, during[1] if during else None)
    affected = []
    for booking in rows:
        await _cancel(conn, dict(booking), reason="facility",
                      note=note, refund=True, user_id=user_id, actor=actor,
                      extra={"cause": "booth_out_of_service" if during is None else "closure"})
        affected.append(_affected(booking))
    return affected


async def cancel_bookings_for_sanction(conn: asyncpg.Connection, *, facility_id: int, inmate_id: int,
                                       starts_at: datetime, ends_at: datetime, sanction_id: int,
                                       actor: Actor) -> list[int]:
    """A suspension cancels the inmate's family bookings in its window; the charge is given back."""
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings
             WHERE inmate_id = $1 AND facility_id = $2 AND status = 'booked' AND allowance = 'family'
               AND slot && tstzrange($3, $4, '[)') ORDER BY booking_id FOR UPDATE""",  # noqa: S608 - constant column list, values are $n parameters
        inmate_id, facility_id, starts_at, ends_at)
    for booking in rows:
        await _cancel(conn, dict(booking), reason="inmate", note=f"sanction {sanction_id}", refund=True,
                      user_id=None, actor=actor, extra={"cause": "sanction", "sanction_id": sanction_id})
    return [r["booking_id"] for r in rows]


_BOOKINGS_OF_BLOCKED_ENTRY = f"""
SELECT {BOOKING_COLUMNS} FROM bookings
 WHERE (facility_id, booking_id) IN (
        -- Contacts with the entry's number (or prefix), then only bookings at facilities the block covers.
        SELECT b.facility_id, b.booking_id FROM watchlist e
          JOIN contacts k ON watchlist_pattern_matches(e.pattern_kind, e.pattern, k.phone_e164)
          JOIN bookings b ON b.inmate_id = k.inmate_id AND b.contact_id = k.id
          JOIN facilities f ON f.id = b.facility_id
         CROSS JOIN LATERAL blocking_watchlist_entry(k.phone_e164, f.id, f.region_id) blocked
         WHERE e.id = $1 AND e.mode = 'blocked' AND e.removed_at IS NULL
           AND b.status IN ('booked', 'checked_in') AND upper(b.slot) > $2)
   -- Checked again on the locked row: a booking cancelled or started meanwhile is left alone.
   AND status IN ('booked', 'checked_in')
 ORDER BY inmate_id, booking_id
   FOR UPDATE
"""  # noqa: S608 - constant column list, values are $n parameters


# The cancel note a block leaves on the bookings it cancelled, for people; the pages find these bookings by
# their cancel_cause 'number_blocked' (sql/0026), never by this text.
BLOCK_CANCEL_NOTE = "number blocked"


async def cancel_bookings_to_blocked_number(conn: asyncpg.Connection, entry_id: int, *, actor: Actor,
                                            user_id: int | None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Watchlist entry ``entry_id`` just blocked a number or prefix: cancel the upcoming bookings to it, with
    the call given back (a watched entry cancels nothing).

    Such a booking could no longer be moved or connected, so leaving it would silently take the inmate's
    slot and call. Cancelled as the facility's doing (reason ``facility``, refunded) so the inmate can book
    another verified contact at once; calls already in progress stay with their supervising officer.
    Returns the affected bookings, so officers can tell the inmates.
    """
    now = now or datetime.now(UTC)
    rows = await conn.fetch(_BOOKINGS_OF_BLOCKED_ENTRY, entry_id, now)
    for booking in rows:
        await _cancel(conn, dict(booking), reason="facility", note=BLOCK_CANCEL_NOTE, refund=True, user_id=user_id,
                      actor=actor, extra={"cause": "number_blocked", "watchlist_entry_id": entry_id})
    return [_affected(r) for r in rows]


async def _cancel_where(conn: asyncpg.Connection, facility_id: int, *, inmate_id: int | None = None,
                        contact_id: int | None = None, reason: str, note: str, cause: str,
                        actor: Actor, now: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings
             WHERE facility_id = $1 AND status IN ('booked', 'checked_in') AND upper(slot) > $2
               AND ($3::bigint IS NULL OR inmate_id = $3) AND ($4::bigint IS NULL OR contact_id = $4)
             ORDER BY inmate_id, booking_id FOR UPDATE""",  # noqa: S608 - constant column list, values are $n parameters
        facility_id, now, inmate_id, contact_id)
    for booking in rows:
        await _cancel(conn, dict(booking), reason=reason, note=note, refund=True, user_id=None, actor=actor,
                      extra={"cause": cause})
    return [_affected(r) for r in rows]


def _affected(booking: Any) -> dict[str, Any]:
    return {"booking_id": booking["booking_id"], "inmate_id": booking["inmate_id"], "booth_id": booking["booth_id"],
            "contact_id": booking["contact_id"], "starts_at": booking["starts_at"], "ends_at": booking["ends_at"]}


async def _cancel_outside_hours(conn: asyncpg.Connection, facility_id: int, *, actor: Actor,
                                now: datetime) -> list[dict[str, Any]]:
    # A booking survives new hours if its slot is still a slot: facility_slot (sql/0024) is the same rule
    # a new booking is judged by.
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings b WHERE facility_id = $1 AND status IN ('booked', 'checked_in')
              AND upper(slot) > $2
              AND NOT EXISTS (SELECT 1 FROM facility_slot(b.facility_id, lower(b.slot)) w
                               WHERE w.aligned AND w.ends_at = upper(b.slot))
            ORDER BY inmate_id, booking_id FOR UPDATE""",  # noqa: S608 - constant column list
        facility_id, now)
    for booking in rows:
        await _cancel(conn, dict(booking), reason="facility", note="opening hours changed", refund=True,
                      user_id=None, actor=actor, extra={"cause": "hours_changed"})
    return [_affected(r) for r in rows]


async def on_facility_change(conn: asyncpg.Connection, change: Any, actor: Actor) -> list[dict[str, Any]]:
    """React to a registry change in its transaction: cancel, and credit, the bookings it makes impossible.

    ``change`` is the registry's ``FacilityChange`` (kind, facility_id, booth_id, during, inmate_id,
    contact_id). Returns the affected bookings.
    """
    now = datetime.now(UTC)
    if change.kind == "booth_out_of_service":
        return await cancel_for_facility_event(conn, change.facility_id, booth_id=change.booth_id,
                                               note="booth out of service", actor=actor, now=now)
    if change.kind == "closure_added":
        return await cancel_for_facility_event(conn, change.facility_id, during=change.during,
                                               note="kiosk closed", actor=actor, now=now)
    if change.kind == "hours_changed":
        return await _cancel_outside_hours(conn, change.facility_id, actor=actor, now=now)
    if change.kind == "inmate_left":
        return await _cancel_where(conn, change.facility_id, inmate_id=change.inmate_id, reason="facility",
                                   note="inmate left the facility", cause="inmate_left", actor=actor, now=now)
    if change.kind == "contact_withdrawn":
        return await _cancel_where(conn, change.facility_id, contact_id=change.contact_id, reason="family",
                                   note="contact withdrawn", cause="contact_withdrawn", actor=actor, now=now)
    return []


async def cancelled_by_facility_in_this_transaction(conn: asyncpg.Connection, facility_id: int) -> list[dict[str, Any]]:
    """Bookings the current transaction cancelled for a facility-side reason (``now()`` is the
    transaction's start), so a registry endpoint can list the inmates officers must tell."""
    rows = await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM bookings WHERE facility_id = $1 AND status = 'cancelled'
              AND cancelled_at = now() AND cancel_reason IN ('facility', 'family') ORDER BY lower(slot), booking_id""",  # noqa: S608 - constant column list
        facility_id)
    return [_affected(r) for r in rows]
