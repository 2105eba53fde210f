"""Booth terminals: device tokens (officers create them) and the call events terminals report.

Interface for terminal vendors: authenticate with ``Authorization: Bearer wtd_…`` (a device token), then
report each call's events with the booking id shown on the terminal. Each event answers 200 when applied
or 409 problem+json when refused; a refused event is still recorded (``call_events.mismatch``) for review.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from schedules import kiosk as domain
from wartel import keys
from wartel.http.bounds import Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel
from wartel.scope import Act, roles

routes = EndpointTable()
TAGS = ["kiosk"]
E164 = r"^\+[1-9][0-9]{3,14}$"
_REFUSALS = ("409: `call_without_booking` (no or unknown booking id), `wrong_booth` (the booking is for another "
             "booth), `booking_not_live` (not checked in / not in a call), `number_not_booked` (dialled number is "
             "not the booked contact's). Refused events are recorded with their mismatch for detection.")


class BoothPath(ApiModel):
    facility_id: int
    booth_id: int


class DevicePath(BoothPath):
    device_id: int


class DeviceIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)


class DeviceCreated(OutModel):
    device_id: int
    facility_id: int
    booth_id: int
    name: str
    token: str = Field(description="Shown once; only its hash is stored. The terminal sends it as a bearer token.")


class DeviceOut(OutModel):
    device_id: int
    facility_id: int
    booth_id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


class DeviceList(OutModel):
    items: list[DeviceOut]


class DialledIn(ApiModel):
    booking_id: int | None = Field(default=None, description="The booking shown on the terminal; omit if none.")
    dialled_number: str = Field(pattern=E164, description="The number dialled, E.164 (+62…).")
    occurred_at: Timestamp | None = Field(default=None, description="Terminal clock; defaults to receipt time.")


class ConnectedIn(ApiModel):
    booking_id: int | None = None
    occurred_at: Timestamp | None = None


class DisconnectedIn(ApiModel):
    booking_id: int | None = None
    occurred_at: Timestamp | None = None
    cause: Literal["normal", "failure"] = Field(
        default="normal", description="failure: line or terminal fault (the call is refunded).")


class EventOut(OutModel):
    event_id: int
    accepted: bool
    booking_id: int | None
    call_id: int | None
    booking_status: str | None


DEVICE_ADMINS = roles(Act.BOOK)


@routes.post("/api/v1/facilities/{facility_id}/booths/{booth_id}/devices",
             summary="Register a booth terminal and get its device token (shown once)", tags=TAGS,
             roles=DEVICE_ADMINS, path_params=BoothPath, body=DeviceIn, response=DeviceCreated, status=201,
             errors=(404,),
             description="Not idempotent by key on purpose: a replayed response would have to keep the token "
                          "in clear. Revoke a token you lost and create another.")
async def create_device(req: web.Request, ctx: Ctx) -> DeviceCreated:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    device_id, token = await domain.create_device(ctx.db, ctx.path.facility_id, ctx.path.booth_id,
                                                  name=ctx.body.name, actor=ctx.actor)
    return DeviceCreated(device_id=device_id, facility_id=ctx.path.facility_id, booth_id=ctx.path.booth_id,
                         name=ctx.body.name, token=token)


@routes.get("/api/v1/facilities/{facility_id}/booths/{booth_id}/devices", summary="A booth's terminals",
            tags=TAGS, path_params=BoothPath, response=DeviceList, errors=(404,))
async def list_devices(req: web.Request, ctx: Ctx) -> DeviceList:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    rows = await domain.list_devices(ctx.db, ctx.path.facility_id, ctx.path.booth_id)
    return DeviceList(items=[DeviceOut(**r) for r in rows])


@routes.delete("/api/v1/facilities/{facility_id}/booths/{booth_id}/devices/{device_id}",
               summary="Revoke a terminal's token", tags=TAGS, roles=DEVICE_ADMINS, path_params=DevicePath,
               errors=(404,))
async def revoke_device(req: web.Request, ctx: Ctx) -> None:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    await domain.revoke_device(ctx.db, ctx.path.facility_id, ctx.path.device_id, actor=ctx.actor)


async def _report(req: web.Request, ctx: Ctx, kind: domain.EventKind, **fields: object) -> EventOut:
    device: domain.Device = req[keys.DEVICE]  # type: ignore[assignment]
    outcome = await domain.report_event(ctx.db, device, kind=kind, booking_id=ctx.body.booking_id,
                                        occurred_at=ctx.body.occurred_at, request_id=ctx.request_id,
                                        **fields)  # type: ignore[arg-type]
    return EventOut(event_id=outcome.event_id, accepted=outcome.accepted, booking_id=outcome.booking_id,
                    call_id=outcome.call_id, booking_status=outcome.booking_status)


@routes.post("/api/v1/kiosk/dialled", summary="Terminal: a number was dialled for a booking", tags=TAGS,
             roles=None, auth="device", body=DialledIn, response=EventOut, write=False, errors=(401, 409),
             description="For a checked-in booking this starts the call (supervised by the officer who checked "
                         "the inmate in). " + _REFUSALS)
async def kiosk_dialled(req: web.Request, ctx: Ctx) -> EventOut:
    return await _report(req, ctx, "dialled", dialled_e164=ctx.body.dialled_number)


@routes.post("/api/v1/kiosk/connected", summary="Terminal: the called party answered", tags=TAGS, roles=None,
             auth="device", body=ConnectedIn, response=EventOut, write=False, errors=(401, 409),
             description="Marks the live call answered. " + _REFUSALS)
async def kiosk_connected(req: web.Request, ctx: Ctx) -> EventOut:
    return await _report(req, ctx, "connected")


@routes.post("/api/v1/kiosk/disconnected", summary="Terminal: the call ended", tags=TAGS, roles=None,
             auth="device", body=DisconnectedIn, response=EventOut, write=False, errors=(401, 409),
             description="Ends the live call: completed (answered), time_limited (answered, at or past its limit), "
                         "not_answered (never answered) or technical_failure (cause=failure); the last two give "
                         "the call back. A repeated disconnect of an ended call is accepted and changes nothing. "
                         + _REFUSALS)
async def kiosk_disconnected(req: web.Request, ctx: Ctx) -> EventOut:
    return await _report(req, ctx, "disconnected", cause=ctx.body.cause)
