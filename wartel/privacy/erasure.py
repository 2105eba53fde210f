"""Erasing a phone number's holder from the registry, keeping the audit log provable (issue 21, item 2).

What erasing a number does, in one short transaction:

1. locks every contact row with the number (``FOR UPDATE``: the booking side holds ``FOR KEY SHARE`` on the
   contact it books, sql/0025, so a booking either committed before and is seen here, or waits and then
   finds the contact revoked);
2. refuses while a booking to it is still upcoming or live (cancel it first: cancelling is the booking
   area's business, with its refund rules) and while the number is on the watchlist (law-enforcement data,
   kept under the exemption of UU 27/2022 art. 15; remove the entry first if it is no longer needed);
3. blanks the contacts' number and name (``erased_at`` set, pending or verified ones revoked): the rows keep
   their ids, so bookings, calls and the compliance reports still count them;
4. blanks the number in ``calls`` and ``call_events``; a detection flag about the number keeps its history
   under a pseudonym (``erased:<id>``) instead of the number;
5. deletes the number's key in ``number_keys``: every ``phone_ref``/number subject written with it in the
   audit log can no longer be matched from the number, while the log's own hashes (over the entry text, which
   never held the number) verify as before;
6. appends ``privacy.number_erased`` to the log of every facility that held it (ids and counts only), and a
   row to ``privacy_erasures``, the erasure report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from audit import Actor, LogRef, append
from wartel.errors import Conflict, NotFound
from wartel.privacy.numbers import shred_number_key
from wartel.scope import Scope

_LIVE_BOOKINGS = ("booked", "checked_in", "in_call")
Cause = Literal["request", "released_family", "unverified"]
ERASED_REASON = "erased (personal data protection)"


@dataclass
class ErasureResult:
    contact_ids: list[int] = field(default_factory=list)
    facility_ids: list[int] = field(default_factory=list)
    calls: int = 0
    call_events: int = 0
    flags: int = 0
    key_destroyed: bool = False


async def erase_number(
    conn: asyncpg.Connection,
    scope: Scope | None,
    secret: bytes,
    e164: str,
    *,
    reason: str,
    actor: Actor,
    cause: Cause = "request",
) -> ErasureResult:
    """Erase ``e164`` everywhere in the registry and shred its key (see the module's docstring).

    ``scope`` ``None`` is the retention job (national). A caller who does not see every facility holding the
    number gets 404 ``number_not_found``, as for a number nobody holds (we never say where else it is).
    """
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT c.id, c.inmate_id, i.current_facility_id FROM contacts c JOIN inmates i ON i.id = c.inmate_id"
            " WHERE c.phone_e164 = $1 ORDER BY c.id FOR UPDATE OF c",
            e164,
        )
        calls = await conn.fetch(
            "SELECT call_id AS id, facility_id FROM calls WHERE dialled_e164 = $1 ORDER BY call_id FOR UPDATE",
            e164,
        )
        facility_ids = sorted({r["current_facility_id"] for r in rows} | {r["facility_id"] for r in calls})
        if not facility_ids or scope is not None and not all(scope.sees(f) for f in facility_ids):
            raise NotFound(
                "no contact or call with this number in your scope", code="number_not_found", field="number"
            )
        contact_ids = [r["id"] for r in rows]
        live = await conn.fetchval(
            "SELECT count(*) FROM bookings WHERE contact_id = ANY($1::bigint[]) AND status = ANY($2::text[])",
            contact_ids,
            list(_LIVE_BOOKINGS),
        )
        if live:
            raise Conflict(
                f"{live} booking(s) to this number are still upcoming or live: cancel them first",
                code="number_has_live_bookings",
                field="number",
                bookings=live,
            )
        if await conn.fetchval(
            "SELECT true FROM watchlist WHERE removed_at IS NULL AND watchlist_pattern_matches(pattern_kind,"
            " pattern, $1) LIMIT 1",
            e164,
        ):
            raise Conflict(
                "the number is on the watchlist (kept for law enforcement); remove the entry first",
                code="number_on_watchlist",
                field="number",
            )
        await conn.execute(
            "UPDATE contacts SET phone_e164 = NULL, name = NULL, erased_at = now(), updated_at = now(),"
            " status = CASE WHEN status IN ('pending', 'verified') THEN 'revoked' ELSE status END,"
            " status_reason = $2 WHERE id = ANY($1::bigint[])",
            contact_ids,
            ERASED_REASON,
        )
        await conn.execute("UPDATE calls SET dialled_e164 = NULL WHERE dialled_e164 = $1", e164)
        events = await conn.fetchval(
            "WITH e AS (UPDATE call_events SET dialled_e164 = NULL WHERE dialled_e164 = $1 RETURNING 1)"
            " SELECT count(*) FROM e",
            e164,
        )
        flags = await conn.fetchval(
            "WITH f AS (UPDATE detection_flags SET subject_key = 'erased:' || id WHERE subject_type = 'number'"
            " AND subject_key = $1 RETURNING 1) SELECT count(*) FROM f",
            e164,
        )
        destroyed = await shred_number_key(conn, secret, e164)
        result = ErasureResult(
            contact_ids=contact_ids,
            facility_ids=facility_ids,
            calls=len(calls),
            call_events=events,
            flags=flags,
            key_destroyed=destroyed,
        )
        await conn.execute(
            "INSERT INTO privacy_erasures (cause, region_ids, facility_ids, contacts, calls, call_events, flags,"
            " key_destroyed, erased_by)"
            " SELECT $1, array_agg(DISTINCT region_id ORDER BY region_id), $2, $3, $4, $5, $6, $7, $8"
            " FROM facilities WHERE id = ANY($2::bigint[])",
            cause,
            facility_ids,
            len(contact_ids),
            len(calls),
            events,
            flags,
            destroyed,
            scope.user_id if scope is not None else None,
        )
        for facility_id in facility_ids:
            here = [r["id"] for r in rows if r["current_facility_id"] == facility_id]
            calls_here = [c["id"] for c in calls if c["facility_id"] == facility_id]
            await append(
                conn,
                LogRef.facility(facility_id),
                action="privacy.number_erased",
                subject_type="contact" if here else "call",
                subject_id=(here or calls_here)[0],
                payload={
                    "contact_ids": here,
                    "calls": len(calls_here),
                    "flags_pseudonymised": flags,
                    "key_destroyed": destroyed,
                    "reason": reason,
                    "cause": cause,
                },
                actor=actor,
            )
    return result
