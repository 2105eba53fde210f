"""Inmates (warga binaan): a national registry, one row per person across transfers.

An inmate is visible to whoever may see their *current* facility; after a transfer the old facility
no longer sees them (its audit log keeps the transfer record).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.principal import Principal
from wartel.errors import Conflict, NotFound, Unprocessable
from wartel.registry.hooks import FacilityChange, notify
from wartel.scope import require_facility, visible_facility_ids

UPDATABLE = ("full_name", "block", "risk_level")
_INMATE = "SELECT i.* FROM inmates i WHERE i.id = $1 AND ($2::bigint[] IS NULL OR i.current_facility_id = ANY($2))"
_INMATE_FOR_UPDATE = _INMATE + " FOR UPDATE"


# Admission and release dates: people serving long sentences were admitted decades ago, never in the future.
EARLIEST_ADMISSION = date(1950, 1, 1)


def register_date_problem(day: date, today: date, what: str = "admission") -> str | None:
    """Why ``day`` cannot be an admission (or release) date when the facility's date is ``today``; None if it can."""
    if day > today:
        return f"{what} date is in the future"
    if day < EARLIEST_ADMISSION:
        return f"{what} date is before {EARLIEST_ADMISSION.isoformat()}"
    return None


async def facility_today(conn: asyncpg.Connection, facility_id: int) -> date:
    """The facility's calendar date now (the database's clock, in the facility's own zone)."""
    today = await conn.fetchval(
        "SELECT (now() AT TIME ZONE time_zone)::date FROM facilities WHERE id = $1", facility_id)
    if today is None:
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    return today


def _not_found(inmate_id: int) -> NotFound:
    return NotFound(f"inmate {inmate_id} not found", code="inmate_not_found", field="inmate_id")


async def get_inmate(conn: asyncpg.Connection, principal: Principal, inmate_id: int, *,
                     for_update: bool = False) -> asyncpg.Record:
    """The inmate if their current facility is in the principal's scope; otherwise not found."""
    visible = await visible_facility_ids(conn, principal)
    row = await conn.fetchrow(_INMATE_FOR_UPDATE if for_update else _INMATE, inmate_id, visible)
    if row is None:
        raise _not_found(inmate_id)
    return row


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_inmates(conn: asyncpg.Connection, principal: Principal, *, facility_id: int | None = None,
                         q: str | None = None, status: str | None = None, after_id: int | None = None,
                         limit: int = 50) -> list[asyncpg.Record]:
    """Inmates in scope ordered by id, ``limit`` after ``after_id`` (keyset pagination).

    ``q`` matches a part of the name (any case) or the start of the registration number.
    """
    visible = await visible_facility_ids(conn, principal)
    if facility_id is not None:
        await require_facility(conn, principal, facility_id)
    pattern = _like_escape(q.lower()) if q else None
    return await conn.fetch(
        "SELECT i.* FROM inmates i"
        " WHERE ($1::bigint[] IS NULL OR i.current_facility_id = ANY($1))"
        " AND ($2::bigint IS NULL OR i.current_facility_id = $2)"
        " AND ($3::text IS NULL OR lower(i.full_name) LIKE '%' || $3 || '%'"
        "      OR lower(i.registration_no) LIKE $3 || '%')"
        " AND ($4::text IS NULL OR i.status = $4)"
        " AND ($5::bigint IS NULL OR i.id > $5)"
        " ORDER BY i.id LIMIT $6",
        visible, facility_id, pattern, status, after_id, limit)


async def create_inmate(conn: asyncpg.Connection, principal: Principal, data: dict[str, Any], *,
                        actor: Actor) -> asyncpg.Record:
    """``data``: registration_no, full_name, facility_id, admitted_on and optionally block, risk_level."""
    await require_facility(conn, principal, data["facility_id"])
    problem = register_date_problem(data["admitted_on"], await facility_today(conn, data["facility_id"]))
    if problem is not None:
        raise Unprocessable(problem, code="admission_date_out_of_range", field="admitted_on")
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO inmates AS i (registration_no, full_name, block, risk_level, admitted_on,"
                " current_facility_id) VALUES ($1, $2, $3, coalesce($4, 'medium'), $5, $6)"
                " RETURNING i.*",
                data["registration_no"], data["full_name"], data.get("block"), data.get("risk_level"),
                data["admitted_on"], data["facility_id"])
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("an inmate with this registration number is already registered",
                           code="registration_no_taken", field="registration_no") from exc
        await append(conn, LogRef.facility(row["current_facility_id"]), action="inmate.created",
                     subject_type="inmate", subject_id=row["id"], payload={"risk_level": row["risk_level"]},
                     actor=actor)
    return row


