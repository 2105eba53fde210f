"""The watchlist of numbers and prefixes (blocked or watched) for a facility, a region or the country."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from audit.detection import watchlist
from schedules.booking import cancel_bookings_to_blocked_number
from wartel.api.bookings import AffectedBooking
from wartel.auth.principal import Principal, facility_in_scope, region_in_scope
from wartel.errors import InvalidInput, NotFound
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.http.problems import register_constraint
from wartel.registry.phones import normalise_phone

routes = EndpointTable()

REVIEWERS = ("security", "regional", "admin")
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


async def cancel_bookings_blocked_by(ctx: Ctx, entry_id: int) -> list[AffectedBooking]:
    """In the request's transaction: the bookings a new block makes impossible, cancelled and credited."""
    rows = await cancel_bookings_to_blocked_number(ctx.db, entry_id, actor=ctx.actor, user_id=ctx.user.user_id)
    return [AffectedBooking(**r) for r in rows]


class EntriesQuery(QueryModel):
    mode: Literal["blocked", "watched"] | None = None
    limit: int = Field(default=200, ge=1, le=1000)


async def _may_manage(ctx: Ctx, scope: str, scope_id: int) -> bool:
    p: Principal = ctx.user
    if p.role == "admin":
        return True
    if scope == "national":
        return False
    if scope == "region":
        return region_in_scope(p, scope_id)
    return await facility_in_scope(ctx.db, p, scope_id)


_PREFIX = re.compile(r"^\+[1-9][0-9]{2,13}$")


def _pattern(body: EntryIn) -> str:
    if body.pattern_kind == "number":
        return normalise_phone(body.pattern, field="pattern")
    if not _PREFIX.fullmatch(body.pattern):
        raise InvalidInput("a prefix is + followed by 3 to 14 digits", code="invalid_prefix", field="pattern")
    return body.pattern


@routes.get("/api/v1/watchlist", summary="Watchlist entries that apply within your scope", tags=["detection"],
            roles=REVIEWERS, query=EntriesQuery, response=list[EntryOut])
async def list_entries(req: web.Request, ctx: Ctx) -> list[EntryOut]:
    p: Principal = ctx.user
    if p.role == "admin":
        facility_ids: list[int] | None = None
        region_id = None
    elif p.facility_id is not None:
        facility_ids = [p.facility_id]
        region_id = await ctx.db.fetchval("SELECT region_id FROM facilities WHERE id = $1", p.facility_id)
    else:
        region_id = p.region_id
        facility_ids = [r["id"] for r in await ctx.db.fetch("SELECT id FROM facilities WHERE region_id = $1", region_id)]
    rows = await ctx.db.fetch(
        """SELECT * FROM watchlist w
            WHERE w.removed_at IS NULL AND ($1::text IS NULL OR w.mode = $1)
              AND ($2::bigint[] IS NULL OR w.scope = 'national' OR (w.scope = 'region' AND w.scope_id = $3)
                   OR (w.scope = 'facility' AND w.scope_id = ANY($2::bigint[])))
            ORDER BY w.created_at DESC, w.id DESC LIMIT $4""", ctx.query.mode, facility_ids, region_id, ctx.query.limit)
    return [EntryOut.model_validate(dict(r)) for r in rows]


@routes.post("/api/v1/watchlist", summary="Block or watch a number or prefix", tags=["detection"], roles=REVIEWERS,
             body=EntryIn, response=EntryAddedOut, status=201, idempotent=True, errors=(404, 409, 422),
             description="A blocked number cancels its upcoming bookings (reason facility, call given back); "
                         "they are listed in cancelled_bookings so officers can tell the inmates.")
async def add_entry(req: web.Request, ctx: Ctx) -> EntryAddedOut:
    b = ctx.body
    scope_id = 0 if b.scope == "national" else b.scope_id
    if scope_id is None:
        raise InvalidInput("scope_id is required for a facility or region entry", code="scope_id_required",
                           field="scope_id")
    if not await _may_manage(ctx, b.scope, scope_id):
        raise NotFound(f"{b.scope} {scope_id} not found", code="scope_not_found", field="scope_id")
    entry_id = await watchlist.add_entry(ctx.db, scope=b.scope, scope_id=scope_id, pattern_kind=b.pattern_kind,
                                         pattern=_pattern(b), mode=b.mode, reason=b.reason,
                                         user_id=ctx.user.user_id, actor=ctx.actor)
    cancelled = await cancel_bookings_blocked_by(ctx, entry_id)
    row = await ctx.db.fetchrow("SELECT * FROM watchlist WHERE id = $1", entry_id)
    return EntryAddedOut.model_validate({**dict(row), "cancelled_bookings": cancelled})


class EntryPath(ApiModel):
    entry_id: int


@routes.delete("/api/v1/watchlist/{entry_id}", summary="Remove a watchlist entry", tags=["detection"],
               roles=REVIEWERS, path_params=EntryPath, errors=(404,))
async def remove_entry(req: web.Request, ctx: Ctx) -> None:
    row = await ctx.db.fetchrow("SELECT scope, scope_id FROM watchlist WHERE id = $1 AND removed_at IS NULL",
                                ctx.path.entry_id)
    if row is None or not await _may_manage(ctx, row["scope"], row["scope_id"]):
        raise NotFound("watchlist entry not found", code="watchlist_entry_not_found", field="entry_id")
    await watchlist.remove_entry(ctx.db, ctx.path.entry_id, user_id=ctx.user.user_id, actor=ctx.actor)
