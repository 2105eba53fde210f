"""Who is asking, and what they may see: every query is scoped by the principal's facility or region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from audit import Actor
from wartel.errors import NotFound

Role = Literal["officer", "security", "regional", "admin"]
ALL_ROLES: frozenset[str] = frozenset({"officer", "security", "regional", "admin"})


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    facility_id: int | None
    region_id: int | None
    via: Literal["session", "token"]
    csrf_token: str | None = None
    language: str = "id"

    def actor(self, request_id: str | None) -> Actor:
        return Actor(type="user", id=str(self.user_id), role=self.role, request_id=request_id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def visible_facility_ids(conn: asyncpg.Connection, principal: Principal) -> list[int] | None:
    """The facilities the principal may see; ``None`` means all of them (admin)."""
    if principal.role == "admin":
        return None
    if principal.facility_id is not None:
        return [principal.facility_id]
    rows = await conn.fetch("SELECT id FROM facilities WHERE region_id = $1 ORDER BY id", principal.region_id)
    return [r["id"] for r in rows]


async def facility_in_scope(conn: asyncpg.Connection, principal: Principal, facility_id: int) -> bool:
    if principal.role == "admin":
        return await conn.fetchval("SELECT true FROM facilities WHERE id = $1", facility_id) or False
    if principal.facility_id is not None:
        return principal.facility_id == facility_id
    region = await conn.fetchval("SELECT region_id FROM facilities WHERE id = $1", facility_id)
    return region is not None and region == principal.region_id


async def require_facility(conn: asyncpg.Connection, principal: Principal, facility_id: int) -> None:
    """Raise :class:`NotFound` for a facility that does not exist or lies outside the principal's scope."""
    if not await facility_in_scope(conn, principal, facility_id):
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")


def region_in_scope(principal: Principal, region_id: int) -> bool:
    return principal.role == "admin" or (principal.facility_id is None and principal.region_id == region_id)


async def require_region(conn: asyncpg.Connection, principal: Principal, region_id: int) -> None:
    exists = await conn.fetchval("SELECT true FROM regions WHERE id = $1", region_id)
    if not exists or not region_in_scope(principal, region_id):
        raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")
