"""The audit entries the service writes for a simulated region's bookings and calls, in bulk.

The service appends an entry for every booking made (``booking.created`` or ``booking.override``), every
check-in, cancellation, call started and call ended, in the facility's log, in the same transaction as
the change. A simulated region written row by row in bulk has none, and the officer rules that read the
audit log then look cheaper than they are on real data (issue 20). This writes them with the times of the
changes they record, as the schema owner, in seq order per facility log, each with the leaf hash the
append function computes (SHA-256 of 0x00 and the canonical text), so the logs verify.

It must run before anything else is appended to the region's facility logs (times never run backwards
within a log): ``simulate`` calls it between the normal traffic and the injected patterns.
"""

from __future__ import annotations

import asyncpg

# One row per recorded change: facility, officer, action, booking (the subject), time, payload.
_CHANGES = """
SELECT b.facility_id, b.booked_by AS officer_id,
       CASE WHEN b.is_override THEN 'booking.override' ELSE 'booking.created' END AS action,
       b.booking_id, b.booked_at AS at,
       jsonb_build_object('booking_id', b.booking_id, 'inmate_id', b.inmate_id, 'booth_id', b.booth_id) AS payload
  FROM bookings b WHERE b.facility_id = ANY($1::bigint[]) AND b.booked_by IS NOT NULL
UNION ALL
SELECT b.facility_id, b.checked_in_by, 'booking.checked_in', b.booking_id, b.checked_in_at,
       jsonb_build_object('booking_id', b.booking_id, 'inmate_id', b.inmate_id, 'to', 'checked_in')
  FROM bookings b WHERE b.facility_id = ANY($1::bigint[]) AND b.checked_in_by IS NOT NULL
UNION ALL
SELECT b.facility_id, b.cancelled_by, 'booking.cancelled', b.booking_id, b.cancelled_at,
       jsonb_build_object('booking_id', b.booking_id, 'inmate_id', b.inmate_id, 'reason', b.cancel_reason)
  FROM bookings b WHERE b.facility_id = ANY($1::bigint[]) AND b.cancelled_by IS NOT NULL
UNION ALL
SELECT c.facility_id, c.supervised_by, 'call.started', c.booking_id, c.started_at,
       jsonb_build_object('booking_id', c.booking_id, 'call_id', c.call_id, 'inmate_id', c.inmate_id)
  FROM calls c WHERE c.facility_id = ANY($1::bigint[]) AND c.supervised_by IS NOT NULL
UNION ALL
SELECT c.facility_id, coalesce(c.ended_by, c.supervised_by), 'call.ended', c.booking_id, c.ended_at,
       jsonb_build_object('booking_id', c.booking_id, 'call_id', c.call_id, 'to', c.outcome)
  FROM calls c WHERE c.facility_id = ANY($1::bigint[]) AND c.ended_at IS NOT NULL
   AND coalesce(c.ended_by, c.supervised_by) IS NOT NULL
"""


async def write_service_audit(conn: asyncpg.Connection, facility_ids: list[int]) -> int:
    """Append the service's entries for every booking and call of ``facility_ids``; return how many."""
    if await conn.fetchval(
        "SELECT count(*) FROM audit.logs WHERE scope = 'facility' AND scope_id = ANY($1::bigint[]) AND size > 0",
        facility_ids,
    ):
        raise ValueError("the facilities' audit logs already hold entries: the trail must be written first")
    async with conn.transaction():
        await conn.execute(f"CREATE TEMP TABLE sim_audit ON COMMIT DROP AS {_CHANGES}", facility_ids)
        await conn.execute(
            """INSERT INTO audit.logs AS l (scope, scope_id, size)
               SELECT 'facility', facility_id, count(*) FROM sim_audit GROUP BY facility_id
               ON CONFLICT (scope, scope_id) DO UPDATE SET size = EXCLUDED.size"""
        )
        # subject_id: the booking, as the service records it (calls without a booking: the call's own id)
        return await conn.fetchval(
            """WITH numbered AS (
                   SELECT l.log_id, audit.log_name('facility', a.facility_id) AS log_name, a.officer_id,
                          a.action, coalesce(a.booking_id::text, a.payload->>'call_id') AS subject_id,
                          a.at, a.payload,
                          row_number() OVER (PARTITION BY a.facility_id
                                             ORDER BY a.at, a.action, a.booking_id, a.payload->>'call_id') AS seq
                     FROM sim_audit a JOIN audit.logs l ON l.scope = 'facility' AND l.scope_id = a.facility_id),
               ins AS (
                   INSERT INTO audit.entries (log_id, seq, log_name, recorded_at, actor_type, actor_id, actor_role,
                                              action, subject_type, subject_id, payload, request_id, leaf_hash)
                   SELECT n.log_id, n.seq, n.log_name, n.at, 'user', n.officer_id::text, 'officer', n.action,
                          'booking', n.subject_id, n.payload, NULL,
                          sha256('\\x00'::bytea || convert_to(audit.canonical_entry(
                              n.log_name, n.seq, n.at, 'user', n.officer_id::text, 'officer', n.action, 'booking',
                              n.subject_id, n.payload, NULL), 'UTF8'))
                     FROM numbered n
                    ORDER BY n.log_id, n.seq
                   RETURNING 1)
               SELECT count(*) FROM ins"""
        )
