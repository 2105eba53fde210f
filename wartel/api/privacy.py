"""Personal data: who looked at a person (access records), and erasing a number's holder (issue 21)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from wartel import keys
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.privacy import erasure, retention
from wartel.privacy.access import unusual_readers, who_accessed
from wartel.privacy.numbers import number_ref
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles

routes = EndpointTable()
AUDITORS = roles(Act.AUDIT)
ERASERS = roles(Act.PROTECT_DATA)


class AccessOut(OutModel):
    recorded_at: datetime
    what: str = Field(
        description="contacts, contact, links, flag_evidence, call_history, export, unmask, playback"
    )
    actor_id: str | None
    actor_role: str | None
    actor_name: str | None
    purpose: str | None = Field(description="The reason the viewer gave, where one was asked for.")
    detail: dict[str, Any]


class InmatePath(ApiModel):
    inmate_id: int


class NumberIn(ApiModel):
    # In the body, not the URL: a number must not end up in access logs.
    number: str = Field(min_length=3, max_length=40)


@routes.get(
    "/api/v1/access/inmates/{inmate_id}",
    summary="Who looked at this inmate's data (newest first)",
    tags=["audit"],
    roles=AUDITORS,
    path_params=InmatePath,
    response=list[AccessOut],
    errors=(404,),
)
async def inmate_accesses(req: web.Request, ctx: Ctx) -> list[AccessOut]:
    await ctx.scope.require_inmate(ctx.db, ctx.path.inmate_id)
    rows = await who_accessed(ctx.db, ctx.scope, "inmate", str(ctx.path.inmate_id))
    return [AccessOut(**r.__dict__) for r in rows]


@routes.post(
    "/api/v1/access/number",
    summary="Who looked at this number's data (newest first)",
    tags=["audit"],
    roles=AUDITORS,
    body=NumberIn,
    response=list[AccessOut],
    write=False,
    errors=(422,),
)
async def number_accesses(req: web.Request, ctx: Ctx) -> list[AccessOut]:
    e164 = normalise_phone(ctx.body.number, field="number")
    # No key: nobody's look at this number was ever recorded (or it was erased); make none just to ask.
    ref = await number_ref(ctx.db, req.app[keys.SECRET_KEY], e164, create=False)
    rows = [] if ref is None else await who_accessed(ctx.db, ctx.scope, "number", ref)
    return [AccessOut(**r.__dict__) for r in rows]


class ErasureIn(ApiModel):
    number: str = Field(min_length=3, max_length=40)
    reason: str = Field(min_length=1, max_length=500, description="The request or rule behind the erasure.")


class ErasureOut(OutModel):
    contact_ids: list[int]
    facility_ids: list[int]
    calls: int
    call_events: int
    flags: int
    key_destroyed: bool


@routes.post(
    "/api/v1/privacy/erasures",
    summary="Erase a number's holder from the registry (crypto-shredding)",
    tags=["audit"],
    roles=ERASERS,
    body=ErasureIn,
    response=ErasureOut,
    status=200,
    errors=(404, 409, 422),
    description=erasure.__doc__,
)
async def erase_number(req: web.Request, ctx: Ctx) -> ErasureOut:
    e164 = normalise_phone(ctx.body.number, field="number")
    result = await erasure.erase_number(
        ctx.db, ctx.scope, req.app[keys.SECRET_KEY], e164, reason=ctx.body.reason, actor=ctx.actor
    )
    return ErasureOut(**result.__dict__)


class RegionQuery(QueryModel):
    region_id: int


class RegionPath(ApiModel):
    region_id: int


class RetentionIn(ApiModel):
    released_family_years: int = Field(
        ge=1, le=10, description="Family numbers of released inmates, years after release"
    )
    unverified_contact_days: int = Field(
        ge=7, le=730, description="Pending or rejected numbers, days after the last change"
    )


class RetentionOut(OutModel):
    region_id: int
    released_family_years: int
    unverified_contact_days: int
    updated_by: int | None
    updated_at: datetime | None


class ErasureRecordOut(OutModel):
    id: int
    erased_at: datetime
    cause: str
    region_ids: list[int]
    facility_ids: list[int]
    contacts: int
    calls: int
    call_events: int
    flags: int
    key_destroyed: bool
    erased_by: int | None


@routes.get(
    "/api/v1/privacy/retention",
    summary="A region's retention settings (defaults where unset)",
    tags=["audit"],
    roles=ERASERS,
    query=RegionQuery,
    response=RetentionOut,
    errors=(404,),
)
async def get_retention(req: web.Request, ctx: Ctx) -> RetentionOut:
    await ctx.scope.require_region(ctx.db, ctx.query.region_id)
    return RetentionOut(**await retention.settings_of(ctx.db, ctx.query.region_id))


@routes.put(
    "/api/v1/privacy/retention/{region_id}",
    summary="Set a region's retention of personal data",
    tags=["audit"],
    roles=ERASERS,
    path_params=RegionPath,
    body=RetentionIn,
    response=RetentionOut,
    errors=(404,),
)
async def put_retention(req: web.Request, ctx: Ctx) -> RetentionOut:
    await ctx.scope.require_region(ctx.db, ctx.path.region_id)
    row = await retention.set_retention(
        ctx.db, ctx.path.region_id, user_id=ctx.user.user_id, actor=ctx.actor, **ctx.body.model_dump()
    )
    return RetentionOut(**row)


@routes.get(
    "/api/v1/privacy/erasures",
    summary="The erasure report of a region: what was erased, when, why",
    tags=["audit"],
    roles=ERASERS,
    query=RegionQuery,
    response=list[ErasureRecordOut],
    errors=(404,),
)
async def list_erasures(req: web.Request, ctx: Ctx) -> list[ErasureRecordOut]:
    await ctx.scope.require_region(ctx.db, ctx.query.region_id)
    rows = await retention.erasure_report(ctx.db, ctx.query.region_id)
    return [ErasureRecordOut(**dict(r)) for r in rows]


class UnusualQuery(QueryModel):
    days: int = Field(default=7, ge=1, le=31)


class HeavyReaderOut(OutModel):
    actor_id: str
    actor_role: str | None
    actor_name: str | None
    subjects: int = Field(description="Distinct people whose data the user looked at")
    looks: int
    peer_median: float
    modified_z: float


@routes.get(
    "/api/v1/access/unusual",
    cost="heavy",
    summary="Users who read far more people's data than their peers",
    tags=["audit"],
    roles=AUDITORS,
    query=UnusualQuery,
    response=list[HeavyReaderOut],
)
async def unusual_access(req: web.Request, ctx: Ctx) -> list[HeavyReaderOut]:
    rows = await unusual_readers(ctx.db, ctx.scope, days=ctx.query.days)
    return [HeavyReaderOut(**r.__dict__) for r in rows]
