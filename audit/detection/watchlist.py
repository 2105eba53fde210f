"""The watchlist: numbers and prefixes, blocked or watched, for a facility, a region or the whole country.

A blocked number can be neither registered nor booked: the registry and booking code call
:func:`ensure_not_blocked` (or :func:`is_blocked`) in the transaction that registers or books. A watched
number is allowed, and the ``watched_number`` rule flags every registration of it and every call to it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import asyncpg

from audit.detection.errors import InvalidParameter, NumberBlocked, WatchlistEntryNotFound
from audit.log import Actor, LogRef, append

Scope = Literal["facility", "region", "national"]

# Matching and scope are the SQL functions watchlist_pattern_matches and watchlist_scope_covers (sql/0024),
# the one home of both rules: the booking query and the block's cancellations use them too.
_MATCH = """
SELECT w.id, w.mode, w.scope FROM watchlist w JOIN facilities f ON f.id = $2
 WHERE w.removed_at IS NULL
   AND watchlist_scope_covers(w.scope, w.scope_id, f.id, f.region_id)
   AND watchlist_pattern_matches(w.pattern_kind, w.pattern, $1)
 ORDER BY w.mode = 'blocked' DESC, w.id
"""


async def matching_entries(conn: asyncpg.Connection, e164: str, facility_id: int) -> list[asyncpg.Record]:
    """Active entries covering ``e164`` as seen from ``facility_id`` (blocked ones first)."""
    return await conn.fetch(_MATCH, e164, facility_id)


async def is_blocked(conn: asyncpg.Connection, e164: str, facility_id: int) -> bool:
    """Whether ``e164`` is blocked for ``facility_id`` by a facility, region or national entry (number or prefix)."""
    return any(r["mode"] == "blocked" for r in await matching_entries(conn, e164, facility_id))


async def ensure_not_blocked(conn: asyncpg.Connection, e164: str, facility_id: int, *, field: str = "phone") -> None:
    """Raise :class:`NumberBlocked` (422, code ``number_blocked``) if ``e164`` is blocked for the facility."""
    for r in await matching_entries(conn, e164, facility_id):
        if r["mode"] == "blocked":
            raise NumberBlocked("this number is blocked and cannot be registered or booked", field=field,
                                watchlist_entry_id=r["id"])


def number_ref(e164: str) -> str:
    """A short non-reversible reference for audit payloads (a number never goes there in clear)."""
    return hashlib.sha256(f"wartel-watchlist:{e164}".encode()).hexdigest()[:16]


def log_for(scope: Scope, scope_id: int) -> LogRef:
    return LogRef.of_scope(scope, scope_id)


async def _lock_numbers_for_block(conn: asyncpg.Connection, pattern_kind: str, pattern: str) -> None:
    """The block's side of the booking lock order (sql/0025), taken before anything is written.

    A booking holds FOR KEY SHARE on its contact row, so locking every contact the pattern matches makes a
    booking to one of them either commit first (the caller then cancels it) or wait and then see the
    block. SHARE on the table keeps a matching contact from being added or verified until the block commits
    (it would not be among the rows locked); blocks are rare and their transactions short.
    """
    await conn.execute("LOCK TABLE contacts IN SHARE MODE")
    await conn.execute(
        "SELECT id FROM contacts WHERE watchlist_pattern_matches($1, $2, phone_e164) ORDER BY id FOR UPDATE",
        pattern_kind, pattern)


async def add_entry(conn: asyncpg.Connection, *, scope: Scope, scope_id: int, pattern_kind: str, pattern: str,
                    mode: str, reason: str, user_id: int, actor: Actor, source_flag_id: int | None = None) -> int:
    """Add (or return the existing active) entry, with its audit record, in the caller's transaction."""
    if scope == "national":
        scope_id = 0
    if mode not in ("blocked", "watched") or pattern_kind not in ("number", "prefix"):
        raise InvalidParameter("mode must be blocked or watched, pattern_kind number or prefix", field="mode")
    if mode == "blocked":
        await _lock_numbers_for_block(conn, pattern_kind, pattern)
    existing = await conn.fetchrow(
        "SELECT id, mode FROM watchlist WHERE scope = $1 AND scope_id = $2 AND pattern_kind = $3 AND pattern = $4"
        " AND removed_at IS NULL FOR UPDATE", scope, scope_id, pattern_kind, pattern)
    if existing is not None:
        if existing["mode"] == mode or mode == "watched":
            return existing["id"]
        # Watched becomes blocked: tighten in place, so there is one entry per pattern and scope.
        await conn.execute("UPDATE watchlist SET mode = 'blocked' WHERE id = $1", existing["id"])
        entry_id = existing["id"]
    else:
        entry_id = await conn.fetchval(
            """INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason, created_by, source_flag_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (scope, scope_id, pattern_kind, pattern) WHERE removed_at IS NULL DO UPDATE SET mode = 'blocked'
               WHERE EXCLUDED.mode = 'blocked'
               RETURNING id""",
            scope, scope_id, pattern_kind, pattern, mode, reason, user_id, source_flag_id)
        if entry_id is None:
            entry_id = await conn.fetchval(
                "SELECT id FROM watchlist WHERE scope = $1 AND scope_id = $2 AND pattern_kind = $3 AND pattern = $4"
                " AND removed_at IS NULL", scope, scope_id, pattern_kind, pattern)
    await append(conn, log_for(scope, scope_id), action="watchlist.entry_added", subject_type="watchlist_entry",
                 subject_id=entry_id, payload={"scope": scope, "scope_id": scope_id, "pattern_kind": pattern_kind,
                                               "pattern_ref": number_ref(pattern), "mode": mode,
                                               "source_flag_id": source_flag_id}, actor=actor)
    return entry_id


