"""Benign look-alikes: what real regions do that resembles a pattern and is not one (issue 20).

Each situation is generated from what is reported about Indonesian facilities (shared/context/domain.md),
not from the rules' thresholds: demand rising about 30 % around a public holiday for everyone at once,
families of migrant workers calling abroad, a kiosk outage with its bookings cancelled on the facility's
account, a facility going live mid-period, a new officer taking over part of the work, a facility adding an
afternoon session without updating its officers' registered shifts, and inmates registering a large
verified family. Households sharing a home number and legal aid offices come from the generator itself.

Every subject involved is written to the ground truth as a negative (``lookalike`` reason) for the rules
it resembles, so `wartel detect evaluate` reports flags on look-alikes separately. Only the generator's own
rows are changed (ids up to those it wrote), never an injected pattern's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

INMATE_RULES = (
    "volume_change",
    "contact_churn",
    "rights_starvation",
    "repeated_cutoffs",
    "new_number_burst",
    "fraud_set_overlap",
    "kiosk_mismatch",
)
NUMBER_RULES = (
    "shared_number",
    "shared_registration",
    "prefix_hopping",
    "overlapping_calls",
    "released_link",
    "premium_international",
    "watched_number",
)
OFFICER_RULES = (
    "override_rate",
    "favouritism",
    "out_of_hours",
    "self_correction",
    "officer_cutoff_rate",
    "staff_number",
    "audit_tamper",
)
# Countries where Indonesian migrant workers are many (Malaysia, Saudi Arabia, Hong Kong, Taiwan, Singapore).
ABROAD = ("+6012", "+96650", "+8529", "+8869", "+659")
# Extra holiday calls per inmate ~ Poisson(30 % of their usual week: 0.9 for three calls, 1.2 for four),
# capped at four (the booths and the quota bound what a family can get). Cumulative probabilities.
POISSON_CDF = {3: (0.4066, 0.7725, 0.9371, 0.9865), 4: (0.3012, 0.6626, 0.8795, 0.9662)}


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


async def add_lookalikes(
    conn: asyncpg.Connection,
    *,
    region_id: int,
    seed: int,
    start: date,
    end: date,
    free_inmates: list[int],
    injected_inmates: list[int],
    base_call_id: int,
    base_booking_id: int,
    negatives: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write every look-alike into the region; append their subjects to ``negatives``; return a summary.

    ``free_inmates``: inmates no pattern involves; ``injected_inmates``: those a pattern involves, whose
    bookings the outage leaves alone (a drop injected in the outage week would otherwise be explained away).
    """
    facilities = [
        r["id"]
        for r in await conn.fetch("SELECT id FROM facilities WHERE region_id = $1 ORDER BY id", region_id)
    ]
    free = list(free_inmates)
    summary: dict[str, Any] = {}

    def negative(subject_type: str, key: object, reason: str, rules: tuple[str, ...]) -> None:
        negatives.append(
            {
                "subject_type": subject_type,
                "subject_key": str(key),
                "reason": f"lookalike:{reason}",
                "rules": list(rules),
            }
        )

    def take(n: int) -> list[int]:
        out = free[:n]
        del free[:n]
        return out

    # 1. A public holiday (Idul Fitri, Natal/Tahun Baru): every inmate of the region may call more that week,
    # about 30 % more calls each (see POISSON_CDF), to their own family numbers. (Inmates with an even
    # number in the generator call four times a week, the others three.)
    holiday = _monday(end - timedelta(days=38))
    if holiday - timedelta(days=28) >= start:
        added = await conn.fetchval(
            """WITH extra AS (
                   SELECT p.inmate_id, p.facility_id, p.time_zone, p.nums, p.contact_ids, p.officers, p.booth_ids, p.g,
                          k.k, abs(hashint8(($1::bigint * 1000003 + 31) * 10000019 + p.g * 10 + k.k)) AS h
                     FROM sim_plan p
                    CROSS JOIN LATERAL generate_series(1, cardinality($3::float8[])) k(k)
                    WHERE p.admitted_on < $2::date AND (p.released_on IS NULL OR p.released_on > $2::date + 7)
                      AND cardinality(p.nums) > 0
                      -- the k-th extra call exists when the inmate's Poisson(1) draw is at least k
                      AND (abs(hashint8(($1::bigint * 1000003 + 30) * 10000019 + p.g)) % 10000) / 10000.0
                          >= (CASE WHEN p.g % 2 = 0 THEN $4::float8[] ELSE $3::float8[] END)[k.k]),
               ins AS (
                   INSERT INTO calls (facility_id, booth_id, inmate_id, contact_id, dialled_e164, started_at, answered,
                                      ended_at, outcome, supervised_by, source)
                   SELECT e.facility_id, e.booth_ids[1 + e.h % cardinality(e.booth_ids)], e.inmate_id,
                          e.contact_ids[1 + e.h / 7 % cardinality(e.contact_ids)], e.nums[1 + e.h / 7 % cardinality(e.nums)],
                          (($2::date + (e.h / 11 % 7)::int) + time '08:00'
                           + make_interval(mins => 15 * (e.h / 101 % 24)::int)) AT TIME ZONE e.time_zone,
                          true,
                          (($2::date + (e.h / 11 % 7)::int) + time '08:00'
                           + make_interval(mins => 15 * (e.h / 101 % 24)::int, secs => 300 + (e.h / 13 % 500)::int))
                          AT TIME ZONE e.time_zone,
                          'completed', e.officers[1 + e.h / 17 % cardinality(e.officers)], 'officer'
                     FROM extra e
                   RETURNING inmate_id)
               SELECT count(*) FROM ins""",
            seed,
            holiday,
            list(POISSON_CDF[3]),
            list(POISSON_CDF[4]),
        )
        summary["holiday_week"] = holiday.isoformat()
        summary["holiday_extra_calls"] = added
        for inmate_id in free[:40]:
            negative("inmate", inmate_id, "holiday_surge", ("volume_change", "contact_churn"))

    # 2. Families of migrant workers: one in twenty-five inmates has a spouse, child or sibling working
    # abroad, registered and verified (KTP of the family at home, or a callback), called every third call.
    migrants = await conn.fetch(
        """SELECT p.inmate_id, p.g, p.admitted_on, p.officers, p.time_zone FROM sim_plan p
            WHERE p.inmate_id = ANY($1::bigint[]) AND abs(hashint8(($2::bigint * 1000003 + 32) * 10000019 + p.g)) % 25 = 0
            ORDER BY p.g""",
        free,
        seed,
    )
    for m in migrants:
        free.remove(m["inmate_id"])
        h = seed * 7919 + m["g"] * 31
        num = f"{ABROAD[m['g'] % len(ABROAD)]}{(seed * 7919 + m['g'] * 104729) % 10**7:07d}"
        contact_id = await conn.fetchval(
            """INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status, verification_method,
                                     verified_by, verified_at, created_by, created_at, updated_at)
               VALUES ($1, $2, 'Keluarga di luar negeri', $3, false, 'verified', $4, ($5::bigint[])[2], $6::timestamptz + interval '2 days',
                       ($5::bigint[])[1], $6::timestamptz, $6::timestamptz) RETURNING id""",
            m["inmate_id"],
            num,
            ("spouse", "child", "sibling")[h % 3],
            ("ktp", "callback")[h % 2],
            m["officers"],
            datetime.combine(
                max(m["admitted_on"], start - timedelta(days=60)), time(9), ZoneInfo(m["time_zone"])
            ),
        )
        await conn.execute(
            """UPDATE calls SET dialled_e164 = $2, contact_id = $3
                WHERE inmate_id = $1 AND call_id <= $4 AND call_id % 3 = 0""",
            m["inmate_id"],
            num,
            contact_id,
            base_call_id,
        )
        await conn.execute(
            "UPDATE bookings SET contact_id = $2 WHERE inmate_id = $1 AND booking_id <= $3 AND booking_id % 3 = 0",
            m["inmate_id"],
            contact_id,
            base_booking_id,
        )
        negative("number", num, "migrant_worker_family", NUMBER_RULES)
        negative("inmate", m["inmate_id"], "migrant_worker_family", INMATE_RULES)
    summary["migrant_families"] = len(migrants)

    # 3. A kiosk outage: two days without calls at one facility; the officers on duty cancel the day's
    # bookings on the facility's account (reason technical), the quota given back.
    outage_facility = facilities[-1]
    outage_day = end - timedelta(days=20)
    cancelled = await conn.fetch(
        """WITH hit AS (
               UPDATE bookings b SET status = 'cancelled', cancel_reason = 'technical',
                                     cancelled_by = coalesce(b.checked_in_by, b.booked_by),
                                     cancelled_at = lower(b.slot) - interval '20 minutes',
                                     checked_in_by = NULL, checked_in_at = NULL, updated_at = lower(b.slot)
                 FROM facilities f
                WHERE f.id = b.facility_id AND b.facility_id = $1 AND b.booking_id <= $4 AND b.status <> 'cancelled'
                  AND b.inmate_id <> ALL($5::bigint[])
                  AND (lower(b.slot) AT TIME ZONE f.time_zone)::date >= $2::date
                  AND (lower(b.slot) AT TIME ZONE f.time_zone)::date < $2::date + $3::int
               RETURNING b.facility_id, b.booking_id, b.cancelled_by)
           , gone AS (DELETE FROM calls c USING hit WHERE c.facility_id = hit.facility_id AND c.booking_id = hit.booking_id)
           SELECT DISTINCT cancelled_by FROM hit""",
        outage_facility,
        outage_day,
        2,
        base_booking_id,
        injected_inmates,
    )
    for r in cancelled:
        negative("officer", r["cancelled_by"], "kiosk_outage", OFFICER_RULES)
    summary["outage"] = {"facility_id": outage_facility, "day": outage_day.isoformat()}

    # 4. A facility going live mid-period: nothing recorded there before its first day.
    golive_facility = facilities[-2] if len(facilities) > 2 else facilities[0]
    golive_day = start + timedelta(days=21)
    await conn.execute(
        """DELETE FROM calls WHERE facility_id = $1 AND started_at < $2::date AND call_id <= $3""",
        golive_facility,
        golive_day,
        base_call_id,
    )
    await conn.execute(
        """DELETE FROM bookings b WHERE b.facility_id = $1 AND lower(b.slot) < $2::date AND b.booking_id <= $3
              AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.facility_id = b.facility_id AND c.booking_id = b.booking_id)""",
        golive_facility,
        golive_day,
        base_booking_id,
    )
    for inmate_id in [
        r["inmate_id"]
        for r in await conn.fetch(
            "SELECT inmate_id FROM sim_plan WHERE facility_id = $1 AND inmate_id = ANY($2::bigint[]) ORDER BY g LIMIT 20",
            golive_facility,
            free,
        )
    ]:
        negative(
            "inmate", inmate_id, "facility_go_live", ("volume_change", "rights_starvation", "contact_churn")
        )
    summary["go_live"] = {"facility_id": golive_facility, "day": golive_day.isoformat()}

    # 5. A new officer: joins a facility 30 days before the end and takes over one booking in seven (booking
    # and checking in; cancellations stay with the officer on duty who made them).
    newcomer_facility = facilities[0]
    joined = end - timedelta(days=30)
    newcomer = await conn.fetchval(
        """INSERT INTO users (username, full_name, password_hash, role, scope_facility_id)
           VALUES ('sim' || $1::bigint || 'new' || $2::bigint, 'Petugas Baru', '!', 'officer', $2::bigint) RETURNING id""",
        seed,
        newcomer_facility,
    )
    await conn.execute(
        """UPDATE bookings SET booked_by = $2::bigint, checked_in_by = CASE WHEN checked_in_by IS NOT NULL THEN $2::bigint END
            WHERE facility_id = $1 AND booking_id <= $4 AND lower(slot) >= $3::date AND booking_id % 7 = 0""",
        newcomer_facility,
        newcomer,
        joined,
        base_booking_id,
    )
    await conn.execute(
        """UPDATE calls SET supervised_by = $2::bigint, ended_by = CASE WHEN ended_by IS NOT NULL THEN $2::bigint END
            WHERE facility_id = $1 AND call_id <= $4 AND started_at >= $3::date AND booking_id % 7 = 0""",
        newcomer_facility,
        newcomer,
        joined,
        base_call_id,
    )
    negative("officer", newcomer, "new_officer", OFFICER_RULES)
    summary["new_officer"] = newcomer

    # 6. A shift change: a facility adds an afternoon session (kiosk open 08:00-21:00) 28 days before the end
    # and moves half its slots there; the officers' registered shifts (07:00-15:00) were never updated.
    shifted_facility = facilities[1]
    changed = end - timedelta(days=28)
    await conn.execute(
        "UPDATE opening_hours SET closes = time '21:00' WHERE facility_id = $1", shifted_facility
    )
    await conn.execute(
        """UPDATE bookings b SET slot = tstzrange(lower(b.slot) + interval '7 hours', upper(b.slot) + interval '7 hours'),
                                 booked_at = b.booked_at + interval '7 hours',
                                 checked_in_at = b.checked_in_at + interval '7 hours',
                                 cancelled_at = b.cancelled_at + interval '7 hours', updated_at = b.updated_at + interval '7 hours'
            WHERE b.facility_id = $1 AND b.booking_id <= $3 AND lower(b.slot) >= $2::date AND b.booking_id % 2 = 0""",
        shifted_facility,
        changed,
        base_booking_id,
    )
    await conn.execute(
        """UPDATE calls c SET started_at = c.started_at + interval '7 hours', ended_at = c.ended_at + interval '7 hours'
            WHERE c.facility_id = $1 AND c.call_id <= $3 AND c.started_at >= $2::date
              AND (c.booking_id % 2 = 0 OR (c.booking_id IS NULL AND c.call_id % 2 = 0))""",
        shifted_facility,
        changed,
        base_call_id,
    )
    for r in await conn.fetch(
        "SELECT id FROM users WHERE scope_facility_id = $1 AND role = 'officer' ORDER BY id", shifted_facility
    ):
        negative("officer", r["id"], "shift_change", ("out_of_hours",))
    summary["shift_change"] = {"facility_id": shifted_facility, "from": changed.isoformat()}

    # 7. Large verified families: inmates who, a few weeks into the period, register four more relatives
    # (KTP checked) and call them in turn with the family they had.
    large = take(3)
    for k, inmate_id in enumerate(large):
        row = await conn.fetchrow(
            "SELECT g, officers, nums, time_zone FROM sim_plan WHERE inmate_id = $1", inmate_id
        )
        registered = datetime.combine(end - timedelta(days=45 - 3 * k), time(9), ZoneInfo(row["time_zone"]))
        new_ids = []
        for r, relation in enumerate(("child", "child", "sibling", "parent")):
            num = f"+62813{(seed * 7919 + row['g'] * 1009 + r * 104729) % 10**8:08d}"
            new_ids.append(
                (
                    num,
                    await conn.fetchval(
                        """INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status,
                                         verification_method, verified_by, verified_at, created_by, created_at, updated_at)
                   VALUES ($1, $2, 'Keluarga', $3, false, 'verified', 'ktp', ($4::bigint[])[2], $5::timestamptz + interval '1 day',
                           ($4::bigint[])[1], $5::timestamptz, $5::timestamptz) RETURNING id""",
                        inmate_id,
                        num,
                        relation,
                        row["officers"],
                        registered,
                    ),
                )
            )
            negative("number", num, "large_family", NUMBER_RULES)
        # from then on, calls rotate over the old and the new numbers; the second family first calls only the
        # relatives it could not reach before, for two weeks
        await conn.execute(
            """UPDATE calls c SET dialled_e164 = ($4::text[])[1 + c.call_id % cardinality($4::text[])],
                                  contact_id = ($5::bigint[])[1 + c.call_id % cardinality($5::bigint[])]
                WHERE c.inmate_id = $1 AND c.call_id <= $3 AND c.started_at >= $2::timestamptz + interval '1 day'
                  AND (c.call_id % 2 = 0 OR ($6::boolean AND c.started_at < $2::timestamptz + interval '15 days'))""",
            inmate_id,
            registered,
            base_call_id,
            [n for n, _ in new_ids],
            [i for _, i in new_ids],
            k == 1,
        )
        negative("inmate", inmate_id, "large_family", INMATE_RULES)
    summary["large_families"] = len(large)
    await conn.execute("ANALYZE calls")
    await conn.execute("ANALYZE bookings")
    return summary
