"""Blocking and watching numbers: one parser for patterns, and a block cancels the bookings it forbids."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from audit import Actor
from audit.detection import watchlist
from schedules.booking import cancel_bookings_to_blocked_number
from wartel.errors import InvalidInput, NotFound
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, Scope, WatchScope

# An E.164 prefix: a country code never starts with 0, so "+0812" (a local habit) is no prefix at all.
_PREFIX = re.compile(r"^\+[1-9][0-9]{2,13}$")


def parse_pattern(pattern_kind: str, raw: str, *, field: str = "pattern") -> str:
    """The stored form of a watchlist pattern: a number in E.164, or a prefix ``+`` and 3 to 14 digits."""
    if pattern_kind == "number":
        return normalise_phone(raw, field=field)
    if pattern_kind != "prefix":
        raise InvalidInput("pattern_kind is number or prefix", code="validation_failed", field="pattern_kind")
    if not _PREFIX.fullmatch(raw):
        raise InvalidInput(
            "a prefix is + followed by 3 to 14 digits, not starting with 0",
            code="invalid_prefix",
            field=field,
        )
    return raw


async def block_or_watch(
    conn: asyncpg.Connection,
    scope: Scope,
    *,
    list_scope: WatchScope,
    list_scope_id: int | None,
    pattern_kind: str,
    pattern: str,
    mode: str,
    reason: str,
    actor: Actor,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Add an entry to a list the caller manages; a block cancels (and credits) the upcoming bookings to the
    number in the same transaction. Returns the entry and the cancelled bookings (officers tell the inmates)."""
    scope.require(Act.BLOCK)
    scope_id = 0 if list_scope == "national" else list_scope_id
    if scope_id is None:
        raise InvalidInput(
            "scope_id is required for a facility or region entry", code="scope_id_required", field="scope_id"
        )
    if not scope.manages_watchlist(list_scope, scope_id):
        raise NotFound(f"{list_scope} {scope_id} not found", code="scope_not_found", field="scope_id")
    stored = parse_pattern(pattern_kind, pattern)
    entry_id = await watchlist.add_entry(
        conn,
        scope=list_scope,
        scope_id=scope_id,
        pattern_kind=pattern_kind,
        pattern=stored,
        mode=mode,
        reason=reason,
        user_id=scope.user_id,
        actor=actor,
    )
    cancelled = await cancel_bookings_to_blocked_number(conn, entry_id, actor=actor, user_id=scope.user_id)
    row = await conn.fetchrow("SELECT * FROM watchlist WHERE id = $1", entry_id)
    return dict(row), cancelled


async def remove_entry(
    conn: asyncpg.Connection, scope: Scope, entry_id: int, *, actor: Actor, field: str = "entry_id"
) -> None:
    """Remove an active entry of a list the caller manages (removing cancels nothing); otherwise 404."""
    scope.require(Act.BLOCK)
    row = await conn.fetchrow(
        "SELECT scope, scope_id FROM watchlist WHERE id = $1 AND removed_at IS NULL", entry_id
    )
    if row is None or not scope.manages_watchlist(row["scope"], row["scope_id"]):
        raise NotFound("watchlist entry not found", code="watchlist_entry_not_found", field=field)
    await watchlist.remove_entry(conn, entry_id, user_id=scope.user_id, actor=actor)


async def entries_in_view(
    conn: asyncpg.Connection, scope: Scope, *, mode: str | None = None, limit: int = 300
) -> list[dict[str, Any]]:
    """Active entries that apply within the caller's scope (national ones everywhere), newest first."""
    scope.require(Act.REVIEW)
    facility_ids, region_id = await scope.watch_scope(conn)
    rows = await conn.fetch(
        """SELECT w.*, f.code AS facility_code, r.code AS region_code FROM watchlist w
             LEFT JOIN facilities f ON w.scope = 'facility' AND f.id = w.scope_id
             LEFT JOIN regions r ON w.scope = 'region' AND r.id = w.scope_id
            WHERE w.removed_at IS NULL AND ($3::text IS NULL OR w.mode = $3)
              AND ($1::bigint[] IS NULL OR w.scope = 'national' OR (w.scope = 'region' AND w.scope_id = $2)
                   OR (w.scope = 'facility' AND w.scope_id = ANY($1::bigint[])))
            ORDER BY w.created_at DESC, w.id DESC LIMIT $4""",
        facility_ids,
        region_id,
        mode,
        limit,
    )
    return [dict(r) for r in rows]


async def recent_block_cancellations(conn: asyncpg.Connection, scope: Scope) -> list[asyncpg.Record]:
    """Bookings a block cancelled in the last 7 days within the caller's facilities (blocks and flags confirmed
    with a block alike): the officers who must tell the inmates see them on the watchlist page.

    The cause is written as a literal so that the partial index of sql/0026 serves every plan of this
    statement (a parameter could not prove the index's condition)."""
    return await conn.fetch(
        """SELECT b.booking_id, lower(b.slot) AS starts_at, b.cancelled_at, f.code AS facility_code,
                  f.time_zone, i.registration_no, bo.name AS booth_name
             FROM bookings b JOIN facilities f ON f.id = b.facility_id JOIN inmates i ON i.id = b.inmate_id
             JOIN booths bo ON bo.facility_id = b.facility_id AND bo.booth_id = b.booth_id
            WHERE b.status = 'cancelled' AND b.cancel_cause = 'number_blocked'
              AND b.cancelled_at > now() - interval '7 days'
              AND ($1::bigint[] IS NULL OR b.facility_id = ANY($1::bigint[]))
            ORDER BY b.cancelled_at DESC, b.booking_id DESC LIMIT 200""",
        scope.facility_ids,
    )
