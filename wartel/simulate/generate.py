"""The normal life of a simulated region, generated in bulk with INSERT … SELECT generate_series.

One region with facilities across WIB, WITA and WIT; inmates with families (some siblings share a home
number), some with a legal aid office; three calls a week on the inmate's own weekdays, in kiosk hours of
the facility's time zone; no-shows, unanswered calls, rare cut-offs; officers on 07:00-15:00 shifts who
book, check in, override now and then and cancel. Randomness comes from ``hashint8`` of the seed and row
numbers, so one seed always gives the same region. Written directly as the schema owner: this is test data
and needs no audit record per simulated call.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

OFFICERS_PER_FACILITY = 6
SLOTS_PER_DAY = 24  # 15-minute slots from 08:00 to 14:00 local time
TIME_ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
LEGAL_AID_NUMBERS = ("+62215550100", "+62215550101", "+62215550102")


@dataclass
class Region:
    region_id: int
    facility_ids: list[int]
    start: date
    end: date
    days: int
    seed: int
    booths_per_facility: int


async def generate_region(conn: asyncpg.Connection, *, facilities: int, inmates: int, days: int, seed: int,
                          end: date, booking_days: int | None = None) -> Region:
    """Create the region and its normal traffic. ``booking_days``: days (back from ``end``) whose calls get
    bookings; older calls are kept as calls only, so a region-year stays quick to generate."""
    start = end - timedelta(days=days)
    booking_days = days if booking_days is None else min(booking_days, days)
    per_facility = -(-inmates // facilities)
    booths = max(2, -(-(per_facility * 4 // 7 + 4) // SLOTS_PER_DAY) + 1)
    code = f"SIM{seed % 100000}{secrets.token_hex(2).upper()}"
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET max_parallel_workers_per_gather = 0")  # one order of evaluation: reproducible
    region_id = await conn.fetchval("INSERT INTO regions (code, name) VALUES ($1, $2) RETURNING id",
                                    code, f"Kanwil Simulasi {seed}")
    facility_ids = [r["id"] for r in await conn.fetch(
        """INSERT INTO facilities (region_id, code, name, kind, class, time_zone, slot_minutes, family_contact_cap)
           SELECT $1, $2 || '-' || g, 'Lapas Simulasi ' || $2 || ' ' || g,
                  CASE WHEN g % 5 = 0 THEN 'rutan' ELSE 'lapas' END, 'IIA', ($4::text[])[1 + g % 3], 15, 10
             FROM generate_series(1, $3) g ORDER BY g RETURNING id""",
        region_id, code, facilities, list(TIME_ZONES))]
    await conn.execute(
        """INSERT INTO opening_hours (facility_id, weekday, opens, closes)
           SELECT f, w, time '08:00', time '15:00' FROM unnest($1::bigint[]) f, generate_series(1, 7) w""",
        facility_ids)
    await conn.execute(
        """INSERT INTO booths (facility_id, name, kind)
           SELECT f, 'Bilik ' || b, CASE WHEN b % 4 = 0 THEN 'video' ELSE 'phone' END
             FROM unnest($1::bigint[]) f, generate_series(1, $2) b""", facility_ids, booths)
    await conn.execute(
        """INSERT INTO users (username, full_name, password_hash, role, scope_facility_id, phone_e164, shift_starts, shift_ends)
           SELECT lower($2) || 'f' || f || 'o' || k, 'Petugas ' || f || '-' || k, '!', 'officer', f,
                  '+6285' || lpad((abs(hashint8(($4::bigint * 1000003 + 1) * 10000019 + f * 100 + k))
                                   % 1000000000)::text, 9, '0'),
                  time '07:00', time '15:00'
             FROM unnest($1::bigint[]) f, generate_series(1, $3) k""",
        facility_ids, code, OFFICERS_PER_FACILITY, seed)
    await conn.execute(
        """INSERT INTO users (username, full_name, password_hash, role, scope_facility_id)
           SELECT lower($2) || 'f' || f || 's', 'Keamanan ' || f, '!', 'security', f FROM unnest($1::bigint[]) f""",
        facility_ids, code)
    await conn.execute(
        """INSERT INTO users (username, full_name, password_hash, role, scope_region_id)
           VALUES (lower($2) || 'reg', 'Keamanan Kanwil', '!', 'security', $1)""", region_id, code)
    await _inmates(conn, region_id, facility_ids, inmates, seed, start, days, code)
    await _contacts(conn, region_id, seed)
    await _traffic(conn, region_id, seed, start, days, booking_days, booths)
    for table in ("inmates", "contacts", "bookings", "calls", "users"):
        await conn.execute(f"ANALYZE {table}")  # identifiers from a fixed list
    return Region(region_id, facility_ids, start, end, days, seed, booths)


async def _inmates(conn: asyncpg.Connection, region_id: int, facility_ids: list[int], n: int, seed: int,
                   start: date, days: int, code: str) -> None:
    await conn.execute(
        """INSERT INTO inmates (registration_no, full_name, block, risk_level, status, admitted_on, released_on,
                                current_facility_id)
           SELECT $4 || '-' || g, 'WBP Simulasi ' || g, chr(65 + (x.h % 5)::int),
                  (ARRAY['low', 'medium', 'medium', 'high'])[1 + (x.h / 7 % 4)::int],
                  CASE WHEN x.released THEN 'released' ELSE 'active' END,
                  x.admitted, CASE WHEN x.released THEN $2::date + 30 + (x.h / 13 % greatest($3 - 40, 1))::int END,
                  ($1::bigint[])[1 + g % cardinality($1::bigint[])]
             FROM generate_series(0, $5 - 1) g
            CROSS JOIN LATERAL (
                  SELECT abs(hashint8(($6::bigint * 1000003 + 2) * 10000019 + g)) AS h) hh
            CROSS JOIN LATERAL (
                  SELECT hh.h,
                         CASE WHEN hh.h % 10 = 0 THEN $2::date + (hh.h / 11 % greatest($3 * 6 / 10, 1))::int
                              ELSE $2::date - 30 - (hh.h / 11 % 700)::int END AS admitted,
                         hh.h % 50 = 1 AND $3 > 60 AS released) x
            ORDER BY g""",
        facility_ids, start, days, code, n, seed)
    await conn.execute(
        """CREATE TEMP TABLE sim_inmate ON COMMIT PRESERVE ROWS AS
           SELECT i.id AS inmate_id, (split_part(i.registration_no, '-', 2))::int AS g,
                  i.current_facility_id AS facility_id, f.time_zone, i.admitted_on, i.released_on,
                  ((split_part(i.registration_no, '-', 2))::int / cardinality(fa.ids)) AS j, fa.ids
             FROM inmates i JOIN facilities f ON f.id = i.current_facility_id
            CROSS JOIN LATERAL (SELECT array_agg(id ORDER BY id) AS ids FROM facilities WHERE region_id = $1) fa
            WHERE f.region_id = $1""", region_id)
    await conn.execute("CREATE INDEX ON sim_inmate (g)")
    await conn.execute("ANALYZE sim_inmate")


async def _contacts(conn: asyncpg.Connection, region_id: int, seed: int) -> None:
    # Officers of each facility in a fixed order; the registering and the verifying officer always differ.
    await conn.execute(
        """CREATE TEMP TABLE sim_officer ON COMMIT PRESERVE ROWS AS
           SELECT scope_facility_id AS facility_id, array_agg(id ORDER BY id) AS ids
             FROM users WHERE role = 'officer' AND scope_facility_id IN (SELECT id FROM facilities WHERE region_id = $1)
            GROUP BY scope_facility_id""", region_id)
    await conn.execute(
        """INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status, verification_method,
                                 verified_by, verified_at, created_by, created_at, updated_at)
           SELECT s.inmate_id,
                  '+6281' || lpad((abs(hashint8(($1::bigint * 1000003 + 3) * 10000019 + s.g * 10 + k))
                                   % 1000000000)::text, 9, '0'), 'Keluarga ' || k,
                  (ARRAY['spouse', 'child', 'relative'])[k], false, 'verified', 'ktp',
                  o.ids[1 + (s.g + 1) % cardinality(o.ids)], s.admitted_on::timestamptz + interval '1 day',
                  o.ids[1 + s.g % cardinality(o.ids)], s.admitted_on::timestamptz, s.admitted_on::timestamptz
             FROM sim_inmate s JOIN sim_officer o USING (facility_id)
            CROSS JOIN LATERAL generate_series(1, 1 + (s.g % 3)) k""", seed)
    # Households: inmates g, g+1 (and g+2 every other group) are siblings, in different facilities, and
    # all registered their mother's number, identity checked: the known-negative "large family".
    await conn.execute(
        """INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status, verification_method,
                                 verified_by, verified_at, created_by, created_at, updated_at)
           SELECT s.inmate_id,
                  '+6282' || lpad((abs(hashint8(($1::bigint * 1000003 + 4) * 10000019 + s.g - s.g % 40))
                                   % 1000000000)::text, 9, '0'), 'Ibu', 'parent', false,
                  'verified', 'ktp', o.ids[1 + (s.g + 1) % cardinality(o.ids)],
                  s.admitted_on::timestamptz + interval '1 day', o.ids[1 + s.g % cardinality(o.ids)],
                  s.admitted_on::timestamptz, s.admitted_on::timestamptz
             FROM sim_inmate s JOIN sim_officer o USING (facility_id)
            WHERE s.g % 40 < CASE WHEN s.g % 80 < 40 THEN 3 ELSE 4 END""", seed)
    # Legal aid: one of three offices for every tenth inmate.
    await conn.execute(
        """INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status, verification_method,
                                verified_by, verified_at, created_by, created_at, updated_at)
           SELECT s.inmate_id, ($1::text[])[1 + s.g / 10 % 3], 'LBH', 'legal_counsel', true, 'verified', 'bar_card',
                  o.ids[1 + (s.g + 1) % cardinality(o.ids)], s.admitted_on::timestamptz + interval '1 day',
                  o.ids[1 + s.g % cardinality(o.ids)], s.admitted_on::timestamptz, s.admitted_on::timestamptz
             FROM sim_inmate s JOIN sim_officer o USING (facility_id) WHERE s.g % 10 = 3""",
        list(LEGAL_AID_NUMBERS))
    await conn.execute(
        """CREATE TEMP TABLE sim_plan ON COMMIT PRESERVE ROWS AS
           SELECT s.*, o.ids AS officers, bo.ids AS booth_ids,
                  array_agg(k.phone_e164 ORDER BY k.id) FILTER (WHERE NOT k.is_legal_counsel) AS nums,
                  array_agg(k.id ORDER BY k.id) FILTER (WHERE NOT k.is_legal_counsel) AS contact_ids,
                  min(k.phone_e164) FILTER (WHERE k.is_legal_counsel) AS counsel_num,
                  min(k.id) FILTER (WHERE k.is_legal_counsel) AS counsel_id
             FROM sim_inmate s JOIN sim_officer o USING (facility_id) JOIN contacts k ON k.inmate_id = s.inmate_id
             JOIN (SELECT facility_id, array_agg(booth_id ORDER BY booth_id) AS ids FROM booths GROUP BY facility_id) bo
                  USING (facility_id)
            GROUP BY s.inmate_id, s.g, s.facility_id, s.time_zone, s.admitted_on, s.released_on, s.j, s.ids, o.ids, bo.ids""")
    await conn.execute("ANALYZE sim_plan")


# One row per planned call: the inmate's three weekdays (offsets 0, 2, 4 from j; every other inmate a fourth,
# offset 5), a fixed slot per weekday,
# the family number in rotation (the legal aid office every other week), and its fate from a hash.
_PLANNED = """
SELECT p.inmate_id, p.facility_id, p.g, d.day, o.off, x.slot_idx,
       p.booth_ids[1 + x.slot_idx % $5] AS booth_id,
       ((d.day + time '08:00' + make_interval(mins => 15 * (x.slot_idx / $5)::int)) AT TIME ZONE p.time_zone) AS slot_start,
       CASE WHEN p.counsel_num IS NOT NULL AND o.off = 0 AND (d.n / 7) % 2 = 0 THEN p.counsel_num
            ELSE p.nums[1 + ((d.n / 7) * 3 + o.off) % cardinality(p.nums)] END AS num,
       CASE WHEN p.counsel_num IS NOT NULL AND o.off = 0 AND (d.n / 7) % 2 = 0 THEN p.counsel_id
            ELSE p.contact_ids[1 + ((d.n / 7) * 3 + o.off) % cardinality(p.contact_ids)] END AS contact_id,
       p.officers[1 + (d.n + x.slot_idx) % cardinality(p.officers)] AS on_duty,
       p.officers[1 + (d.n + p.g) % cardinality(p.officers)] AS booker,
       p.officers[1 + (d.n + p.g + 1) % cardinality(p.officers)] AS other_officer,
       hh.h % 1000 AS fate, hh.h / 1000 % 541 AS dur
  FROM sim_plan p
 CROSS JOIN LATERAL (SELECT n, ($1::date + n) AS day FROM generate_series($2, $3 - 1) n) d
 CROSS JOIN LATERAL (SELECT ((extract(isodow FROM d.day)::int - 1 - p.j) % 7 + 7) % 7 AS r) w
 CROSS JOIN LATERAL (SELECT CASE w.r WHEN 5 THEN 3 ELSE w.r / 2 END AS off
                      WHERE w.r IN (0, 2, 4) OR (w.r = 5 AND p.g % 2 = 0)) o
 CROSS JOIN LATERAL (SELECT (p.j / 7) * 4 + o.off AS slot_idx) x
 CROSS JOIN LATERAL (SELECT abs(hashint8(($4::bigint * 1000003 + 5) * 10000019 + p.g::bigint * 100000 + d.n)) AS h) hh
 WHERE d.day > p.admitted_on AND (p.released_on IS NULL OR d.day < p.released_on)
