"""Every detection pattern, injected at a known place in a simulated region, and the ground truth.

Truth entries say, per rule, which subjects must be flagged (``expected``), which may legitimately be
flagged as a side effect of an injection (``tolerated``: counted neither right nor wrong), and which
subjects must never be flagged (``negatives``: households sharing a home number, legal aid offices).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from audit import Actor, LogRef, append
from audit.log import TAMPER_ACTION
from wartel.simulate.generate import LEGAL_AID_NUMBERS, Region
from wartel.simulate.lookalikes import add_lookalikes

NUMBER_RULES = (
    "shared_number",
    "shared_registration",
    "prefix_hopping",
    "overlapping_calls",
    "released_link",
    "premium_international",
    "watched_number",
)


@dataclass
class Truth:
    region_id: int
    start: str
    end: str
    seed: int
    expected: list[dict[str, Any]] = field(default_factory=list)
    tolerated: list[dict[str, Any]] = field(default_factory=list)
    negatives: list[dict[str, Any]] = field(default_factory=list)
    lookalikes: dict[str, Any] = field(default_factory=dict)

    def expect(self, rule: str, subject_type: str, key: object, note: str) -> None:
        self.expected.append(
            {"rule": rule, "subject_type": subject_type, "subject_key": str(key), "note": note}
        )

    def tolerate(self, rule: str, subject_type: str, key: object) -> None:
        self.tolerated.append({"rule": rule, "subject_type": subject_type, "subject_key": str(key)})

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


@dataclass
class Inmate:
    inmate_id: int
    facility_id: int
    g: int
    time_zone: str
    nums: list[str]
    officers: list[int]
    booth_ids: list[int]


class Injector:
    def __init__(self, conn: asyncpg.Connection, region: Region, truth: Truth) -> None:
        self.conn = conn
        self.region = region
        self.truth = truth
        self.end = region.end
        self._seq = 0
        self._pool: list[Inmate] = []
        self.regional_user = 0

    def number(self, prefix: str = "+62877") -> str:
        self._seq += 1
        return f"{prefix}{(self.region.seed * 7919 + self._seq * 104729) % 10**8:08d}"

    def at(self, tz: str, days_back: int, hh: int, mm: int = 0, day: date | None = None) -> datetime:
        d = day or (self.end - timedelta(days=days_back))
        return datetime.combine(d, time(hh, mm), ZoneInfo(tz)).astimezone(UTC)

    def week_start(self, days_back: int) -> date:
        """Monday (UTC) of the 7-day detection bucket containing that day."""
        d = self.end - timedelta(days=days_back)
        return d - timedelta(days=d.weekday())

    async def load(self) -> None:
        rows = await self.conn.fetch(
            """SELECT inmate_id, facility_id, g, time_zone, nums, officers, booth_ids FROM sim_plan
                WHERE released_on IS NULL AND admitted_on < $1::date - 60 AND g % 40 >= 4 AND g % 10 <> 3
                  AND g % 3 >= 1
                ORDER BY (g * 7919) % 100003""",
            self.region.start,
        )
        self._pool = [Inmate(**dict(r)) for r in rows]
        self.regional_user = await self.conn.fetchval(
            "SELECT id FROM users WHERE role = 'security' AND scope_region_id = $1", self.region.region_id
        )

    def inmate(self, *, not_in: set[int] | None = None) -> Inmate:
        """A plain inmate (no household, no counsel, two or more family numbers) from a facility not in ``not_in``."""
        if not self._pool:
            raise RuntimeError("the simulated region has too few inmates for every pattern")
        for i, p in enumerate(self._pool):
            if not not_in or p.facility_id not in not_in:
                return self._pool.pop(i)
        return self._pool.pop(0)  # fewer facilities than asked for: share one

    def spread(self, n: int) -> list[Inmate]:
        chosen: list[Inmate] = []
        for _ in range(n):
            chosen.append(self.inmate(not_in={c.facility_id for c in chosen}))
        return chosen

    async def contact(
        self,
        who: Inmate,
        phone: str,
        *,
        relation: str = "other",
        status: str = "verified",
        at: datetime | None = None,
        created_by: int | None = None,
        verified_by: int | None = None,
        method: str = "callback",
    ) -> int:
        at = at or self.at(who.time_zone, 30, 10)
        created_by = created_by or who.officers[0]
        verified_by = verified_by or who.officers[1]
        return await self.conn.fetchval(
            """INSERT INTO contacts (inmate_id, phone_e164, name, relation, status, verification_method, verified_by,
                                     verified_at, created_by, created_at, updated_at)
               VALUES ($1, $2, 'Kontak', $3, $4, CASE WHEN $4 = 'verified' THEN $5 END,
                       CASE WHEN $4 = 'verified' THEN $6::bigint END, CASE WHEN $4 = 'verified' THEN $7::timestamptz END,
                       $8, $7, $7) RETURNING id""",
            who.inmate_id,
            phone,
            relation,
            status,
            method,
            verified_by,
            at,
            created_by,
        )

    async def call(
        self,
        who: Inmate,
        num: str,
        start: datetime,
        seconds: int = 360,
        *,
        answered: bool = True,
        outcome: str | None = None,
        source: str = "officer",
        booking_id: int | None = None,
        ended_by: int | None = None,
    ) -> int:
        outcome = outcome or ("completed" if answered else "not_answered")
        # An injected call adds to the inmate's week: a rise of their volume is a side effect, not an error.
        self.truth.tolerate("volume_change", "inmate", who.inmate_id)
        return await self.conn.fetchval(
            """INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, dialled_e164, started_at, answered,
                                  ended_at, outcome, supervised_by, ended_by, cut_off_reason, source)
               VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7, $6::timestamptz + make_interval(secs => $8::int), $9, $10, $11,
                       CASE WHEN $9 = 'cut_off' THEN 'pelanggaran tata tertib' END, $12) RETURNING call_id""",
            who.facility_id,
            booking_id,
            who.booth_ids[-1],
            who.inmate_id,
            num,
            start,
            answered,
            seconds,
            outcome,
            who.officers[2],
            ended_by,
            source,
        )

    async def booking(
        self,
        who: Inmate,
        officer: int,
        slot: datetime,
        *,
        booth: int = -1,
        status: str = "no_show",
        override: bool = False,
        booked_at: datetime | None = None,
        cancelled_by: int | None = None,
        cancel_reason: str | None = None,
    ) -> int:
        contact_id = await self.conn.fetchval(
            "SELECT id FROM contacts WHERE inmate_id = $1 AND NOT is_legal_counsel ORDER BY id LIMIT 1",
            who.inmate_id,
        )
        return await self.conn.fetchval(
            """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start, max_minutes,
                                     is_override, override_reason, booked_by, booked_at, cancelled_by, cancelled_at,
                                     cancel_reason, updated_at)
               VALUES ($1, $2, $3, $4, tstzrange($5::timestamptz, $5::timestamptz + interval '15 minutes'), $6,
                       $5::timestamptz::date, 15, $7::boolean, CASE WHEN $7::boolean THEN 'kuota darurat' END, $8,
                       $9::timestamptz, $10::bigint,
                       CASE WHEN $10::bigint IS NOT NULL THEN $9::timestamptz + interval '30 minutes' END, $11,
                       $5::timestamptz)
               RETURNING booking_id""",
            who.facility_id,
            who.booth_ids[booth],
            who.inmate_id,
            contact_id,
            slot,
            status,
            override,
            officer,
            booked_at or slot - timedelta(days=1),
            cancelled_by,
            cancel_reason,
        )

    async def drop_calls(self, who: Inmate, since: datetime, until: datetime) -> None:
        await self.conn.execute(
            """WITH gone AS (DELETE FROM calls WHERE inmate_id = $1 AND started_at >= $2 AND started_at < $3
                             RETURNING facility_id, booking_id)
               UPDATE bookings b SET status = 'no_show' FROM gone
                WHERE b.facility_id = gone.facility_id AND b.booking_id = gone.booking_id""",
            who.inmate_id,
            since,
            until,
        )

    def week_bounds(self, days_back: int) -> tuple[datetime, datetime]:
        monday = self.week_start(days_back)
        start = datetime.combine(monday, time(0), UTC)
        return start, start + timedelta(days=7)


async def inject_patterns(conn: asyncpg.Connection, region: Region, *, lookalikes: bool = False) -> Truth:
    """Inject one instance of every pattern (two for volume change) and return the ground truth.

    ``lookalikes`` also writes the benign situations real regions have (``wartel.simulate.lookalikes``)
    around inmates and officers the patterns left alone."""
    truth = Truth(region.region_id, region.start.isoformat(), region.end.isoformat(), region.seed)
    j = Injector(conn, region, truth)
    await j.load()
    plain = [p.inmate_id for p in j._pool]
    base_call_id = await conn.fetchval("SELECT coalesce(max(call_id), 0) FROM calls")
    base_booking_id = await conn.fetchval("SELECT coalesce(max(booking_id), 0) FROM bookings")

    # 1. A ring number called by four inmates in different facilities (registered as "other").
    x1 = j.number()
    for k, who in enumerate(j.spread(4)):
        await j.contact(who, x1, at=j.at(who.time_zone, 14, 10))
        for d in (10 - k, 6 - k):
            await j.call(who, x1, j.at(who.time_zone, d, 14, 20))
    truth.expect("shared_number", "number", x1, "ring number called by 4 inmates in 4 facilities")
    truth.expect("shared_registration", "number", x1, "the ring number is on 4 contact lists")

    # 2. A number registered (pending) by three inmates, never called.
    x2 = j.number()
    for who in j.spread(3):
        await j.contact(who, x2, status="pending", at=j.at(who.time_zone, 3, 9))
    truth.expect("shared_registration", "number", x2, "registered by 3 inmates")

    # 3. Volume: a rise (13 calls in one week) and a drop (no call in a week after steady weeks).
    rise = j.inmate()
    monday = j.week_start(17)
    for k in range(10):
        d = monday + timedelta(days=k % 5)
        await j.call(rise, rise.nums[k % len(rise.nums)], j.at(rise.time_zone, 0, 14, 2 * k, day=d), 200)
    truth.expect("volume_change", "inmate", rise.inmate_id, "13 calls in a week against 3")
    # the drop is "against 3": an inmate who made at least three calls in each of the four weeks before
    lo, hi = j.week_bounds(24)
    drop = None
    for k, cand in enumerate(j._pool):
        weeks = await conn.fetchval(
            """SELECT count(*) FROM (SELECT detection_bucket(started_at, 7) FROM calls
                WHERE inmate_id = $1 AND started_at >= $2 AND started_at < $3
                GROUP BY 1 HAVING count(*) >= 3) w""",
            cand.inmate_id,
            lo - timedelta(days=28),
            lo,
        )
        if weeks == 4:
            drop = j._pool.pop(k)
            break
    drop = drop or j.inmate()
    await j.drop_calls(drop, lo, hi)
    truth.expect("volume_change", "inmate", drop.inmate_id, "no call in a week against 3")

    # 4. A number of a recently released inmate, now called by another inmate.
    released, caller = j.spread(2)
    x4 = j.number()
    await j.contact(released, x4, at=j.at(released.time_zone, 60, 10))
    for d in (45, 40):
        await j.call(released, x4, j.at(released.time_zone, d, 14, 30))
    release_day = region.end - timedelta(days=30)
    await j.drop_calls(released, j.at(released.time_zone, 30, 0), j.at(released.time_zone, -1, 0))
    await conn.execute(
        "DELETE FROM bookings WHERE inmate_id = $1 AND lower(slot) >= $2 AND booking_id NOT IN"
        " (SELECT booking_id FROM calls WHERE inmate_id = $1 AND booking_id IS NOT NULL)",
        released.inmate_id,
        j.at(released.time_zone, 30, 0),
    )
    await conn.execute(
        "UPDATE inmates SET status = 'released', released_on = $2 WHERE id = $1",
        released.inmate_id,
        release_day,
    )
    await j.contact(caller, x4, at=j.at(caller.time_zone, 8, 10))
    for d in (6, 4):
        await j.call(caller, x4, j.at(caller.time_zone, d, 14, 30))
    truth.expect("released_link", "number", x4, "called by an inmate released 30 days ago")

    # 5. A watched number (regional watchlist), registered and called.
    watcher = j.inmate()
    x5 = j.number()
    await conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason, created_by)"
        " VALUES ('region', $1, 'number', $2, 'watched', 'simulasi: nomor dipantau', $3)",
        region.region_id,
        x5,
        j.regional_user,
    )
    await j.contact(watcher, x5, relation="relative", at=j.at(watcher.time_zone, 5, 10))
    await j.call(watcher, x5, j.at(watcher.time_zone, 3, 14, 30))
    truth.expect("watched_number", "number", x5, "regional watched number called")

    # 6. A staff member's own number on an inmate's list, and called.
    staffer = j.inmate()
    officer = staffer.officers[-1]
    staff_phone = await conn.fetchval("SELECT phone_e164 FROM users WHERE id = $1", officer)
    await j.contact(staffer, staff_phone, relation="relative", at=j.at(staffer.time_zone, 20, 10))
    for d in (18, 14, 10):
        await j.call(staffer, staff_phone, j.at(staffer.time_zone, d, 14, 30))
    truth.expect("staff_number", "officer", officer, "inmate calls an officer's own number")

    # 7. Random dialling from a kiosk: ten never-called numbers in 40 minutes, short and mostly unanswered.
    dialler = j.inmate()
    for k in range(10):
        await j.call(
            dialler,
            j.number("+62813"),
            j.at(dialler.time_zone, 2, 14, 4 * k),
            8,
            answered=k % 3 == 0,
            source="kiosk",
        )
    truth.expect("new_number_burst", "inmate", dialler.inmate_id, "10 new numbers in 40 minutes")
    truth.expect("kiosk_mismatch", "inmate", dialler.inmate_id, "kiosk calls without a booking")
    truth.tolerate("volume_change", "inmate", dialler.inmate_id)
    truth.tolerate("contact_churn", "inmate", dialler.inmate_id)

    # 8. Prefix hopping: five inmates, five numbers of one range.
    base = f"+62812777{region.seed % 10000:04d}"
    for k, who in enumerate(j.spread(5)):
        num = f"{base}{k:02d}"
        await j.contact(who, num, at=j.at(who.time_zone, 20, 10))
        for d in (16 - k, 9 - k):
            await j.call(who, num, j.at(who.time_zone, d, 14, 40))
    truth.expect("prefix_hopping", "prefix", base, "5 inmates calling 5 numbers of one range")

    # 9. Contact churn: a week of four new numbers instead of the family.
    churner = j.inmate()
    lo, hi = j.week_bounds(10)
    await j.drop_calls(churner, lo, hi)
    monday = j.week_start(10)
    for k in range(4):
        num = j.number("+62815")
        await j.contact(churner, num, relation="relative", at=j.at(churner.time_zone, 0, 9, day=monday))
        await j.call(churner, num, j.at(churner.time_zone, 0, 14, 30, day=monday + timedelta(days=k)))
    truth.expect("contact_churn", "inmate", churner.inmate_id, "4 new numbers replace the family in a week")

    # 10. A confirmed fraudster's numbers, now called by another inmate.
    fraudster, follower = j.spread(2)
    ring = [j.number("+62816") for _ in range(4)]
    for k, num in enumerate(ring):
        await j.contact(fraudster, num, at=j.at(fraudster.time_zone, 55, 10))
        await j.call(fraudster, num, j.at(fraudster.time_zone, 50 - k * 3, 14, 30))
    await conn.execute(
        """INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,
                                        facility_ids, severity, weight, evidence, status, last_event_at, reviewed_by,
                                        reviewed_at, review_reason)
           VALUES ('new_number_burst', 1, $1, 'inmate', $2, $3, ARRAY[$4::bigint], 'high', 4,
                   '{"simulated": "confirmed before the period"}', 'confirmed', $3, $5, $3, 'simulasi')""",
        region.region_id,
        str(fraudster.inmate_id),
        j.at("UTC", 60, 0),
        fraudster.facility_id,
        j.regional_user,
    )
    for k, num in enumerate(ring[:3]):
        await j.contact(follower, num, at=j.at(follower.time_zone, 9, 10))
        await j.call(follower, num, j.at(follower.time_zone, 8 - 2 * k, 14, 30))
    truth.expect(
        "fraud_set_overlap", "inmate", follower.inmate_id, "calls 3 of a confirmed fraudster's 4 numbers"
    )
    # The fraudster's own switch to four new numbers is a genuine change of contacts.
    truth.tolerate("contact_churn", "inmate", fraudster.inmate_id)
    truth.tolerate("contact_churn", "inmate", follower.inmate_id)

    # 11. International and premium-rate numbers.
    caller11 = j.inmate()
    intl, premium = f"+4420794{region.seed % 100000:05d}", f"+62809{region.seed % 1000000:06d}"
    for k, num in enumerate((intl, premium)):
        await j.contact(caller11, num, status="pending", at=j.at(caller11.time_zone, 7, 10))
        await j.call(caller11, num, j.at(caller11.time_zone, 6 - k, 14, 30), 90)
        truth.expect("premium_international", "number", num, "international / premium number")

    # 12. Four of one inmate's calls cut off by officers within a month.
    cut = j.inmate()
    rows = await conn.fetch(
        "SELECT facility_id, call_id FROM calls WHERE inmate_id = $1 AND started_at < $2 ORDER BY started_at DESC LIMIT 4",
        cut.inmate_id,
        j.at(cut.time_zone, 1, 0),
    )
    for r in rows:
        await conn.execute(
            "UPDATE calls SET outcome = 'cut_off', ended_by = supervised_by, cut_off_reason = 'pelanggaran',"
            " answered = true WHERE facility_id = $1 AND call_id = $2",
            r["facility_id"],
            r["call_id"],
        )
        await conn.execute(
            "UPDATE calls SET ended_by = $3 WHERE facility_id = $1 AND call_id = $2 AND ended_by IS NULL",
            r["facility_id"],
            r["call_id"],
            cut.officers[0],
        )
    truth.expect("repeated_cutoffs", "inmate", cut.inmate_id, "4 calls cut off in a month")
    # cut-off calls are not completed calls: the last weeks may leave the inmate without one for 14 days
    truth.tolerate("rights_starvation", "inmate", cut.inmate_id)

    # 13. Two inmates' calls to one number overlapping for four minutes.
    z = j.number()
    a, b = j.spread(2)
    same_instant = j.at("UTC", 3, 7, 0)
    for who, shift in ((a, 0), (b, 60)):
        await j.contact(who, z, relation="relative", at=j.at(who.time_zone, 10, 10))
        await j.call(who, z, same_instant + timedelta(seconds=shift), 300)
    truth.expect("overlapping_calls", "number", z, "bridged call: 4 minutes of overlap")

    # 14-17. Officer integrity, each in a facility of its own.
    facilities: set[int] = set()
    subjects = j.spread(4)
    for s in subjects:
        facilities.add(s.facility_id)

    async def others_in(facility_id: int, n: int) -> list[Inmate]:
        out: list[Inmate] = []
        for i in range(len(j._pool) - 1, -1, -1):
            if j._pool[i].facility_id == facility_id:
                out.append(j._pool.pop(i))
                if len(out) == n:
                    break
        return out

    # 14. Override rate: twelve overrides in one week against peers' one or two.
    o14 = subjects[0]
    overrider = o14.officers[0]
    monday = j.week_start(12)
    beneficiaries = [o14, *await others_in(o14.facility_id, 11)]
    for k, who in enumerate(beneficiaries):
        # Tuesday to Friday, booked the day before: every override falls in the same detection week.
        slot = j.at(who.time_zone, 0, 14, 15 * (k % 3), day=monday + timedelta(days=1 + k // 3))
        await j.booking(who, overrider, slot, booth=k % len(who.booth_ids), override=True)
    truth.expect("override_rate", "officer", overrider, "12 overrides in a week")

    # 15. Favouritism: six of eight overrides in a month for one inmate.
    o15 = subjects[1]
    favourer = o15.officers[1]
    others = await others_in(o15.facility_id, 2)
    for k in range(8):
        who = o15 if k < 6 else others[k - 6]
        slot = j.at(who.time_zone, 25 - 3 * k, 14, 30)
        await j.booking(who, favourer, slot, booth=0, override=True)
    truth.expect("favouritism", "officer", favourer, "6 of 8 overrides to one inmate")
    truth.tolerate("override_rate", "officer", favourer)

    # 16. Out of hours: four bookings made at 22:00-22:45 local.
    o16 = subjects[2]
    night_owl = o16.officers[2]
    targets = [o16, *await others_in(o16.facility_id, 3)]
    for k, who in enumerate(targets):
        slot = j.at(who.time_zone, 2, 14, 15 * k)
        await j.booking(
            who, night_owl, slot, booth=k % len(who.booth_ids), booked_at=j.at(who.time_zone, 4, 22, 15 * k)
        )
    truth.expect("out_of_hours", "officer", night_owl, "4 bookings made at night")

    # 17. Self-correction: verifying contacts one registered, cancelling one's own bookings on the
    # facility's account, and correcting one's own audit subject.
    o17 = subjects[3]
    corrector = o17.officers[3]
    for _ in range(2):
        await j.contact(
            o17,
            j.number("+62817"),
            relation="relative",
            at=j.at(o17.time_zone, 6, 10),
            created_by=corrector,
            verified_by=corrector,
            method="ktp",
        )
    cancelled_for = [o17, *await others_in(o17.facility_id, 2)]
    for k, who in enumerate(cancelled_for):
        slot = j.at(who.time_zone, 9, 14, 15 * k)
        await j.booking(
            who,
            corrector,
            slot,
            booth=k % len(who.booth_ids),
            status="cancelled",
            booked_at=slot - timedelta(days=1, hours=2),
            cancelled_by=corrector,
            # one "booth broke down" among them: a technical cancellation on an ordinary day still counts
            cancel_reason="technical" if k == 0 else "facility",
        )
    truth.expect("self_correction", "officer", corrector, "self-verification and self-cancellation")
    truth.tolerate("override_rate", "officer", corrector)
    truth.tolerate("out_of_hours", "officer", corrector)

    # 18. A blocked attempt to change audit data, recorded by the audit log.
    tamperer = subjects[0].officers[4]
    actor = Actor(type="user", id=str(tamperer), role="officer")
    async with conn.transaction():
        booking_ref = f"sim-{secrets.token_hex(4)}"
        await append(
            conn,
            LogRef.facility(o17.facility_id),
            action="booking.created",
            subject_type="booking",
            subject_id=booking_ref,
            payload={"simulated": True},
            actor=Actor(type="user", id=str(corrector), role="officer"),
        )
        await append(
            conn,
            LogRef.facility(o17.facility_id),
            action="booking.corrected",
            subject_type="booking",
            subject_id=booking_ref,
            payload={"simulated": True},
            actor=Actor(type="user", id=str(corrector), role="officer"),
        )
        await append(
            conn,
            LogRef.facility(subjects[0].facility_id),
            action=TAMPER_ACTION,
            subject_type="audit_entry",
            subject_id="entries",
            payload={"severity": "high", "simulated": True},
            actor=actor,
        )
    truth.expect("audit_tamper", "officer", tamperer, "blocked UPDATE of audit entries")
    truth.tolerate("out_of_hours", "officer", tamperer)

    # An officer cutting off two in five of the calls they supervise for two weeks (peers: about 0.2 %).
    o21 = j.inmate()
    cutter = o21.officers[5]
    lo, _ = j.week_bounds(27)
    _, hi = j.week_bounds(20)
    affected = await conn.fetch(
        """WITH cut AS (
               UPDATE calls SET outcome = 'cut_off', ended_by = supervised_by, answered = true,
                                cut_off_reason = 'pelanggaran tata tertib', ended_at = started_at + interval '2 minutes'
                WHERE supervised_by = $1 AND started_at >= $2 AND started_at < $3 AND call_id % 5 < 2
                  AND outcome IN ('completed', 'time_limited')
                RETURNING facility_id, booking_id, inmate_id),
           booked AS (
               UPDATE bookings b SET status = 'cut_off' FROM cut
                WHERE b.facility_id = cut.facility_id AND b.booking_id = cut.booking_id)
           SELECT DISTINCT inmate_id FROM cut""",
        cutter,
        lo,
        hi,
    )
    truth.expect("officer_cutoff_rate", "officer", cutter, "cuts off 40 % of the calls they supervise")
    for r in affected:
        # The inmates cut off by that officer are cut off repeatedly (and may go two weeks without a call).
        truth.tolerate("repeated_cutoffs", "inmate", r["inmate_id"])
        truth.tolerate("rights_starvation", "inmate", r["inmate_id"])

    # 19. Rights starvation: no call at all for the last twenty days.
    starved = j.inmate()
    await j.drop_calls(starved, j.at(starved.time_zone, 20, 0), j.at(starved.time_zone, -1, 0))
    truth.expect("rights_starvation", "inmate", starved.inmate_id, "no completed call for 20 days")
    truth.tolerate("volume_change", "inmate", starved.inmate_id)

    # 20. A kiosk dialling another number than the one booked.
    kiosk = await conn.fetchrow(
        """SELECT b.facility_id, b.booking_id, b.booth_id, b.inmate_id, lower(b.slot) AS slot
             FROM bookings b JOIN sim_plan p ON p.inmate_id = b.inmate_id
            WHERE b.status = 'completed' AND p.g % 40 >= 4 AND p.g % 10 <> 3 AND b.inmate_id = ANY($1::bigint[])
              AND lower(b.slot) >= $2 ORDER BY b.booking_id LIMIT 1""",
        [p.inmate_id for p in j._pool],
        j.at("UTC", 6, 0),
    )
    if kiosk is not None:
        device = await conn.fetchval(
            "INSERT INTO devices (facility_id, booth_id, name, token_hash) VALUES ($1, $2, 'Terminal simulasi', $3)"
            " RETURNING device_id",
            kiosk["facility_id"],
            kiosk["booth_id"],
            secrets.token_bytes(32),
        )
        await conn.execute(
            """INSERT INTO call_events (facility_id, device_id, booth_id, booking_id, kind, dialled_e164, occurred_at,
                                        received_at, accepted, mismatch)
               VALUES ($1, $2, $3, $4, 'dialled', $5, $6, $6, false, 'number_not_booked')""",
            kiosk["facility_id"],
            device,
            kiosk["booth_id"],
            kiosk["booking_id"],
            j.number("+62818"),
            kiosk["slot"] + timedelta(minutes=1),
        )
        truth.expect(
            "kiosk_mismatch", "inmate", kiosk["inmate_id"], "kiosk dialled another number than booked"
        )

    # Known negatives: shared household numbers and legal aid offices must never be flagged by number rules.
    households = await conn.fetch(
        """SELECT DISTINCT k.phone_e164 FROM contacts k JOIN sim_plan p ON p.inmate_id = k.inmate_id
            WHERE k.relation = 'parent' AND k.phone_e164 LIKE '+6282%' LIMIT 50"""
    )
    for r in households:
        truth.negatives.append(
            {
                "subject_type": "number",
                "subject_key": r["phone_e164"],
                "reason": "household",
                "rules": list(NUMBER_RULES),
            }
        )
    for num in LEGAL_AID_NUMBERS:
        truth.negatives.append(
            {"subject_type": "number", "subject_key": num, "reason": "legal_aid", "rules": list(NUMBER_RULES)}
        )
    if lookalikes:
        truth.lookalikes = await add_lookalikes(
            conn,
            region_id=region.region_id,
            seed=region.seed,
            start=region.start,
            end=region.end,
            free_inmates=[p.inmate_id for p in j._pool],
            injected_inmates=sorted(set(plain) - {p.inmate_id for p in j._pool}),
            base_call_id=base_call_id,
            base_booking_id=base_booking_id,
            negatives=truth.negatives,
        )
    await conn.execute("ANALYZE calls")
    return truth
