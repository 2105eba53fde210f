"""Names and lists the pages show beside the domain's data: facilities, regions, inmates, users, audit logs.

Reads only, each scoped by the caller's :class:`Scope` where it lists things, so a page handler holds no
SQL and no visibility rule of its own.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from audit import LogRef
from audit.search import log_ids_of
from wartel.scope import Scope


async def facilities_in_view(
    conn: asyncpg.Connection, scope: Scope, *, region_id: int | None = None
) -> list[asyncpg.Record]:
    """Facilities in the caller's scope (of one region, if given), with their region's name."""
    return await conn.fetch(
        """SELECT f.id, f.code, f.name, r.name AS region FROM facilities f JOIN regions r ON r.id = f.region_id
            WHERE ($1::bigint[] IS NULL OR f.id = ANY($1::bigint[])) AND ($2::bigint IS NULL OR f.region_id = $2)
            ORDER BY r.code, f.code""",
        scope.facility_ids,
        region_id,
    )


async def regions_in_view(conn: asyncpg.Connection, scope: Scope) -> list[dict[str, Any]]:
    """Regions the caller manages: every region for admins, their own for regional staff, none otherwise."""
    rows = await conn.fetch(
        "SELECT id, code, name FROM regions WHERE $1 OR id = $2 ORDER BY code",
        scope.is_national,
        scope.own_region_id,
    )
    return [dict(r) for r in rows]


async def facility_name(conn: asyncpg.Connection, facility_id: int) -> str | None:
    return await conn.fetchval("SELECT name FROM facilities WHERE id = $1", facility_id)


async def inmate_labels(conn: asyncpg.Connection, inmate_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Name and registration number by inmate id (ids the caller already holds from a scoped read)."""
    rows = await conn.fetch(
        "SELECT id, full_name, registration_no FROM inmates WHERE id = ANY($1::bigint[])", inmate_ids
    )
    return {r["id"]: r for r in rows}


