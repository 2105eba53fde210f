"""The supervised call lifecycle over HTTP (domain: ``schedules.calls``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from schedules import calls as domain
from wartel.api.bookings import BookingOut, BookingPath
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel
from wartel.scope import Act, roles

routes = EndpointTable()
TAGS = ["calls"]
SUPERVISORS = roles(Act.BOOK)


class CallOut(OutModel):
    call_id: int
    facility_id: int
    booking_id: int | None
    booth_id: int
    inmate_id: int | None
    contact_id: int | None
    started_at: datetime
    limit_at: datetime | None = Field(description="The call is ended as time_limited at this moment.")
    answered: bool
    ended_at: datetime | None
    outcome: str | None
    supervised_by: int | None
    ended_by: int | None
    cut_off_reason: str | None
    source: Literal["officer", "kiosk"]


class EndCallIn(ApiModel):
    outcome: Literal["completed", "time_limited", "cut_off", "technical_failure", "not_answered"]
    reason: str | None = Field(default=None, max_length=500, description="Required for cut_off.")


@routes.post("/api/v1/bookings/{booking_id}/check-in", summary="The inmate is at the booth (booked → checked_in)",
             tags=TAGS, roles=SUPERVISORS, path_params=BookingPath, response=BookingOut, errors=(404, 409))
async def check_in(req: web.Request, ctx: Ctx) -> BookingOut:
    scope = ctx.scope.facility_ids
    row = await domain.check_in(ctx.db, ctx.path.booking_id, facility_ids=scope, user_id=ctx.user.user_id,
                                actor=ctx.actor)
    return BookingOut(**row)


@routes.post("/api/v1/bookings/{booking_id}/start-call",
             summary="Start the call under your supervision (checked_in → in_call)", tags=TAGS, roles=SUPERVISORS,
             path_params=BookingPath, response=CallOut, status=201, idempotent=True, errors=(404, 409),
             description="Creates the call with you as supervising officer. It must end by start + the booking's "
                         "minutes and never past the slot; the overdue-call job ends it as time_limited.")
async def start_call(req: web.Request, ctx: Ctx) -> CallOut:
    scope = ctx.scope.facility_ids
    call = await domain.start_call(ctx.db, ctx.path.booking_id, facility_ids=scope, supervisor_id=ctx.user.user_id,
                                   actor=ctx.actor)
    return CallOut(**call)


@routes.post("/api/v1/bookings/{booking_id}/end-call", summary="End the live call with its outcome", tags=TAGS,
             roles=SUPERVISORS, path_params=BookingPath, body=EndCallIn, response=BookingOut,
             errors=(404, 409, 422),
             description="completed, time_limited and cut_off (reason required) consume the call; "
                         "technical_failure and not_answered give it back. Other transitions: 409 invalid_transition.")
async def end_call(req: web.Request, ctx: Ctx) -> BookingOut:
    scope = ctx.scope.facility_ids
    row = await domain.end_call(ctx.db, ctx.path.booking_id, facility_ids=scope, outcome=ctx.body.outcome,
                                reason=ctx.body.reason, user_id=ctx.user.user_id, actor=ctx.actor)
    return BookingOut(**row)
