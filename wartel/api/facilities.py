"""Facilities, their booths (in and out of service), opening hours and closures."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field, model_validator

from wartel.api.bookings import AffectedBooking
from wartel.http.bounds import BoundedDate, LocalDateTime, LocalTime
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.registry import facilities, hours
from wartel.scope import Act, roles
from wartel.usecases import facility as facility_usecase

routes = EndpointTable()

FacilityKind = Literal["lapas", "rutan", "lpka", "lapas_perempuan", "bapas"]
FacilityClass = Literal["I", "IIA", "IIB", "III"]
TimeZone = Literal["Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura"]
EVERYONE = roles(Act.READ)
OPERATORS = roles(Act.OPERATE)
POLICY = roles(Act.SET_POLICY)


class FacilityIn(ApiModel):
    region_id: int
    code: str = Field(pattern=r"^[A-Z0-9-]{2,30}$", description="e.g. LP-PADANG")
    name: str = Field(min_length=1, max_length=200)
    kind: FacilityKind
    facility_class: FacilityClass | None = Field(default=None, description="Kelas I, IIA, IIB or III")
    time_zone: TimeZone = Field(description="WIB Asia/Jakarta, WITA Asia/Makassar, WIT Asia/Jayapura")
    slot_minutes: int | None = Field(default=None, ge=5, le=60)
    family_contact_cap: int | None = Field(default=None, ge=1, le=50)


class FacilityPatch(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    facility_class: FacilityClass | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=60)
    family_contact_cap: int | None = Field(default=None, ge=1, le=50)

    @model_validator(mode="after")
    def _something(self) -> FacilityPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class FacilityOut(OutModel):
    id: int
    region_id: int
    code: str
    name: str
    kind: str
    facility_class: str | None
    time_zone: str
    slot_minutes: int
    family_contact_cap: int
    created_at: datetime


def _facility(row: object) -> FacilityOut:
    data = dict(row)  # type: ignore[call-overload]
    data["facility_class"] = data.pop("class")
    return FacilityOut.model_validate(data)


class FacilityPath(ApiModel):
    facility_id: int


class FacilitiesQuery(QueryModel):
    region_id: int | None = None


@routes.get("/api/v1/facilities", summary="Facilities you can see", tags=["registry"], query=FacilitiesQuery,
            response=list[FacilityOut])
async def list_facilities(req: web.Request, ctx: Ctx) -> list[FacilityOut]:
    rows = await facilities.list_facilities(ctx.db, ctx.user, ctx.query.region_id)
    return [_facility(r) for r in rows]


@routes.post("/api/v1/facilities", summary="Create a facility", tags=["registry"], roles=roles(Act.ORGANISE),
             body=FacilityIn, response=FacilityOut, status=201, errors=(404, 409))
async def create_facility(req: web.Request, ctx: Ctx) -> FacilityOut:
    data = ctx.body.model_dump()
    data["class"] = data.pop("facility_class")
    return _facility(await facilities.create_facility(ctx.db, data, actor=ctx.actor))


@routes.get("/api/v1/facilities/{facility_id}", summary="One facility", tags=["registry"],
            path_params=FacilityPath, response=FacilityOut, errors=(404,))
async def get_facility(req: web.Request, ctx: Ctx) -> FacilityOut:
    return _facility(await facilities.get_facility(ctx.db, ctx.user, ctx.path.facility_id))


@routes.patch("/api/v1/facilities/{facility_id}", summary="Change a facility's name, class, slot length or "
              "family-contact cap", tags=["registry"], roles=POLICY, path_params=FacilityPath, body=FacilityPatch,
              response=FacilityOut, errors=(404,))
async def update_facility(req: web.Request, ctx: Ctx) -> FacilityOut:
    changes = ctx.body.model_dump(include=ctx.body.model_fields_set)
    if "facility_class" in changes:
        changes["class"] = changes.pop("facility_class")
    return _facility(await facilities.update_facility(ctx.db, ctx.user, ctx.path.facility_id, changes,
                                                      actor=ctx.actor))


# Booths ------------------------------------------------------------------------------------------------

class BoothIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["phone", "video"]


class BoothServiceIn(ApiModel):
    in_service: bool
    note: str | None = Field(default=None, max_length=500, description="Why (shown to officers)")


class BoothOut(OutModel):
    facility_id: int
    booth_id: int
    name: str
    kind: str
    in_service: bool
    service_note: str | None
    created_at: datetime
    cancelled_bookings: list[AffectedBooking] = Field(
        default=[], description="Bookings this change cancelled and credited: tell these inmates.")


class BoothPath(ApiModel):
    facility_id: int
    booth_id: int


@routes.get("/api/v1/facilities/{facility_id}/booths", summary="A facility's booths", tags=["registry"],
            path_params=FacilityPath, response=list[BoothOut], errors=(404,))
async def list_booths(req: web.Request, ctx: Ctx) -> list[BoothOut]:
    rows = await facilities.list_booths(ctx.db, ctx.user, ctx.path.facility_id)
    return [BoothOut.model_validate(dict(r)) for r in rows]


@routes.post("/api/v1/facilities/{facility_id}/booths", summary="Add a booth", tags=["registry"], roles=POLICY,
             path_params=FacilityPath, body=BoothIn, response=BoothOut, status=201, errors=(404, 409))
async def create_booth(req: web.Request, ctx: Ctx) -> BoothOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    row = await facilities.create_booth(ctx.db, ctx.path.facility_id, name=ctx.body.name, kind=ctx.body.kind,
                                        actor=ctx.actor)
    return BoothOut.model_validate(dict(row))


@routes.put("/api/v1/facilities/{facility_id}/booths/{booth_id}/service",
            summary="Put a booth in or out of service (bookings on it are cancelled by the booking area)",
            tags=["registry"], roles=OPERATORS, path_params=BoothPath, body=BoothServiceIn, response=BoothOut,
            errors=(404,))
async def set_booth_service(req: web.Request, ctx: Ctx) -> BoothOut:
    row, cancelled = await facility_usecase.set_booth_service(
        ctx.db, ctx.scope, ctx.path.facility_id, ctx.path.booth_id, in_service=ctx.body.in_service,
        note=ctx.body.note, actor=ctx.actor)
    out = BoothOut.model_validate(dict(row))
    out.cancelled_bookings = [AffectedBooking(**c) for c in cancelled]
    return out


# Opening hours -----------------------------------------------------------------------------------------

class WindowIn(ApiModel):
    weekday: int = Field(ge=1, le=7, description="ISO weekday: 1 = Monday … 7 = Sunday")
    opens: LocalTime = Field(description="Facility local time, e.g. 08:00 (an offset is refused)")
    closes: LocalTime


class HoursIn(ApiModel):
    windows: list[WindowIn] = Field(max_length=70, description="The whole week; replaces what was there")


class WindowOut(OutModel):
    weekday: int
    opens: time
    closes: time


class HoursOut(OutModel):
    facility_id: int
    time_zone: str
    windows: list[WindowOut]


async def _hours(ctx: Ctx, facility_id: int, windows: list[hours.Window]) -> HoursOut:
    zone = await hours.facility_zone(ctx.db, facility_id)
    return HoursOut(facility_id=facility_id, time_zone=zone.key,
                    windows=[WindowOut(weekday=w.weekday, opens=w.opens, closes=w.closes) for w in windows])


@routes.get("/api/v1/facilities/{facility_id}/hours", summary="Kiosk opening hours (facility local time)",
            tags=["registry"], path_params=FacilityPath, response=HoursOut, errors=(404,))
async def get_hours(req: web.Request, ctx: Ctx) -> HoursOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    return await _hours(ctx, ctx.path.facility_id, await hours.opening_hours(ctx.db, ctx.path.facility_id))


@routes.put("/api/v1/facilities/{facility_id}/hours", summary="Replace the week's opening hours",
            tags=["registry"], roles=POLICY, path_params=FacilityPath, body=HoursIn, response=HoursOut,
            errors=(404,))
async def replace_hours(req: web.Request, ctx: Ctx) -> HoursOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    windows = [hours.Window(w.weekday, w.opens, w.closes) for w in ctx.body.windows]
    return await _hours(ctx, ctx.path.facility_id,
                        await hours.replace_opening_hours(ctx.db, ctx.path.facility_id, windows, actor=ctx.actor))


# Closures ----------------------------------------------------------------------------------------------

class ClosureIn(ApiModel):
    starts: LocalDateTime = Field(description="Facility local date-time, no offset, e.g. 2026-08-17T00:00")
    ends: LocalDateTime = Field(description="Facility local date-time, exclusive (an offset is refused)")
    kind: Literal["holiday", "closure"] = "closure"
    reason: str = Field(min_length=1, max_length=500)


class ClosureOut(OutModel):
    facility_id: int
    closure_id: int
    kind: str
    reason: str
    starts_at: datetime = Field(description="UTC")
    ends_at: datetime = Field(description="UTC")
    starts_local: datetime = Field(description="Facility local time")
    ends_local: datetime
    created_by: int | None
    created_at: datetime
    cancelled_bookings: list[AffectedBooking] = Field(
        default=[], description="Bookings this closure cancelled and credited: tell these inmates.")


class ClosurePath(ApiModel):
    facility_id: int
    closure_id: int


class ClosuresQuery(QueryModel):
    since: BoundedDate | None = Field(default=None, description="Only closures ending after this local date")


def _closure(row: object, zone: ZoneInfo) -> ClosureOut:
    data = dict(row)  # type: ignore[call-overload]
    data["starts_local"] = data["starts_at"].astimezone(zone).replace(tzinfo=None)
    data["ends_local"] = data["ends_at"].astimezone(zone).replace(tzinfo=None)
    return ClosureOut.model_validate(data)


@routes.get("/api/v1/facilities/{facility_id}/closures", summary="Closures and holidays", tags=["registry"],
            path_params=FacilityPath, query=ClosuresQuery, response=list[ClosureOut], errors=(404,))
async def list_closures(req: web.Request, ctx: Ctx) -> list[ClosureOut]:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    zone = await hours.facility_zone(ctx.db, ctx.path.facility_id)
    since = (hours.to_utc(datetime.combine(ctx.query.since, time()), zone, "since")
             if ctx.query.since else None)
    rows = await hours.list_closures(ctx.db, ctx.path.facility_id, since=since)
    return [_closure(r, zone) for r in rows]


@routes.post("/api/v1/facilities/{facility_id}/closures",
             summary="Close the kiosk for a while (bookings inside are cancelled by the booking area)",
             tags=["registry"], roles=OPERATORS, path_params=FacilityPath, body=ClosureIn, response=ClosureOut,
             status=201, errors=(404,))
async def add_closure(req: web.Request, ctx: Ctx) -> ClosureOut:
    b = ctx.body
    row, cancelled = await facility_usecase.add_closure(
        ctx.db, ctx.scope, ctx.path.facility_id, starts_local=b.starts, ends_local=b.ends, kind=b.kind,
        reason=b.reason, actor=ctx.actor)
    out = _closure(row, await hours.facility_zone(ctx.db, ctx.path.facility_id))
    out.cancelled_bookings = [AffectedBooking(**c) for c in cancelled]
    return out


@routes.delete("/api/v1/facilities/{facility_id}/closures/{closure_id}", summary="Lift a closure",
               tags=["registry"], roles=POLICY, path_params=ClosurePath, errors=(404,))
async def remove_closure(req: web.Request, ctx: Ctx) -> None:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    await hours.remove_closure(ctx.db, ctx.path.facility_id, ctx.path.closure_id, actor=ctx.actor)

