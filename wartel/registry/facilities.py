"""Facilities (UPT) and their booths. A facility's audit records go to its own log."""

from __future__ import annotations

from typing import Any

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.principal import Principal
from wartel.errors import Conflict, NotFound
from wartel.registry.hooks import FacilityChange, notify
from wartel.scope import require_facility, visible_facility_ids

# Settings a regional office or the administrator may change after creation.
UPDATABLE = ("name", "class", "slot_minutes", "family_contact_cap")


async def list_facilities(conn: asyncpg.Connection, principal: Principal,
                          region_id: int | None = None) -> list[asyncpg.Record]:
    visible = await visible_facility_ids(conn, principal)
    return await conn.fetch(
        "SELECT * FROM facilities "
        "WHERE ($1::bigint[] IS NULL OR id = ANY($1)) AND ($2::bigint IS NULL OR region_id = $2) ORDER BY code",
        visible, region_id)


async def get_facility(conn: asyncpg.Connection, principal: Principal, facility_id: int) -> asyncpg.Record:
    await require_facility(conn, principal, facility_id)
    return await conn.fetchrow("SELECT * FROM facilities WHERE id = $1", facility_id)


async def facility_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM facilities WHERE code = $1", code)


async def create_facility(conn: asyncpg.Connection, data: dict[str, Any], *, actor: Actor) -> asyncpg.Record:
    """``data``: region_id, code, name, kind, class, time_zone and optionally slot_minutes, family_contact_cap."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT true FROM regions WHERE id = $1", data["region_id"]):
            raise NotFound(f"region {data['region_id']} not found", code="region_not_found", field="region_id")
        try:
            row = await conn.fetchrow(
                "INSERT INTO facilities (region_id, code, name, kind, class, time_zone, slot_minutes,"
                " family_contact_cap) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 15), coalesce($8, 10))"
                " RETURNING *",
                data["region_id"], data["code"], data["name"], data["kind"], data.get("class"), data["time_zone"],
                data.get("slot_minutes"), data.get("family_contact_cap"))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"facility code {data['code']} is taken", code="facility_code_taken",
                           field="code") from exc
        # The region oversees its facilities: a new facility is a regional fact.
        await append(conn, LogRef.region(row["region_id"]), action="facility.created", subject_type="facility",
                     subject_id=row["id"], payload={"code": row["code"], "kind": row["kind"],
                                                    "time_zone": row["time_zone"]}, actor=actor)
    return row


async def update_facility(conn: asyncpg.Connection, principal: Principal, facility_id: int,
                          changes: dict[str, Any], *, actor: Actor) -> asyncpg.Record:
    await require_facility(conn, principal, facility_id)
    changes = {k: v for k, v in changes.items() if k in UPDATABLE}
    async with conn.transaction():
        before = await conn.fetchrow("SELECT * FROM facilities WHERE id = $1 FOR UPDATE",
                                     facility_id)
        row = await conn.fetchrow(
            "UPDATE facilities SET name = coalesce($2, name), class = CASE WHEN $6 THEN $3 ELSE class END,"
            " slot_minutes = coalesce($4, slot_minutes), family_contact_cap = coalesce($5, family_contact_cap)"
            " WHERE id = $1 RETURNING *",
            facility_id, changes.get("name"), changes.get("class"), changes.get("slot_minutes"),
            changes.get("family_contact_cap"), "class" in changes)
        changed = {k: {"from": before[k], "to": row[k]} for k in changes if before[k] != row[k] and k != "name"}
        if "name" in changes and before["name"] != row["name"]:
            changed["name"] = {"changed": True}
        await append(conn, LogRef.facility(facility_id), action="facility.updated", subject_type="facility",
                     subject_id=facility_id, payload={"changes": changed}, actor=actor)
    return row


async def list_booths(conn: asyncpg.Connection, principal: Principal, facility_id: int) -> list[asyncpg.Record]:
    await require_facility(conn, principal, facility_id)
    return await conn.fetch("SELECT * FROM booths WHERE facility_id = $1 ORDER BY booth_id",
                            facility_id)


async def create_booth(conn: asyncpg.Connection, facility_id: int, *, name: str, kind: str,
                       actor: Actor) -> asyncpg.Record:
    """A new booth, in service. The caller has checked the facility is in scope."""
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO booths (facility_id, name, kind) VALUES ($1, $2, $3) RETURNING *",
                facility_id, name, kind)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"the facility already has a booth named {name!r}", code="booth_name_taken",
                           field="name") from exc
        await append(conn, LogRef.facility(facility_id), action="booth.created", subject_type="booth",
                     subject_id=row["booth_id"], payload={"kind": kind}, actor=actor)
    return row


async def set_booth_service(conn: asyncpg.Connection, facility_id: int, booth_id: int, *, in_service: bool,
                            note: str | None, actor: Actor) -> asyncpg.Record:
    """Put a booth in or out of service and return it.

    Taking a booth out of service notifies :mod:`wartel.registry.hooks` in this transaction, so the
    booking area can cancel (and credit) the bookings on it. Setting the state it already has is a
    no-op that records nothing.
    """
    async with conn.transaction():
        before = await conn.fetchrow(
            "SELECT in_service FROM booths WHERE facility_id = $1 AND booth_id = $2 FOR UPDATE",
            facility_id, booth_id)
        if before is None:
            raise NotFound(f"booth {booth_id} not found", code="booth_not_found", field="booth_id")
        row = await conn.fetchrow(
            "UPDATE booths SET in_service = $3, service_note = $4 WHERE facility_id = $1 AND booth_id = $2"
            " RETURNING *", facility_id, booth_id, in_service, note)
        if before["in_service"] == in_service:
            return row
        await append(conn, LogRef.facility(facility_id),
                     action="booth.in_service" if in_service else "booth.out_of_service",
                     subject_type="booth", subject_id=booth_id, payload={"note_given": bool(note)}, actor=actor)
        if not in_service:
            await notify(conn, FacilityChange("booth_out_of_service", facility_id, booth_id=booth_id), actor)
    return row


async def get_booth(conn: asyncpg.Connection, principal: Principal, facility_id: int,
                    booth_id: int) -> asyncpg.Record:
    await require_facility(conn, principal, facility_id)
    row = await conn.fetchrow("SELECT * FROM booths WHERE facility_id = $1 AND booth_id = $2",
                              facility_id, booth_id)
    if row is None:
        raise NotFound(f"booth {booth_id} not found", code="booth_not_found", field="booth_id")
    return row