"""

# fate (per mille): < 40 no-show, < 100 not answered, < 102 cut off, < 110 technical failure,
# < 150 time limited, else completed. Among bookings: 10 of 1000 overrides, 12 cancellations.
_CALL_COLUMNS = """
       CASE WHEN fate < 100 THEN 'not_answered' WHEN fate < 102 THEN 'cut_off' WHEN fate < 110 THEN 'technical_failure'
            WHEN fate < 150 THEN 'time_limited' ELSE 'completed' END AS outcome,
       fate >= 100 AS answered,
       slot_start + make_interval(secs => CASE WHEN fate < 100 THEN 25 WHEN fate < 102 THEN 120
                                               WHEN fate < 110 THEN 40 WHEN fate < 150 THEN 840 ELSE 300 + dur END) AS ended_at
"""


async def _traffic(conn: asyncpg.Connection, region_id: int, seed: int, start: date, days: int, booking_days: int,
                   booths: int) -> None:
    first_booked = days - booking_days
    # Older history: calls only (officer-placed, no booking row kept).
    await conn.execute(
        """INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, contact_id, dialled_e164, started_at, answered,
                              ended_at, outcome, supervised_by, ended_by, cut_off_reason, source)
           SELECT facility_id, NULL, booth_id, inmate_id, contact_id, num, slot_start, answered, ended_at, outcome,
                  on_duty, CASE WHEN outcome = 'cut_off' THEN on_duty END,
                  CASE WHEN outcome = 'cut_off' THEN 'pelanggaran tata tertib' END, 'officer'
             FROM (SELECT pl.*, /*call_columns*/ FROM (/*planned*/) pl WHERE pl.fate >= 40) c""".replace(
            "/*call_columns*/", _CALL_COLUMNS).replace("/*planned*/", _PLANNED),
        start, 0, first_booked, seed, booths)
    if booking_days <= 0:
        return
    await conn.execute(
        """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, allowance, period_start,
                                 max_minutes, charged, is_override, override_reason, booked_by, booked_at,
                                 checked_in_by, checked_in_at, cancelled_by, cancelled_at, cancel_reason, updated_at)
           SELECT facility_id, booth_id, inmate_id, contact_id, tstzrange(slot_start, slot_start + interval '15 minutes'),
                  CASE WHEN fate % 997 < 12 THEN 'cancelled' WHEN fate < 40 THEN 'no_show' ELSE outcome END,
                  CASE WHEN num LIKE '+6221555%' THEN 'legal' ELSE 'family' END, day, 15, true,
                  dur % 100 = 7, CASE WHEN dur % 100 = 7 THEN 'kuota darurat keluarga' END,
                  booker, slot_start - interval '1 day',
                  CASE WHEN fate >= 40 AND fate % 997 >= 12 THEN on_duty END,
                  CASE WHEN fate >= 40 AND fate % 997 >= 12 THEN slot_start END,
                  CASE WHEN fate % 997 < 12 THEN other_officer END,
                  CASE WHEN fate % 997 < 12 THEN slot_start - interval '1 day' + interval '30 minutes' END,
                  CASE WHEN fate % 997 < 12 THEN (ARRAY['family', 'inmate', 'facility'])[1 + dur % 3] END,
                  slot_start
             FROM (SELECT pl.*, /*call_columns*/ FROM (/*planned*/) pl) c""".replace(
            "/*call_columns*/", _CALL_COLUMNS).replace("/*planned*/", _PLANNED),
        start, first_booked, days, seed, booths)
    await conn.execute(
        """INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, contact_id, dialled_e164, started_at, answered,
                              ended_at, outcome, supervised_by, ended_by, cut_off_reason, source)
           SELECT b.facility_id, b.booking_id, b.booth_id, b.inmate_id, b.contact_id, k.phone_e164, lower(b.slot),
                  b.status <> 'not_answered',
                  lower(b.slot) + make_interval(secs => CASE b.status WHEN 'not_answered' THEN 25 WHEN 'cut_off' THEN 120
                      WHEN 'technical_failure' THEN 40 WHEN 'time_limited' THEN 840
                      ELSE 300 + (b.booking_id * 7919 % 541)::int END),
                  b.status, b.checked_in_by, CASE WHEN b.status = 'cut_off' THEN b.checked_in_by END,
                  CASE WHEN b.status = 'cut_off' THEN 'pelanggaran tata tertib' END, 'officer'
             FROM bookings b JOIN contacts k ON k.id = b.contact_id
            WHERE b.facility_id IN (SELECT id FROM facilities WHERE region_id = $1)
              AND b.status IN ('completed', 'time_limited', 'cut_off', 'technical_failure', 'not_answered')""",
        region_id)


def region_window(region: Region) -> tuple[datetime, datetime]:
    return (datetime.combine(region.start, datetime.min.time(), UTC),
            datetime.combine(region.end, datetime.min.time(), UTC))
