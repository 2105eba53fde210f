"""Regions (Kanwil): read by everyone in them, created by the national administrator."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel
from wartel.registry import regions
from wartel.scope import Act, roles

routes = EndpointTable()


class RegionIn(ApiModel):
    code: str = Field(pattern=r"^[A-Z0-9-]{2,20}$", description="e.g. SUMBAR")
    name: str = Field(min_length=1, max_length=200)


class RegionOut(OutModel):
    id: int
    code: str
    name: str
    created_at: datetime


class RegionPath(ApiModel):
    region_id: int


@routes.get("/api/v1/regions", summary="Regions you can see", tags=["registry"], response=list[RegionOut])
async def list_regions(req: web.Request, ctx: Ctx) -> list[RegionOut]:
    return [RegionOut.model_validate(dict(r)) for r in await regions.list_regions(ctx.db, ctx.user)]


@routes.post("/api/v1/regions", summary="Create a region", tags=["registry"], roles=roles(Act.ORGANISE), body=RegionIn,
             response=RegionOut, status=201, errors=(409,))
async def create_region(req: web.Request, ctx: Ctx) -> RegionOut:
    row = await regions.create_region(ctx.db, code=ctx.body.code, name=ctx.body.name, actor=ctx.actor)
    return RegionOut.model_validate(dict(row))


@routes.get("/api/v1/regions/{region_id}", summary="One region", tags=["registry"], path_params=RegionPath,
            response=RegionOut, errors=(404,))
async def get_region(req: web.Request, ctx: Ctx) -> RegionOut:
    return RegionOut.model_validate(dict(await regions.get_region(ctx.db, ctx.user, ctx.path.region_id)))