async def usernames(conn: asyncpg.Connection, user_ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, username FROM users WHERE id = ANY($1::bigint[])", user_ids)
    return {r["id"]: r["username"] for r in rows}


async def audit_logs_in_view(
    conn: asyncpg.Connection, scope: Scope
) -> tuple[list[int] | None, list[asyncpg.Record], dict[int, asyncpg.Record]]:
    """(log ids in view, or None for all; each log with its facility or region code; latest checkpoint by log)."""
    logs: list[LogRef] | None = scope.visible_logs()
    log_ids = None if logs is None else await log_ids_of(conn, logs)
    rows = await conn.fetch(
        "SELECT l.log_id, l.scope, l.scope_id, l.size, f.code AS facility_code, r.code AS region_code"
        " FROM audit.logs l LEFT JOIN facilities f ON l.scope = 'facility' AND f.id = l.scope_id"
        " LEFT JOIN regions r ON l.scope = 'region' AND r.id = l.scope_id"
        " WHERE $1::bigint[] IS NULL OR l.log_id = ANY($1::bigint[]) ORDER BY l.scope, l.scope_id",
        log_ids,
    )
    checkpoints = {
        r["log_id"]: r
        for r in await conn.fetch(
            "SELECT DISTINCT ON (log_id) log_id, size, signed_at FROM audit.checkpoints"
            " WHERE log_id = ANY($1::bigint[]) ORDER BY log_id, size DESC",
            [r["log_id"] for r in rows],
        )
    }
    return log_ids, rows, checkpoints


async def user_row(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """A user as the users API shows them (no password hash, no phone)."""
    return await conn.fetchrow(
        "SELECT id, username, full_name, role, scope_facility_id, scope_region_id, active, created_at"
        " FROM users WHERE id = $1",
        user_id,
    )


async def viewer_time_zone(conn: asyncpg.Connection, scope: Scope) -> str:
    """The zone a person reads times in: their facility's; a regional user's region's (the zone most of its
    facilities keep: a region lies in one zone but for the odd island); WIB nationally."""
    zone = await conn.fetchval(
        """SELECT coalesce(
                  (SELECT time_zone FROM facilities WHERE id = $1),
                  (SELECT mode() WITHIN GROUP (ORDER BY time_zone) FROM facilities WHERE region_id = $2))""",
        scope.own_facility_id,
        scope.own_region_id,
    )
    return zone or "Asia/Jakarta"


async def facility_names(conn: asyncpg.Connection, facility_ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, name FROM facilities WHERE id = ANY($1::bigint[])", facility_ids)
    return {r["id"]: r["name"] for r in rows}


async def user_names(conn: asyncpg.Connection, user_ids: list[int]) -> dict[int, str]:
    """A person's name and account (``Budi Santoso (petugas.budi)``) by user id."""
    rows = await conn.fetch("SELECT id, full_name, username FROM users WHERE id = ANY($1::bigint[])", user_ids)
    return {r["id"]: f"{r['full_name']} ({r['username']})" for r in rows}


async def numbers_shared_with_others(conn: asyncpg.Connection, inmate_id: int) -> dict[int, int]:
    """For each of the inmate's live contacts, how many other inmates hold the same number (pending or
    verified), anywhere: a warning for the officer, not a rule (families share phones). Only a count, so
    nothing outside the officer's scope is named."""
    rows = await conn.fetch(
        """SELECT c.id, count(DISTINCT o.inmate_id) AS others
             FROM contacts c
             JOIN contacts o ON o.phone_e164 = c.phone_e164 AND o.inmate_id <> c.inmate_id
                            AND o.status IN ('pending', 'verified')
            WHERE c.inmate_id = $1 AND c.status IN ('pending', 'verified')
            GROUP BY c.id""",
        inmate_id,
    )
    return {r["id"]: r["others"] for r in rows}


async def upcoming_bookings(
    conn: asyncpg.Connection, scope: Scope, inmate_id: int, *, limit: int = 10
) -> list[asyncpg.Record]:
    """The inmate's bookings still to come (or under way) at facilities in the caller's view, soonest first,
    with the booth and whom he will call."""
    return await conn.fetch(
        """SELECT b.booking_id, lower(b.slot) AS starts_at, upper(b.slot) AS ends_at, b.status, b.facility_id,
                  bo.name AS booth, k.name AS contact_name, k.relation, f.time_zone
             FROM bookings b
             JOIN booths bo ON bo.facility_id = b.facility_id AND bo.booth_id = b.booth_id
             JOIN facilities f ON f.id = b.facility_id
             LEFT JOIN contacts k ON k.id = b.contact_id
            WHERE b.inmate_id = $1 AND b.status IN ('booked', 'checked_in', 'in_call') AND upper(b.slot) > now()
              AND ($2::bigint[] IS NULL OR b.facility_id = ANY($2::bigint[]))
            ORDER BY lower(b.slot) LIMIT $3""",
        inmate_id,
        scope.facility_ids,
        limit,
    )


async def recent_calls(conn: asyncpg.Connection, scope: Scope, inmate_id: int, *, limit: int = 10) -> list[asyncpg.Record]:
    """The inmate's latest calls at facilities in the caller's view, newest first, with whom and how they ended."""
    return await conn.fetch(
        """SELECT c.call_id, c.started_at, c.ended_at, c.outcome, k.name AS contact_name, k.relation, f.time_zone,
                  floor(extract(epoch FROM c.ended_at - c.started_at) / 60)::int AS minutes
             FROM calls c
             JOIN facilities f ON f.id = c.facility_id
             LEFT JOIN contacts k ON k.id = c.contact_id
            WHERE c.inmate_id = $1 AND ($2::bigint[] IS NULL OR c.facility_id = ANY($2::bigint[]))
            ORDER BY c.started_at DESC LIMIT $3""",
        inmate_id,
        scope.facility_ids,
        limit,
    )


async def contact_names(conn: asyncpg.Connection, contact_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Name and relation by contact id (ids the caller already holds from a scoped read): whom a call is to."""
    rows = await conn.fetch("SELECT id, name, relation FROM contacts WHERE id = ANY($1::bigint[])", contact_ids)
    return {r["id"]: r for r in rows}


async def user_id_by_username(conn: asyncpg.Connection, username: str) -> int | None:
    return await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
