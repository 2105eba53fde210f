"""Inmates: create, update, transfer with history, release, search with keyset pagination, CSV import."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import Field, model_validator

from wartel.http.bounds import HistoryDate
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, Cursor, OutModel, Page, QueryModel, decode_cursor, encode_cursor
from wartel.http.problems import Problem
from wartel.registry import importer, inmates
from wartel.scope import Act, roles

routes = EndpointTable()

EVERYONE = roles(Act.READ)
REGISTRARS = roles(Act.REGISTER)
RiskLevel = Literal["low", "medium", "high"]


class InmateIn(ApiModel):
    registration_no: str = Field(pattern=r"^[A-Za-z0-9./-]{3,40}$")
    full_name: str = Field(min_length=1, max_length=200)
    facility_id: int
    admitted_on: HistoryDate
    block: str | None = Field(default=None, max_length=40)
    risk_level: RiskLevel | None = None


class InmatePatch(ApiModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    block: str | None = Field(default=None, max_length=40)
    risk_level: RiskLevel | None = None

    @model_validator(mode="after")
    def _something(self) -> InmatePatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        if "full_name" in self.model_fields_set and self.full_name is None:
            raise ValueError("full_name cannot be removed")
        if "risk_level" in self.model_fields_set and self.risk_level is None:
            raise ValueError("risk_level cannot be removed")
        return self


class TransferIn(ApiModel):
    to_facility_id: int
    reason: str | None = Field(default=None, max_length=500)


class ReleaseIn(ApiModel):
    released_on: HistoryDate


class InmateOut(OutModel):
    id: int
    registration_no: str
    full_name: str
    block: str | None
    risk_level: str
    status: str
    admitted_on: date
    released_on: date | None
    current_facility_id: int
    created_at: datetime
    updated_at: datetime


class TransferOut(OutModel):
    id: int
    inmate_id: int
    from_facility_id: int
    to_facility_id: int
    transferred_at: datetime
    reason: str | None
    created_by: int | None


class InmatePath(ApiModel):
    inmate_id: int


class InmatesQuery(QueryModel):
    facility_id: int | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100,
                          description="Part of the name, or the start of the registration number")
    status: Literal["active", "transferred", "released"] | None = None
    cursor: Cursor = None
    limit: int = Field(default=50, ge=1, le=200)


def _inmate(row: object) -> InmateOut:
    return InmateOut.model_validate(dict(row))  # type: ignore[call-overload]


@routes.get("/api/v1/inmates", summary="Search inmates in your scope (keyset pagination)", tags=["registry"],
            query=InmatesQuery, response=Page[InmateOut], errors=(404,))
async def search_inmates(req: web.Request, ctx: Ctx) -> Page[InmateOut]:
    qy = ctx.query
    after = decode_cursor(qy.cursor, (int,))
    rows = await inmates.search_inmates(ctx.db, ctx.user, facility_id=qy.facility_id, q=qy.q, status=qy.status,
                                        after_id=after[0] if after else None, limit=qy.limit + 1)
    items = [_inmate(r) for r in rows[:qy.limit]]
    more = len(rows) > qy.limit
    return Page[InmateOut](items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


@routes.post("/api/v1/inmates", summary="Register an inmate", tags=["registry"], roles=REGISTRARS, body=InmateIn,
             response=InmateOut, status=201, idempotent=True, errors=(404, 409))
async def create_inmate(req: web.Request, ctx: Ctx) -> InmateOut:
    return _inmate(await inmates.create_inmate(ctx.db, ctx.user, ctx.body.model_dump(), actor=ctx.actor))


@routes.post("/api/v1/inmates/import", cost="heavy", summary="Import inmates from a CSV export of the national database "
             "(all or nothing)", tags=["registry"], roles=REGISTRARS,
             request_content={"text/csv": {"schema": {"type": "string"}}}, response=None, status=201,
             response_content={"application/json": {"schema": {"type": "object", "properties": {
                 "imported": {"type": "integer"}, "inmate_ids": {"type": "array", "items": {"type": "integer"}},
                 "by_facility": {"type": "object", "additionalProperties": {"type": "integer"}}}}}},
             errors=(409, 413, 415, 422), description=importer.__doc__)
async def import_inmates(req: web.Request, ctx: Ctx) -> web.Response:
    if req.content_type != "text/csv":
        raise Problem(415, "unsupported_media_type", f"send text/csv, not {req.content_type or 'nothing'}",
                      field="Content-Type")
    data = await req.read()  # bounded by the application's client_max_size (WARTEL_MAX_UPLOAD_BYTES)
    result = await importer.import_inmates(ctx.db, ctx.user, data, actor=ctx.actor)
    return web.json_response({"imported": result.imported, "inmate_ids": result.inmate_ids,
                              "by_facility": result.by_facility}, status=201)


@routes.get("/api/v1/inmates/{inmate_id}", summary="One inmate", tags=["registry"], path_params=InmatePath,
            response=InmateOut, errors=(404,))
async def get_inmate(req: web.Request, ctx: Ctx) -> InmateOut:
    return _inmate(await inmates.get_inmate(ctx.db, ctx.user, ctx.path.inmate_id))


@routes.patch("/api/v1/inmates/{inmate_id}", summary="Change name, block or risk level", tags=["registry"],
              roles=REGISTRARS, path_params=InmatePath, body=InmatePatch, response=InmateOut, errors=(404,))
async def update_inmate(req: web.Request, ctx: Ctx) -> InmateOut:
    changes = ctx.body.model_dump(include=ctx.body.model_fields_set)
    return _inmate(await inmates.update_inmate(ctx.db, ctx.user, ctx.path.inmate_id, changes, actor=ctx.actor))


@routes.post("/api/v1/inmates/{inmate_id}/transfer", summary="Transfer to another facility (any region)",
             tags=["registry"], roles=REGISTRARS, path_params=InmatePath, body=TransferIn, response=InmateOut,
             errors=(404, 409))
async def transfer_inmate(req: web.Request, ctx: Ctx) -> InmateOut:
    return _inmate(await inmates.transfer_inmate(ctx.db, ctx.user, ctx.path.inmate_id,
                                                 to_facility_id=ctx.body.to_facility_id, reason=ctx.body.reason,
                                                 actor=ctx.actor))


@routes.post("/api/v1/inmates/{inmate_id}/release", summary="Record a release", tags=["registry"],
             roles=REGISTRARS, path_params=InmatePath, body=ReleaseIn, response=InmateOut, errors=(404, 409))
async def release_inmate(req: web.Request, ctx: Ctx) -> InmateOut:
    return _inmate(await inmates.release_inmate(ctx.db, ctx.user, ctx.path.inmate_id,
                                                released_on=ctx.body.released_on, actor=ctx.actor))


@routes.get("/api/v1/inmates/{inmate_id}/transfers", summary="Transfer history", tags=["registry"],
            path_params=InmatePath, response=list[TransferOut], errors=(404,))
async def transfer_history(req: web.Request, ctx: Ctx) -> list[TransferOut]:
    rows = await inmates.transfer_history(ctx.db, ctx.user, ctx.path.inmate_id)
    return [TransferOut.model_validate(dict(r)) for r in rows]
