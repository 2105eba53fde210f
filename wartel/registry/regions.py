"""Regions (Kanwil): national reference data, created by the national administrator."""

from __future__ import annotations

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.principal import Principal
from wartel.errors import Conflict, NotFound


async def list_regions(conn: asyncpg.Connection, principal: Principal) -> list[asyncpg.Record]:
    """Admin sees every region; everyone else the region they work in (a facility's region for officers)."""
    if principal.role == "admin":
        return await conn.fetch("SELECT * FROM regions ORDER BY code")
    region_id = principal.region_id
    if region_id is None and principal.facility_id is not None:
        region_id = await conn.fetchval("SELECT region_id FROM facilities WHERE id = $1", principal.facility_id)
    return await conn.fetch("SELECT * FROM regions WHERE id = $1", region_id)


async def get_region(conn: asyncpg.Connection, principal: Principal, region_id: int) -> asyncpg.Record:
    for row in await list_regions(conn, principal):
        if row["id"] == region_id:
            return row
    raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")


async def create_region(conn: asyncpg.Connection, *, code: str, name: str, actor: Actor) -> asyncpg.Record:
    try:
        row = await conn.fetchrow(
            "INSERT INTO regions (code, name) VALUES ($1, $2) RETURNING *", code, name)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"region code {code} is taken", code="region_code_taken", field="code") from exc
    await append(conn, LogRef.national(), action="region.created", subject_type="region", subject_id=row["id"],
                 payload={"code": code}, actor=actor)
    return row
