"""Sanctions restricting an inmate's family calls for a time (domain: ``schedules.sanctions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from schedules import sanctions as domain
from wartel.auth.principal import require_facility, visible_facility_ids
from wartel.errors import NotFound
from wartel.http.bounds import Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel

routes = EndpointTable()
TAGS = ["sanctions"]
IMPOSERS = ("security", "admin")


class SanctionIn(ApiModel):
    inmate_id: int
    kind: Literal["suspend", "reduce"]
    starts_at: Timestamp
    ends_at: Timestamp
    reason: str = Field(min_length=1, max_length=1000)
    calls_allowed: int | None = Field(default=None, ge=0, le=100, description="reduce: calls per period.")
    max_minutes: int | None = Field(default=None, ge=1, le=120, description="reduce: longest call.")


class LiftIn(ApiModel):
    reason: str = Field(min_length=1, max_length=1000)


class SanctionOut(OutModel):
    sanction_id: int
    inmate_id: int
    imposed_at_facility_id: int
    kind: Literal["suspend", "reduce"]
    starts_at: datetime
    ends_at: datetime
    reason: str
    calls_allowed: int | None
    max_minutes: int | None
    created_by: int
    created_at: datetime
    lifted_at: datetime | None
    lifted_by: int | None
    lift_reason: str | None


class SanctionCreated(SanctionOut):
    cancelled_booking_ids: list[int] = Field(description="Family bookings the suspension cancelled (refunded).")


class SanctionList(OutModel):
    items: list[SanctionOut]


class SanctionPath(ApiModel):
    sanction_id: int


class InmatePath(ApiModel):
    inmate_id: int


async def _inmate_facility(ctx: Ctx, inmate_id: int) -> int:
    facility_id = await ctx.db.fetchval("SELECT current_facility_id FROM inmates WHERE id = $1", inmate_id)
    if facility_id is None:
        raise NotFound("inmate not found", code="inmate_not_found", field="inmate_id")
    try:
        await require_facility(ctx.db, ctx.user, facility_id)
    except NotFound as exc:
        raise NotFound("inmate not found", code="inmate_not_found", field="inmate_id") from exc
    return facility_id


@routes.post("/api/v1/sanctions", summary="Suspend or reduce an inmate's family calls for a time", tags=TAGS,
             roles=IMPOSERS, body=SanctionIn, response=SanctionCreated, status=201, idempotent=True,
             errors=(404, 422),
             description="A suspension cancels the inmate's family bookings in its window and gives their "
                         "charges back. Legal-counsel calls are never restricted.")
async def impose_sanction(req: web.Request, ctx: Ctx) -> SanctionCreated:
    b = ctx.body
    facility_id = await _inmate_facility(ctx, b.inmate_id)
    row = await domain.impose_sanction(ctx.db, inmate_id=b.inmate_id, facility_id=facility_id, kind=b.kind,
                                       starts_at=b.starts_at, ends_at=b.ends_at, reason=b.reason,
                                       calls_allowed=b.calls_allowed, max_minutes=b.max_minutes,
                                       user_id=ctx.user.user_id, actor=ctx.actor)
    return SanctionCreated(**row)


@routes.post("/api/v1/sanctions/{sanction_id}/lift", summary="End a sanction early, with a reason", tags=TAGS,
             roles=IMPOSERS, path_params=SanctionPath, body=LiftIn, response=SanctionOut, errors=(404, 409))
async def lift_sanction(req: web.Request, ctx: Ctx) -> SanctionOut:
    scope = await visible_facility_ids(ctx.db, ctx.user)
    row = await domain.lift_sanction(ctx.db, ctx.path.sanction_id, facility_ids=scope, reason=ctx.body.reason,
                                     user_id=ctx.user.user_id, actor=ctx.actor)
    return SanctionOut(**row)


@routes.get("/api/v1/inmates/{inmate_id}/sanctions", summary="An inmate's sanctions, newest first", tags=TAGS,
            path_params=InmatePath, response=SanctionList, errors=(404,))
async def list_sanctions(req: web.Request, ctx: Ctx) -> SanctionList:
    await _inmate_facility(ctx, ctx.path.inmate_id)
    return SanctionList(items=[SanctionOut(**r) for r in await domain.list_sanctions(ctx.db, ctx.path.inmate_id)])
