"""Call rights policies: set by the regional office, overridden per facility, by risk level; versioned."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from schedules import policy as domain
from wartel.errors import NotFound
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.scope import Act, roles
from wartel.usecases import policies as policy_usecase

routes = EndpointTable()
TAGS = ["call-policies"]
SETTERS = roles(Act.SET_POLICY)

Allowance = Literal["family", "legal"]
RiskLevel = Literal["low", "medium", "high"]


class PolicySettingsModel(ApiModel):
    period: Literal["week", "month"] = Field(description="week: from 00:00 Monday; month: from the 1st (facility time).")
    calls_allowed: int = Field(ge=0, le=100, description="Calls per period.")
    max_minutes: int = Field(ge=1, le=120, description="Longest call.")
    min_lead_minutes: int = Field(ge=0, le=20160, description="Book at least this long before the slot.")
    max_days_ahead: int = Field(ge=0, le=90, description="Book at most this many facility-local days ahead.")
    cancel_cutoff_minutes: int = Field(ge=0, le=20160,
                                       description="Inmate/family cancellations later than this keep the charge.")
    no_show_consumes: bool = Field(description="Whether a no-show uses up the call.")
    booth_kinds: list[Literal["phone", "video"]] = Field(min_length=1, max_length=2)


class PolicyIn(PolicySettingsModel):
    scope: Literal["national", "region", "facility"]
    region_id: int | None = None
    facility_id: int | None = None
    risk_level: RiskLevel | None = Field(default=None, description="Omit for every risk level.")
    allowance: Allowance = "family"
    note: str | None = Field(default=None, max_length=500)


class PolicySettingsOut(OutModel):
    period: Literal["week", "month"]
    calls_allowed: int
    max_minutes: int
    min_lead_minutes: int
    max_days_ahead: int
    cancel_cutoff_minutes: int
    no_show_consumes: bool
    booth_kinds: list[str]


class PolicyOut(OutModel):
    policy_id: int
    version: int
    scope: Literal["national", "region", "facility"]
    region_id: int | None
    facility_id: int | None
    risk_level: RiskLevel | None
    allowance: Allowance
    settings: PolicySettingsOut
    note: str | None
    created_by: int | None
    created_at: datetime


class PolicyList(OutModel):
    items: list[PolicyOut]


class PolicyPath(ApiModel):
    policy_id: int


class FacilityPath(ApiModel):
    facility_id: int


class EffectiveQuery(QueryModel):
    risk_level: RiskLevel = "medium"
    allowance: Allowance = "family"


def _out(p: domain.PolicyVersion) -> PolicyOut:
    return PolicyOut(**p.as_dict())


@routes.get("/api/v1/call-policies", summary="Current call rights policies you can see", tags=TAGS,
            response=PolicyList)
async def list_policies(req: web.Request, ctx: Ctx) -> PolicyList:
    regions = await ctx.scope.region_ids_in_view(ctx.db)
    items = await domain.list_policies(ctx.db, region_ids=regions, facility_ids=ctx.scope.facility_ids)
    return PolicyList(items=[_out(p) for p in items])


@routes.post("/api/v1/call-policies", summary="Set a policy (creates it or adds a new version)", tags=TAGS,
             roles=SETTERS, body=PolicyIn, response=PolicyOut, status=201, idempotent=True, errors=(404, 422),
             description="The regional office sets its region's policies and facility overrides; only an admin "
                         "sets the national default. Bookings already made keep the version they were made under.")
async def set_policy(req: web.Request, ctx: Ctx) -> PolicyOut:
    b = ctx.body
    settings = domain.PolicySettings(
        period=b.period, calls_allowed=b.calls_allowed, max_minutes=b.max_minutes,
        min_lead_minutes=b.min_lead_minutes, max_days_ahead=b.max_days_ahead,
        cancel_cutoff_minutes=b.cancel_cutoff_minutes, no_show_consumes=b.no_show_consumes,
        booth_kinds=tuple(b.booth_kinds))
    p = await policy_usecase.set_policy(ctx.db, ctx.scope, level=b.scope, region_id=b.region_id,
                                        facility_id=b.facility_id, risk_level=b.risk_level, allowance=b.allowance,
                                        settings=settings, note=b.note, actor=ctx.actor)
    return _out(p)


async def _visible(ctx: Ctx, p: domain.PolicyVersion) -> bool:
    if ctx.scope.is_national or p.scope == "national":
        return True
    if p.scope == "facility":
        return ctx.scope.sees(p.facility_id)
    return p.region_id in (await ctx.scope.region_ids_in_view(ctx.db) or [])


@routes.get("/api/v1/call-policies/{policy_id}/versions", summary="Every version of one policy", tags=TAGS,
            path_params=PolicyPath, response=PolicyList, errors=(404,))
async def policy_versions(req: web.Request, ctx: Ctx) -> PolicyList:
    versions = await domain.policy_history(ctx.db, ctx.path.policy_id)
    if not await _visible(ctx, versions[0]):
        # Word for word what policy_history says of a policy that does not exist: no existence oracle.
        raise NotFound(f"policy {ctx.path.policy_id} not found", code="policy_not_found", field="policy_id")
    return PolicyList(items=[_out(p) for p in versions])


@routes.get("/api/v1/facilities/{facility_id}/call-policies/effective",
            summary="The policy that applies at a facility to a risk level and allowance", tags=TAGS,
            path_params=FacilityPath, query=EffectiveQuery, response=PolicyOut, errors=(404,))
async def effective_policy(req: web.Request, ctx: Ctx) -> PolicyOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    return _out(await domain.resolve_policy(ctx.db, ctx.path.facility_id, ctx.query.risk_level,
                                            ctx.query.allowance))
