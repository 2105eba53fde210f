"""Link view: who else called or registered a number, or an inmate's numbers, as nodes and edges."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from wartel import keys
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles
from wartel.usecases import personal

routes = EndpointTable()

REVIEWERS = roles(Act.REVIEW)


class GraphOut(OutModel):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    legal_counsel: bool | None = None
    legal_counsel_excluded: bool | None = None
    facility_ids: list[int] | None = None
    inmates: int | None = None


class NumberIn(ApiModel):
    # In the body, not the URL: a number must not end up in access logs.
    number: str = Field(min_length=3, max_length=40)
    days: int = Field(default=180, ge=1, le=730)
    reason: str | None = Field(default=None, max_length=500, description="Why you look (kept in the access record).")


@routes.post("/api/v1/links/number", cost="heavy", summary="Who called or registered this number, across facilities",
             tags=["detection"], roles=REVIEWERS, body=NumberIn, response=GraphOut, write=False, errors=(422,))
async def number_graph(req: web.Request, ctx: Ctx) -> GraphOut:
    e164 = normalise_phone(ctx.body.number, field="number")
    return GraphOut(**await personal.number_graph(ctx.db, ctx.scope, ctx.actor, req.app[keys.SECRET_KEY], e164,
                                                  days=ctx.body.days, reason=ctx.body.reason))


class InmatePath(ApiModel):
    inmate_id: int


class DaysQuery(QueryModel):
    days: int = Field(default=180, ge=1, le=730)


@routes.get("/api/v1/links/inmates/{inmate_id}", cost="heavy", summary="An inmate's numbers and everyone else on them",
            tags=["detection"], roles=REVIEWERS, path_params=InmatePath, query=DaysQuery, response=GraphOut,
            errors=(404,))
async def inmate_graph(req: web.Request, ctx: Ctx) -> GraphOut:
    # Scoped lookup: an inmate elsewhere and one that does not exist answer alike (inmate_not_found).
    return GraphOut(**await personal.inmate_graph(ctx.db, ctx.scope, ctx.actor, req.app[keys.SECRET_KEY],
                                                  ctx.path.inmate_id, days=ctx.query.days))