async def update_inmate(conn: asyncpg.Connection, principal: Principal, inmate_id: int,
                        changes: dict[str, Any], *, actor: Actor) -> asyncpg.Record:
    changes = {k: v for k, v in changes.items() if k in UPDATABLE}
    async with conn.transaction():
        before = await get_inmate(conn, principal, inmate_id, for_update=True)
        row = await conn.fetchrow(
            "UPDATE inmates AS i SET full_name = coalesce($2, full_name),"
            " block = CASE WHEN $5 THEN $3 ELSE block END, risk_level = coalesce($4, risk_level),"
            " updated_at = now() WHERE id = $1 RETURNING i.*",
            inmate_id, changes.get("full_name"), changes.get("block"), changes.get("risk_level"),
            "block" in changes)
        changed = sorted(k for k in changes if before[k] != row[k])
        payload: dict[str, Any] = {"fields": changed}
        if "risk_level" in changed:
            payload["risk_level"] = {"from": before["risk_level"], "to": row["risk_level"]}
        await append(conn, LogRef.facility(row["current_facility_id"]), action="inmate.updated",
                     subject_type="inmate", subject_id=inmate_id, payload=payload, actor=actor)
    return row


async def transfer_inmate(conn: asyncpg.Connection, principal: Principal, inmate_id: int, *,
                          to_facility_id: int, reason: str | None, actor: Actor) -> asyncpg.Record:
    """Move an active inmate to another facility, anywhere in the country, and record it in both logs."""
    async with conn.transaction():
        inmate = await get_inmate(conn, principal, inmate_id, for_update=True)
        if inmate["status"] != "active":
            raise Conflict(f"only an active inmate can be transferred (this one is {inmate['status']})",
                           code="inmate_not_active", field="inmate_id")
        # Transfers cross regions, so the destination only has to exist, not be in the caller's scope.
        if not await conn.fetchval("SELECT true FROM facilities WHERE id = $1", to_facility_id):
            raise NotFound(f"facility {to_facility_id} not found", code="facility_not_found",
                           field="to_facility_id")
        from_facility_id = inmate["current_facility_id"]
        if from_facility_id == to_facility_id:
            raise Unprocessable("the inmate is already in that facility", code="transfer_same_facility",
                                field="to_facility_id")
        transfer_id = await conn.fetchval(
            "INSERT INTO inmate_transfers (inmate_id, from_facility_id, to_facility_id, reason, created_by)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            inmate_id, from_facility_id, to_facility_id, reason, principal.user_id)
        row = await conn.fetchrow(
            "UPDATE inmates AS i SET current_facility_id = $2, block = NULL, updated_at = now() WHERE id = $1"
            " RETURNING i.*", inmate_id, to_facility_id)
        facts = {"transfer_id": transfer_id, "from_facility_id": from_facility_id,
                 "to_facility_id": to_facility_id}
        await append(conn, LogRef.facility(from_facility_id), action="inmate.transferred_out",
                     subject_type="inmate", subject_id=inmate_id, payload=facts, actor=actor)
        await append(conn, LogRef.facility(to_facility_id), action="inmate.transferred_in",
                     subject_type="inmate", subject_id=inmate_id, payload=facts, actor=actor)
        await notify(conn, FacilityChange("inmate_left", from_facility_id, inmate_id=inmate_id), actor)
    return row


async def release_inmate(conn: asyncpg.Connection, principal: Principal, inmate_id: int, *,
                         released_on: date, actor: Actor) -> asyncpg.Record:
    async with conn.transaction():
        inmate = await get_inmate(conn, principal, inmate_id, for_update=True)
        if inmate["status"] == "released":
            raise Conflict("the inmate is already released", code="inmate_already_released", field="inmate_id")
        if released_on < inmate["admitted_on"]:
            raise Unprocessable("the release date is before the admission date", code="release_before_admission",
                                field="released_on")
        problem = register_date_problem(released_on, await facility_today(conn, inmate["current_facility_id"]),
                                        "release")
        if problem is not None:
            raise Unprocessable(problem, code="release_date_out_of_range", field="released_on")
        row = await conn.fetchrow(
            "UPDATE inmates AS i SET status = 'released', released_on = $2, updated_at = now() WHERE id = $1"
            " RETURNING i.*", inmate_id, released_on)
        await append(conn, LogRef.facility(row["current_facility_id"]), action="inmate.released",
                     subject_type="inmate", subject_id=inmate_id, payload={"released_on": released_on.isoformat()},
                     actor=actor)
        await notify(conn, FacilityChange("inmate_left", row["current_facility_id"], inmate_id=inmate_id), actor)
    return row


async def transfer_history(conn: asyncpg.Connection, principal: Principal, inmate_id: int) -> list[asyncpg.Record]:
    await get_inmate(conn, principal, inmate_id)
    return await conn.fetch(
        "SELECT id, inmate_id, from_facility_id, to_facility_id, transferred_at, reason, created_by"
        " FROM inmate_transfers WHERE inmate_id = $1 ORDER BY transferred_at, id", inmate_id)
