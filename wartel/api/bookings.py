"""Availability, booking, cancelling and rescheduling booth slots (domain: ``schedules.booking``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field

from schedules import booking as domain
from schedules.availability import free_slots, load_facility
from schedules.rights import inmate_rights
from wartel.errors import Unprocessable
from wartel.http.bounds import BoundedDate, Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, Cursor, OutModel, Page, QueryModel, decode_cursor, encode_cursor
from wartel.http.problems import register_constraint
from wartel.privacy.access import record_inmate_access
from wartel.scope import Act, roles

routes = EndpointTable()
TAGS = ["bookings"]
BOOKERS = roles(Act.BOOK)

# Backstops: the domain maps these itself; a path that forgets still answers precisely, never a 500.
register_constraint("booking_booth_no_overlap", "slot_taken", 409, "starts_at")
register_constraint("booking_inmate_no_overlap", "inmate_busy", 409, "inmate_id")
register_constraint("quota_ledger_within_allowance", "quota_exhausted", 409, None)
register_constraint("call_one_live_per_booth", "booth_busy", 409, "booking_id")

BookingStatus = Literal["booked", "checked_in", "in_call", "completed", "time_limited", "cut_off",
                        "technical_failure", "not_answered", "no_show", "cancelled"]
CancelReason = Literal["inmate", "family", "facility", "technical"]


class BookingOut(OutModel):
    booking_id: int
    facility_id: int
    booth_id: int
    inmate_id: int
    contact_id: int
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    allowance: Literal["family", "legal"]
    period: Literal["week", "month"]
    period_start: date
    policy_id: int | None
    policy_version: int | None
    max_minutes: int
    charged: bool = Field(description="Counts against the quota of its period now.")
    refunded: bool = Field(description="The charge was given back (failure, no answer, facility cancellation).")
    is_override: bool
    override_reason: str | None
    booked_by: int
    booked_at: datetime
    checked_in_by: int | None
    checked_in_at: datetime | None
    cancelled_by: int | None
    cancelled_at: datetime | None
    cancel_reason: CancelReason | None
    cancel_note: str | None
    ended_at: datetime | None


class AffectedBooking(OutModel):
    """A booking a facility-side change cancelled (and credited): tell this inmate and family."""

    booking_id: int
    inmate_id: int
    booth_id: int
    contact_id: int
    starts_at: datetime
    ends_at: datetime


class BookingIn(ApiModel):
    facility_id: int
    booth_id: int
    inmate_id: int
    contact_id: int
    starts_at: Timestamp = Field(description="Start of a free slot (ISO 8601 with offset).")
    override_reason: str | None = Field(
        default=None, min_length=1, max_length=500,
        description="Officer override beyond quota (e.g. a family emergency); recorded and audited.")


class BookingPath(ApiModel):
    booking_id: int


class CancelIn(ApiModel):
    reason: CancelReason
    note: str | None = Field(default=None, max_length=500)


class RescheduleIn(ApiModel):
    starts_at: Timestamp
    booth_id: int | None = None
    reason: CancelReason = "family"


class BookingQuery(QueryModel):
    facility_id: int | None = None
    inmate_id: int | None = None
    status: BookingStatus | None = None
    day: BoundedDate | None = Field(default=None, description="Facility-local day (needs facility_id).")
    cursor: Cursor = None
    limit: int = Field(default=50, ge=1, le=200)


class FacilityPath(ApiModel):
    facility_id: int


class AvailabilityQuery(QueryModel):
    day: BoundedDate
    booth_id: int | None = None


class SlotOut(OutModel):
    starts_at: datetime
    ends_at: datetime
    state: Literal["free", "taken", "closed", "out_of_service", "past"]


class BoothSlots(OutModel):
    booth_id: int
    name: str
    kind: Literal["phone", "video"]
    in_service: bool
    slots: list[SlotOut]


class AvailabilityOut(OutModel):
    facility_id: int
    day: date
    time_zone: str
    slot_minutes: int
    booths: list[BoothSlots]


class InmatePath(ApiModel):
    inmate_id: int


class AllowanceOut(OutModel):
    allowance: Literal["family", "legal"]
    policy_id: int
    policy_version: int
    period: Literal["week", "month"]
    period_start: date
    period_begins_at: datetime
    period_ends_at: datetime
    calls_allowed: int
    used: int
    remaining: int
    overrides: int
    max_minutes: int
    suspended: bool
    booth_kinds: list[str]


class RightsOut(OutModel):
    inmate_id: int
    facility_id: int
    status: str
    risk_level: str
    sanction_ids: list[int]
    allowances: list[AllowanceOut]


@routes.get("/api/v1/facilities/{facility_id}/availability", summary="Slots of one facility-local day per booth",
            tags=TAGS, path_params=FacilityPath, query=AvailabilityQuery, response=AvailabilityOut, errors=(404,))
async def availability(req: web.Request, ctx: Ctx) -> AvailabilityOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    facility = await load_facility(ctx.db, ctx.path.facility_id)
    booths = await free_slots(ctx.db, facility, ctx.query.day, booth_id=ctx.query.booth_id)
    return AvailabilityOut(facility_id=facility.id, day=ctx.query.day, time_zone=facility.time_zone,
                           slot_minutes=facility.slot_minutes, booths=[BoothSlots(**b) for b in booths])


@routes.post("/api/v1/bookings", summary="Book a booth slot for an inmate and a verified contact", tags=TAGS,
             roles=BOOKERS, body=BookingIn, response=BookingOut, status=201, idempotent=True,
             errors=(404, 409, 422),
             description="Refusals carry a stable `code`: 409 slot_taken, inmate_busy, quota_exhausted, "
                         "inmate_sanctioned, inmate_not_active, booth_out_of_service; 422 contact_not_verified, "
                         "contact_blocked, outside_opening_hours, facility_closed, slot_misaligned, "
                         "outside_booking_window, booth_kind_not_covered, override_reason_required. "
                         "Send an Idempotency-Key: a retry returns the first response and books nothing twice.")
async def create_booking(req: web.Request, ctx: Ctx) -> BookingOut:
    b = ctx.body
    await ctx.scope.require_facility(ctx.db, b.facility_id)
    row = await domain.book_call(
        ctx.db, domain.BookingRequest(facility_id=b.facility_id, booth_id=b.booth_id, inmate_id=b.inmate_id,
                                      contact_id=b.contact_id, starts_at=b.starts_at,
                                      override_reason=b.override_reason),
        user_id=ctx.user.user_id, actor=ctx.actor)
    return BookingOut(**row)


@routes.get("/api/v1/bookings", summary="Bookings in slot order (keyset pages)", tags=TAGS, query=BookingQuery,
            response=Page[BookingOut], errors=(404,))
async def list_bookings(req: web.Request, ctx: Ctx) -> Page[BookingOut]:
    q = ctx.query
    scope = ctx.scope.facility_ids
    since = until = None
    if q.day is not None:
        if q.facility_id is None:
            raise Unprocessable("a day needs its facility_id", code="facility_required", field="facility_id")
        await ctx.scope.require_facility(ctx.db, q.facility_id)
        zone = ZoneInfo((await load_facility(ctx.db, q.facility_id)).time_zone)
        since = datetime.combine(q.day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        until = since + timedelta(days=1)
    after = decode_cursor(q.cursor, (datetime, int))
    rows = await domain.list_bookings(
        ctx.db, facility_ids=scope, facility_id=q.facility_id, inmate_id=q.inmate_id, status=q.status,
        since=since, until=until, after=after,
        limit=q.limit + 1)
    items = [BookingOut(**r) for r in rows[: q.limit]]
    if q.inmate_id is not None and items:
        # One inmate's bookings and calls are their call history: a look at personal data (issue 21).
        await record_inmate_access(ctx.db, ctx.scope, ctx.actor, q.inmate_id, what="call_history",
                                   detail={"bookings": len(items)})
    cursor = encode_cursor(items[-1].starts_at, items[-1].booking_id) if len(rows) > q.limit else None
    return Page[BookingOut](items=items, next_cursor=cursor)


@routes.get("/api/v1/bookings/{booking_id}", summary="One booking", tags=TAGS, path_params=BookingPath,
            response=BookingOut, errors=(404,))
async def get_booking(req: web.Request, ctx: Ctx) -> BookingOut:
    scope = ctx.scope.facility_ids
    return BookingOut(**await domain.get_booking(ctx.db, ctx.path.booking_id, facility_ids=scope))


@routes.post("/api/v1/bookings/{booking_id}/cancel", summary="Cancel a booking (refund rules by reason and cutoff)",
             tags=TAGS, roles=BOOKERS, path_params=BookingPath, body=CancelIn, response=BookingOut,
             errors=(404, 409),
             description="facility and technical cancellations are always refunded; inmate and family "
                         "cancellations are refunded before the policy's cutoff, after it the call stays charged.")
async def cancel_booking(req: web.Request, ctx: Ctx) -> BookingOut:
    scope = ctx.scope.facility_ids
    row = await domain.cancel_booking(ctx.db, ctx.path.booking_id, facility_ids=scope, reason=ctx.body.reason,
                                      note=ctx.body.note, user_id=ctx.user.user_id, actor=ctx.actor)
    return BookingOut(**row)


@routes.post("/api/v1/bookings/{booking_id}/reschedule", summary="Move a booking to another slot in one step",
             tags=TAGS, roles=BOOKERS, path_params=BookingPath, body=RescheduleIn, response=BookingOut,
             errors=(404, 409, 422))
async def reschedule_booking(req: web.Request, ctx: Ctx) -> BookingOut:
    scope = ctx.scope.facility_ids
    row = await domain.reschedule_booking(ctx.db, ctx.path.booking_id, facility_ids=scope,
                                          starts_at=ctx.body.starts_at, booth_id=ctx.body.booth_id,
                                          reason=ctx.body.reason, user_id=ctx.user.user_id, actor=ctx.actor)
    return BookingOut(**row)


@routes.get("/api/v1/inmates/{inmate_id}/call-rights",
            summary="An inmate's call rights now: policy version, quota used and remaining, sanctions",
            tags=TAGS, path_params=InmatePath, response=RightsOut, errors=(404,))
async def call_rights(req: web.Request, ctx: Ctx) -> RightsOut:
    await ctx.scope.require_inmate(ctx.db, ctx.path.inmate_id)
    return RightsOut(**await inmate_rights(ctx.db, ctx.path.inmate_id))
