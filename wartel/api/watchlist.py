"""The watchlist of numbers and prefixes (blocked or watched) for a facility, a region or the country."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from wartel.api.bookings import AffectedBooking
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.http.problems import register_constraint
from wartel.scope import Act, roles
from wartel.usecases import watchlist as usecase

routes = EndpointTable()

REVIEWERS = roles(Act.REVIEW)
BLOCKERS = roles(Act.BLOCK)
Scope = Literal["facility", "region", "national"]

register_constraint("watchlist_entry_once", "watchlist_entry_exists", 409, "pattern")


class EntryIn(ApiModel):
    pattern: str = Field(min_length=3, max_length=40, description="A number (any common form) or an E.164 prefix")
    pattern_kind: Literal["number", "prefix"] = "number"
    mode: Literal["blocked", "watched"]
    scope: Scope
    scope_id: int | None = Field(default=None, description="Facility or region id; omitted for national")
    reason: str = Field(min_length=1, max_length=500)


class EntryOut(OutModel):
    id: int
    scope: str
    scope_id: int
    pattern_kind: str
    pattern: str
    mode: str
    reason: str
    source_flag_id: int | None
    created_by: int | None
    created_at: datetime


class EntryAddedOut(EntryOut):
    cancelled_bookings: list[AffectedBooking] = Field(
        default_factory=list,
        description="Upcoming bookings to the number the block cancelled (and credited): tell these inmates.")


class EntriesQuery(QueryModel):
    mode: Literal["blocked", "watched"] | None = None
    limit: int = Field(default=200, ge=1, le=1000)


@routes.get("/api/v1/watchlist", summary="Watchlist entries that apply within your scope", tags=["detection"],
            roles=REVIEWERS, query=EntriesQuery, response=list[EntryOut])
async def list_entries(req: web.Request, ctx: Ctx) -> list[EntryOut]:
    rows = await usecase.entries_in_view(ctx.db, ctx.scope, mode=ctx.query.mode, limit=ctx.query.limit)
    return [EntryOut.model_validate(r) for r in rows]


@routes.post("/api/v1/watchlist", summary="Block or watch a number or prefix", tags=["detection"], roles=BLOCKERS,
             body=EntryIn, response=EntryAddedOut, status=201, idempotent=True, errors=(404, 409, 422),
             description="A blocked number cancels its upcoming bookings (reason facility, call given back); "
                         "they are listed in cancelled_bookings so officers can tell the inmates.")
async def add_entry(req: web.Request, ctx: Ctx) -> EntryAddedOut:
    b = ctx.body
    row, cancelled = await usecase.block_or_watch(
        ctx.db, ctx.scope, list_scope=b.scope, list_scope_id=b.scope_id, pattern_kind=b.pattern_kind,
        pattern=b.pattern, mode=b.mode, reason=b.reason, actor=ctx.actor)
    return EntryAddedOut.model_validate({**row, "cancelled_bookings": [AffectedBooking(**c) for c in cancelled]})


class EntryPath(ApiModel):
    entry_id: int


@routes.delete("/api/v1/watchlist/{entry_id}", summary="Remove a watchlist entry", tags=["detection"],
               roles=BLOCKERS, path_params=EntryPath, errors=(404,))
async def remove_entry(req: web.Request, ctx: Ctx) -> None:
    await usecase.remove_entry(ctx.db, ctx.scope, ctx.path.entry_id, actor=ctx.actor)
