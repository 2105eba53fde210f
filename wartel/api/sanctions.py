"""Sanctions restricting an inmate's family calls for a time (domain: ``schedules.sanctions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from wartel.http.bounds import Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel
from wartel.scope import Act, roles
from wartel.usecases import sanctions as usecase

routes = EndpointTable()
TAGS = ["sanctions"]
IMPOSERS = roles(Act.SANCTION)


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


@routes.post("/api/v1/sanctions", summary="Suspend or reduce an inmate's family calls for a time", tags=TAGS,
             roles=IMPOSERS, body=SanctionIn, response=SanctionCreated, status=201, idempotent=True,
             errors=(404, 422),
             description="A suspension cancels the inmate's family bookings in its window and gives their "
                         "charges back. Legal-counsel calls are never restricted.")
async def impose_sanction(req: web.Request, ctx: Ctx) -> SanctionCreated:
    b = ctx.body
    row = await usecase.impose_sanction(ctx.db, ctx.scope, inmate_id=b.inmate_id, kind=b.kind, starts_at=b.starts_at,
                                        ends_at=b.ends_at, reason=b.reason, calls_allowed=b.calls_allowed,
                                        max_minutes=b.max_minutes, actor=ctx.actor)
    return SanctionCreated(**row)


@routes.post("/api/v1/sanctions/{sanction_id}/lift", summary="End a sanction early, with a reason", tags=TAGS,
             roles=IMPOSERS, path_params=SanctionPath, body=LiftIn, response=SanctionOut, errors=(404, 409))
async def lift_sanction(req: web.Request, ctx: Ctx) -> SanctionOut:
    row = await usecase.lift_sanction(ctx.db, ctx.scope, ctx.path.sanction_id, reason=ctx.body.reason,
                                      actor=ctx.actor)
    return SanctionOut(**row)


@routes.get("/api/v1/inmates/{inmate_id}/sanctions", summary="An inmate's sanctions, newest first", tags=TAGS,
            path_params=InmatePath, response=SanctionList, errors=(404,))
async def list_sanctions(req: web.Request, ctx: Ctx) -> SanctionList:
    rows = await usecase.list_sanctions(ctx.db, ctx.scope, ctx.path.inmate_id)
    return SanctionList(items=[SanctionOut(**r) for r in rows])
