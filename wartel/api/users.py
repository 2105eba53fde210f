"""Users: the administrator creates anyone; a regional office creates officer and security accounts in its
region (see :mod:`wartel.users`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from wartel.auth.passwords import MIN_PASSWORD_LENGTH
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, Cursor, OutModel, Page, QueryModel, decode_cursor, encode_cursor
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles
from wartel.usecases import directory
from wartel.users import UserInput, check_may_create, create_user, list_users

routes = EndpointTable()
MANAGERS = roles(Act.MANAGE_USERS)


class UserIn(ApiModel):
    username: str = Field(pattern=r"^[a-z0-9._-]{3,40}$")
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["officer", "security", "regional", "admin"]
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)
    facility_id: int | None = Field(default=None, description="officer, facility security")
    region_id: int | None = Field(default=None, description="regional, regional security")
    phone: str | None = Field(default=None, max_length=40,
                              description="The staff member's own number: calls to it are flagged")


class UserOut(OutModel):
    id: int
    username: str
    full_name: str
    role: str
    scope_facility_id: int | None
    scope_region_id: int | None
    active: bool
    created_at: datetime


class UsersQuery(QueryModel):
    cursor: Cursor = None
    limit: int = Field(default=100, ge=1, le=500)


@routes.get("/api/v1/users", summary="Users you manage", tags=["users"], roles=MANAGERS, query=UsersQuery,
            response=Page[UserOut])
async def users_list(req: web.Request, ctx: Ctx) -> Page[UserOut]:
    after = decode_cursor(ctx.query.cursor, (int,))
    rows = await list_users(ctx.db, ctx.user, after_id=after[0] if after else None, limit=ctx.query.limit + 1)
    items = [UserOut.model_validate(dict(r)) for r in rows[:ctx.query.limit]]
    more = len(rows) > ctx.query.limit
    return Page[UserOut](items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


@routes.post("/api/v1/users", summary="Create a user", tags=["users"], roles=MANAGERS, body=UserIn,
             response=UserOut, status=201, errors=(404, 409))
async def users_create(req: web.Request, ctx: Ctx) -> UserOut:
    b = ctx.body
    await check_may_create(ctx.db, ctx.user, b.role, b.facility_id, b.region_id)
    phone = normalise_phone(b.phone, field="phone") if b.phone else None
    user_id = await create_user(ctx.db, UserInput(
        username=b.username, full_name=b.full_name, role=b.role, password=b.password, facility_id=b.facility_id,
        region_id=b.region_id, phone_e164=phone), actor=ctx.actor)
    row = await directory.user_row(ctx.db, user_id)
    return UserOut.model_validate(dict(row))