async def remove_entry(conn: asyncpg.Connection, entry_id: int, *, user_id: int, actor: Actor) -> dict[str, Any]:
    row = await conn.fetchrow(
        "UPDATE watchlist SET removed_at = now(), removed_by = $2 WHERE id = $1 AND removed_at IS NULL"
        " RETURNING id, scope, scope_id, mode", entry_id, user_id)
    if row is None:
        raise WatchlistEntryNotFound("watchlist entry not found", field="entry_id")
    await append(conn, log_for(row["scope"], row["scope_id"]), action="watchlist.entry_removed",
                 subject_type="watchlist_entry", subject_id=entry_id, payload={"mode": row["mode"]}, actor=actor)
    return dict(row)


# The blocking entry (if any) for contact row ``k`` seen from facility row ``f``: the SQL function
# blocking_watchlist_entry (sql/0024), which the booking query calls as well.
BLOCKING_ENTRY_OF_CONTACT = """
SELECT entry_id AS blocked_entry_id FROM blocking_watchlist_entry(k.phone_e164, f.id, f.region_id)
"""

_MATCH_CONTACT = f"""
SELECT m.blocked_entry_id FROM contacts k JOIN facilities f ON f.id = $2
  CROSS JOIN LATERAL ({BLOCKING_ENTRY_OF_CONTACT}) m
 WHERE k.id = $1
"""  # noqa: S608 - a constant fragment, values are $n parameters


def refuse_blocked(entry_id: int | None, *, field: str = "contact_id") -> None:
    """Raise :class:`NumberBlocked` when a blocking entry was found for the contact being booked."""
    if entry_id is not None:
        raise NumberBlocked("this contact's number is blocked and cannot be booked", field=field,
                            watchlist_entry_id=entry_id)


async def ensure_contact_not_blocked(conn: asyncpg.Connection, contact_id: int, facility_id: int, *,
                                     field: str = "contact_id") -> None:
    """Raise :class:`NumberBlocked` if the contact's number is blocked (facility, region or national)."""
    refuse_blocked(await conn.fetchval(_MATCH_CONTACT, contact_id, facility_id), field=field)
