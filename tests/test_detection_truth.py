"""One truth (issue 20): a rescan finds what the live path finds, every regional parameter is the one the
query uses, each officer action counts once, check-ins the service allows are not out of hours, and the
first pass after install rescans history. Every test chooses its instant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from audit import Actor, LogRef, append
from audit.detection.catalogue import BY_ID, RULES
from audit.detection.engine import run_full, run_incremental, run_rule
from audit.detection.review import validate_params
from wartel.config import Settings
from wartel.db import DatabaseTarget, create_pool
from wartel.simulate import simulate

# A fixed end for simulated regions: the tests must not depend on the day they run.
END = date(2026, 3, 2)
UNTIL = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
async def pool(database: DatabaseTarget, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        yield p
    finally:
        await p.close()


def _key(r: asyncpg.Record) -> tuple[str, str, str, str]:
    return (r["rule_id"], r["subject_type"], r["subject_key"], r["period_start"].isoformat())


async def _flag_map(conn: asyncpg.Connection) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT rule_id, subject_type, subject_key, period_start, evidence FROM detection_flags"
        " WHERE NOT evidence ? 'simulated'"
    )
    return {_key(r): r["evidence"] for r in rows}


async def _cutoff(
    conn: asyncpg.Connection, facility_id: int, booth: int, inmate: int, officer: int, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome, answered,"
        " supervised_by, ended_by, cut_off_reason)"
        " VALUES ($1, $2, $3, '+6281234000111', $5, $5::timestamptz + interval '2 minutes', 'cut_off', true, $4, $4, 'pelanggaran')",
        facility_id,
        booth,
        inmate,
        officer,
        at,
    )


async def test_a_full_rescan_finds_exactly_what_the_live_path_found(owner_conn, pool, factory) -> None:  # type: ignore[no-untyped-def]
    region, _ = await simulate(owner_conn, facilities=4, inmates=160, days=56, seed=3, end=END)
    start = datetime.combine(region.start, time(), UTC)
    # Patterns straddling a 30-day period boundary, which the fixed periods of the old rescan split in two:
    # three cut-offs of one inmate, and three self-cancellations on the facility's account by one officer.
    boundary = BY_ID["repeated_cutoffs"].defaults["window_days"]
    edge = await owner_conn.fetchval("SELECT detection_bucket($1, $2)", UNTIL - timedelta(days=10), boundary)
    assert start < edge - timedelta(days=10)
    fid = region.facility_ids[0]
    booth = await owner_conn.fetchval("SELECT min(booth_id) FROM booths WHERE facility_id = $1", fid)
    officer = await owner_conn.fetchval(
        "SELECT min(id) FROM users WHERE scope_facility_id = $1 AND role = 'officer'", fid
    )
    inmate = await factory.inmate(fid)
    for days in (-4, -1, 2):
        await _cutoff(owner_conn, fid, booth, inmate, officer, edge + timedelta(days=days, hours=3))
    contact = await factory.contact(inmate)
    for k, days in enumerate((-5, -2, 3)):
        slot = edge + timedelta(days=days, hours=6, minutes=15 * k)
        await owner_conn.execute(
            "INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start, max_minutes,"
            " booked_by, booked_at, cancelled_by, cancelled_at, cancel_reason, updated_at)"
            " VALUES ($1, $2, $3, $4, tstzrange($5::timestamptz, $5::timestamptz + interval '15 minutes'), 'cancelled', $5::date, 15, $6,"
            " $5::timestamptz - interval '1 day', $6, $5::timestamptz - interval '20 hours', 'facility', $5::timestamptz - interval '20 hours')",
            fid,
            booth,
            inmate,
            contact,
            slot,
            officer,
        )

    # The live path, replayed: the scheduled pass every 12 hours over the whole period, up to UNTIL.
    await owner_conn.execute("DELETE FROM detection_flags WHERE NOT evidence ? 'simulated'")
    await run_incremental(pool, now=start)  # first pass: nothing before the region's start
    at = start
    while at < UNTIL:
        at = min(at + timedelta(hours=12), UNTIL)
        # (the job runs one due sweep per pass, every 2 s; replayed every 12 h, each pass runs them all)
        await run_incremental(pool, now=at, max_sweeps=None)
    live = await _flag_map(owner_conn)

    await owner_conn.execute("DELETE FROM detection_flags WHERE NOT evidence ? 'simulated'")
    await run_full(pool, since=start, until=UNTIL)
    full = await _flag_map(owner_conn)

    assert ("repeated_cutoffs", "inmate", str(inmate)) in {k[:3] for k in full}
    assert ("self_correction", "officer", str(officer)) in {k[:3] for k in full}
    assert {"fraud_set_overlap", "shared_number", "prefix_hopping", "favouritism"} <= {k[0] for k in full}
    assert sorted(set(live) ^ set(full)) == []
    differing = {k: (live[k], full[k]) for k in full if live[k] != full[k]}
    assert differing == {}, json.dumps({str(k): v for k, v in differing.items()}, default=str)[:3000]


# For each rule and parameter: (other parameters set first, the parameter's new value). Each change must
# change what the rule reports on the simulated region (flags, periods or evidence).
CHANGES: dict[str, dict[str, tuple[dict[str, Any], Any]]] = {
    "shared_number": {"min_inmates": ({}, 100), "window_days": ({}, 7), "household_max": ({}, 0)},
    "shared_registration": {"min_inmates": ({}, 100), "household_max": ({}, 0), "period_days": ({}, 7)},
    "volume_change": {
        "z_threshold": ({}, 100),
        "min_delta": ({}, 100),
        "mad_floor": ({}, 100),
        "min_excess_sd": ({}, 100),
        "min_factor_inmates": ({}, 10**6),
        "max_p": ({}, 1e-30),
        "min_block_peers": ({"z_threshold": 0.5, "min_delta": 1, "min_excess_sd": 0}, 100000),
    },
    "released_link": {"released_days": ({}, 0), "window_days": ({}, 7)},
    "watched_number": {"window_days": ({}, 30)},
    "staff_number": {"window_days": ({}, 7)},
    "new_number_burst": {
        "window_minutes": ({}, 1),
        "min_new_numbers": ({}, 100),
        "max_median_duration_s": ({"min_answer_rate": 0}, 0),
        "min_answer_rate": ({"max_median_duration_s": 0}, 0),
    },
    "prefix_hopping": {
        "min_inmates": ({}, 100),
        "min_numbers": ({}, 100),
        "drop_digits": ({}, 3),
        "window_days": ({}, 7),
    },
    "contact_churn": {"max_churn": ({}, 1.0), "min_current": ({}, 100), "min_previous": ({}, 100)},
    "fraud_set_overlap": {
        "min_dice": ({}, 1.0),
        "min_common": ({}, 100),
        "window_days": ({}, 7),
        "fraud_history_days": ({}, 1),
    },
    "premium_international": {
        "domestic_prefixes": ({}, []),
        "premium_prefixes": ({}, []),
        "allowed_prefixes": ({}, ["+44", "+62809"]),
        "window_days": ({}, 7),
    },
    "repeated_cutoffs": {"min_cut_offs": ({}, 100), "window_days": ({}, 1)},
    "overlapping_calls": {"min_overlap_s": ({}, 100000), "window_days": ({}, 30)},
    "override_rate": {
        "z_threshold": ({}, 100),
        "min_actions": ({}, 100),
        "min_peers": ({}, 100),
        "mad_floor": ({}, 100),
        "min_excess_sd": ({}, 100),
        "max_p": ({}, 1e-30),
        "audit_actions": (
            {"min_peers": 1, "min_actions": 1, "z_threshold": 0, "min_excess_sd": 0, "max_p": 1},
            [],
        ),
    },
    "favouritism": {"max_share": ({}, 1.0), "min_overrides": ({}, 100), "window_days": ({}, 1)},
    "out_of_hours": {"min_actions": ({}, 100), "min_peer_officers": ({}, 0)},
    "self_correction": {
        "min_self_cancellations": ({"min_self_verifications": 100, "min_self_corrections": 100}, 100),
        "min_self_verifications": ({"min_self_cancellations": 100, "min_self_corrections": 100}, 100),
        "min_self_corrections": ({"min_self_cancellations": 100, "min_self_verifications": 100}, 100),
        "window_days": ({}, 1),
        "correction_actions": ({}, []),
        "outage_cancellations": ({"min_self_verifications": 100, "min_self_corrections": 100}, 1),
    },
    "officer_cutoff_rate": {
        "history_weeks": ({}, 1),
        "min_cut_offs": ({}, 1000),
        "prior_calls": ({}, 10**6),
        "min_ratio": ({}, 1000),
        "min_excess": ({}, 1),
        "min_peer_calls": ({}, 10**6),
    },
    "rights_starvation": {"max_days": ({}, 1000)},
}


async def _outcome(
    conn: asyncpg.Connection,
    region_id: int,
    rule_id: str,
    params: dict[str, Any],
    since: datetime,
    until: datetime,
) -> set[str]:
    await conn.execute(
        "DELETE FROM detection_flags WHERE rule_id = $1 AND NOT evidence ? 'simulated'", rule_id
    )
    await conn.execute(
        "INSERT INTO detection_rule_params (region_id, rule_id, params) VALUES ($1, $2, $3::text::jsonb)"
        " ON CONFLICT (region_id, rule_id) DO UPDATE SET params = EXCLUDED.params",
        region_id,
        rule_id,
        json.dumps(params),
    )
    await run_rule(conn, BY_ID[rule_id], since=since, until=until)
    rows = await conn.fetch(
        "SELECT subject_type, subject_key, period_start, evidence FROM detection_flags WHERE rule_id = $1",
        rule_id,
    )
    # Thresholds are echoed in the evidence: leave them out, the change must show in what was found.
    return {
        json.dumps(
            [
                r["subject_type"],
                r["subject_key"],
                r["period_start"].isoformat(),
                {k: v for k, v in r["evidence"].items() if k != "thresholds"},
            ],
            sort_keys=True,
            default=str,
        )
        for r in rows
    }


async def test_every_regional_parameter_changes_what_its_rule_finds(owner_conn) -> None:  # type: ignore[no-untyped-def]
    region, truth = await simulate(owner_conn, facilities=4, inmates=200, days=63, seed=7, end=END)
    since = datetime.combine(region.start, time(), UTC)
    # The audit log keeps its own time: rules reading it are evaluated as of now, the others as of UNTIL.
    now = await owner_conn.fetchval("SELECT now() + interval '1 second'")
    # Listed audit actions (recorded now: the audit log keeps its own time) by one of the simulated officers;
    # override_rate judges complete weeks, so that case is evaluated as of the end of this week.
    officer = next(int(e["subject_key"]) for e in truth.expected if e["rule"] == "override_rate")
    fid = await owner_conn.fetchval("SELECT scope_facility_id FROM users WHERE id = $1", officer)
    async with owner_conn.transaction():
        for k in range(3):
            await append(
                owner_conn,
                LogRef.facility(fid),
                action="quota.override",
                subject_type="inmate",
                subject_id=str(k),
                payload={},
                actor=Actor(type="user", id=str(officer), role="officer"),
            )
    # ... and a peer who only booked this week, so that the three stand out
    peer = await owner_conn.fetchval(
        "SELECT min(id) FROM users WHERE scope_facility_id = $1 AND role = 'officer' AND id <> $2",
        fid,
        officer,
    )
    await owner_conn.execute(
        """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start, max_minutes,
                                 booked_by, booked_at, updated_at)
           SELECT $1, (SELECT min(booth_id) FROM booths WHERE facility_id = $1), k.inmate_id, k.id,
                  tstzrange(now() + interval '3 days', now() + interval '3 days 15 minutes'), 'booked',
                  (now() + interval '3 days')::date, 15, $2, now(), now()
             FROM contacts k JOIN inmates i ON i.id = k.inmate_id
            WHERE i.current_facility_id = $1 AND NOT k.is_legal_counsel AND k.status = 'verified' LIMIT 1""",
        fid,
        peer,
    )
    week_end = await owner_conn.fetchval("SELECT detection_bucket(now(), 7) + interval '7 days'")
    assert {rule: set(c) for rule, c in CHANGES.items()} == {
        r.id: set(r.defaults) for r in RULES if r.defaults
    }, "a parameter without a change to test"
    unchanged = []
    for rule_id, changes in CHANGES.items():
        for param, (base, value) in changes.items():
            # every value is one the API would accept (PUT /api/v1/detection/rules/{rule_id}/params)
            assert validate_params(rule_id, {**base, param: value}) == {**base, param: value}
            at = UNTIL
            if (rule_id, param) == ("override_rate", "audit_actions"):
                at = week_end
            elif rule_id == "self_correction":
                at = now
            before = await _outcome(owner_conn, region.region_id, rule_id, base, since, at)
            after = await _outcome(owner_conn, region.region_id, rule_id, {**base, param: value}, since, at)
            if before == after:
                unchanged.append((rule_id, param, len(before)))
    assert unchanged == []


async def test_each_officer_action_counts_once(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    """A booking and its audit entry are one action, for out_of_hours and for override_rate."""
    now = await owner_conn.fetchval("SELECT now()")
    local = now.astimezone(ZoneInfo("Asia/Jakarta"))
    region = await factory.region()
    fid = await factory.facility(region, hours=False)
    booth = await factory.booth(fid)
    officer = await factory.user("officer", facility_id=fid)
    # A shift that excludes the present hour, whatever hour the test runs at.
    await owner_conn.execute(
        "UPDATE users SET shift_starts = $2, shift_ends = $3 WHERE id = $1",
        officer,
        (local + timedelta(hours=2)).time().replace(microsecond=0),
        (local + timedelta(hours=3)).time().replace(microsecond=0),
    )
    inmate = await factory.inmate(fid)
    contact = await factory.contact(inmate)
    actor = Actor(type="user", id=str(officer), role="officer")
    for k in range(3):
        async with owner_conn.transaction():
            booking_id = await owner_conn.fetchval(
                "INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start,"
                " max_minutes, is_override, override_reason, booked_by, booked_at, updated_at)"
                " VALUES ($1, $2, $3, $4, tstzrange($5::timestamptz, $5::timestamptz + interval '15 minutes'), 'booked', $5::date, 15, true,"
                " 'darurat', $6, now(), now()) RETURNING booking_id",
                fid,
                booth,
                inmate,
                contact,
                now + timedelta(days=2, minutes=15 * k),
                officer,
            )
            await append(
                owner_conn,
                LogRef.facility(fid),
                action="booking.override",
                subject_type="booking",
                subject_id=str(booking_id),
                payload={},
                actor=actor,
            )
    # out_of_hours judges a day once the next is over everywhere (three UTC days after it starts)
    until = await owner_conn.fetchval("SELECT detection_bucket(now(), 1) + interval '3 days'")
    await run_rule(owner_conn, BY_ID["out_of_hours"], since=now, until=until)
    flag = await owner_conn.fetchrow("SELECT evidence FROM detection_flags WHERE rule_id = 'out_of_hours'")
    assert flag is not None and flag["evidence"]["count"] == 3, flag
    assert {a["kind"] for a in flag["evidence"]["actions"]} == {"booked"}

    # override_rate: even a region that lists "booking.override" counts each override once.
    await owner_conn.execute(
        "INSERT INTO detection_rule_params (region_id, rule_id, params) VALUES ($1, 'override_rate', $2::text::jsonb)",
        region,
        json.dumps(
            {
                "audit_actions": ["booking.override"],
                "min_peers": 1,
                "min_actions": 1,
                "z_threshold": -100,
                "min_excess_sd": 0,
                "max_p": 1,
            }
        ),
    )
    week_end = await owner_conn.fetchval("SELECT detection_bucket($1, 7) + interval '7 days'", now)
    await run_rule(owner_conn, BY_ID["override_rate"], since=now, until=week_end)
    flag = await owner_conn.fetchrow("SELECT evidence FROM detection_flags WHERE rule_id = 'override_rate'")
    assert flag is not None and flag["evidence"]["actions"] == 3 and flag["evidence"]["audit_actions"] == 0, (
        flag
    )


async def test_check_ins_the_service_allows_are_not_out_of_hours(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    tz = ZoneInfo("Asia/Makassar")
    day = date(2026, 2, 10)
    fid = await factory.facility(time_zone="Asia/Makassar")  # kiosk hours 08:00-16:00
    booth = await factory.booth(fid)
    early, late = (
        await factory.user("officer", facility_id=fid),
        await factory.user("officer", facility_id=fid),
    )
    await owner_conn.execute(
        "UPDATE users SET shift_starts = '07:00', shift_ends = '15:00' WHERE id = ANY($1::bigint[])",
        [early, late],
    )
    inmate = await factory.inmate(fid)
    contact = await factory.contact(inmate)
    for k in range(4):
        slot = datetime.combine(day + timedelta(days=k), time(8, 0), tz)
        # Officer "early" checks inmates in at 07:35 for the 08:00 slot (allowed from 30 minutes before);
        # officer "late" ends calls at 16:20 that started at 16:05, after the kiosk closed.
        await owner_conn.execute(
            "INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start, max_minutes,"
            " booked_by, booked_at, checked_in_by, checked_in_at, updated_at)"
            " VALUES ($1, $2, $3, $4, tstzrange($5::timestamptz, $5::timestamptz + interval '15 minutes'), 'completed', $5::date, 15, $6,"
            " $5::timestamptz - interval '1 day', $6, $5::timestamptz - interval '25 minutes', $5)",
            fid,
            booth,
            inmate,
            contact,
            slot,
            early,
        )
        await owner_conn.execute(
            "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome,"
            " supervised_by, ended_by) VALUES ($1, $2, $3, '+6281200000001', $4, $4::timestamptz + interval '15 minutes',"
            " 'completed', $5, $5)",
            fid,
            booth,
            inmate,
            datetime.combine(day, time(16, 5), tz) + timedelta(minutes=k),
            late,
        )
    until = datetime.combine(day + timedelta(days=5), time(0), tz)
    await run_rule(owner_conn, BY_ID["out_of_hours"], since=datetime.combine(day, time(0), tz), until=until)
    flagged = {
        r["subject_key"]
        for r in await owner_conn.fetch(
            "SELECT subject_key FROM detection_flags WHERE rule_id = 'out_of_hours'"
        )
    }
    assert flagged == {str(late)}


async def test_the_first_pass_after_install_rescans_history(owner_conn, factory, pool) -> None:  # type: ignore[no-untyped-def]
    """Patterns from before detection started are flagged by the first pass, not left for a rescan nobody runs."""
    now = await owner_conn.fetchval("SELECT now()")
    region = await factory.region()
    ring = "+6287766600033"
    for k in range(3):
        fid = await factory.facility(region)
        await owner_conn.execute(
            "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
            " VALUES ($1, $2, $3, $4, $5, $5::timestamptz + interval '5 minutes', 'completed')",
            fid,
            await factory.booth(fid),
            await factory.inmate(fid),
            ring,
            now - timedelta(days=40, hours=k),
        )
    await run_incremental(pool, now=now + timedelta(seconds=1))
    flag = await owner_conn.fetchrow("SELECT * FROM detection_flags WHERE rule_id = 'shared_number'")
    assert flag is not None and flag["subject_key"] == ring
    run = await owner_conn.fetchrow("SELECT * FROM detection_runs WHERE kind = 'full'")
    assert run is not None and set(run["per_rule"]) == {r.id for r in RULES}
    marks = {r["source"] for r in await owner_conn.fetch("SELECT source FROM detection_watermarks")}
    assert {f"rule:{r.id}" for r in RULES} | {"changes"} <= marks
    # The next pass does not rescan again.
    await run_incremental(pool, now=now + timedelta(seconds=2))
    assert await owner_conn.fetchval("SELECT count(*) FROM detection_runs WHERE kind = 'full'") == 1


async def test_the_job_runs_one_due_sweep_per_pass_the_most_overdue_first(owner_conn, pool) -> None:  # type: ignore[no-untyped-def]
    """A sweep reads a whole region's period: the 2-second job takes them one at a time."""
    now = await owner_conn.fetchval("SELECT now()")
    await run_incremental(pool, now=now)  # first pass: history rescanned, every rule's mark set
    sweepers = {r.id for r in RULES if r.sweep_s is not None}
    assert {"volume_change", "out_of_hours", "override_rate", "officer_cutoff_rate"} <= sweepers
    later = now + timedelta(seconds=max(BY_ID[r].sweep_s or 0 for r in sweepers) + 1)
    swept = []
    for _ in sweepers:
        results = await run_incremental(pool, now=later)
        swept.append({r.rule_id for r in results} & sweepers)
    assert all(len(s) == 1 for s in swept), swept
    assert set().union(*swept) == sweepers
    assert {r.rule_id for r in await run_incremental(pool, now=later)} & sweepers == set()


async def test_a_family_newly_verified_at_the_front_desk_is_not_contact_churn(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    """Churn is new numbers the inmate calls; relatives registered and verified as core family are not that."""
    region = await factory.region()
    fid = await factory.facility(region)
    booth = await factory.booth(fid)
    monday = datetime(2026, 1, 5, 3, tzinfo=UTC)  # a detection week starts on a Monday (UTC)
    flagged = {}
    for relation in ("child", "relative"):
        inmate = await factory.inmate(fid)
        old = [
            await factory.contact(inmate, relation="spouse"),
            await factory.contact(inmate, relation="parent"),
        ]
        numbers = [await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", c) for c in old]
        for week in range(5):
            for k, number in enumerate(numbers):
                await _call(owner_conn, fid, booth, inmate, number, monday + timedelta(weeks=week, days=k))
        # Week 6: three relatives registered and verified by KTP, and only they are called.
        registered = monday + timedelta(weeks=5)
        for k in range(3):
            number = f"+62813{inmate:04d}{k:04d}"
            await owner_conn.execute(
                "INSERT INTO contacts (inmate_id, phone_e164, name, relation, status, verification_method, verified_by,"
                " verified_at, created_at, updated_at) VALUES ($1, $2, 'Keluarga', $3, 'verified', 'ktp', $4, $5, $5, $5)",
                inmate,
                number,
                relation,
                await factory.user("officer", facility_id=fid),
                registered,
            )
            await _call(owner_conn, fid, booth, inmate, number, registered + timedelta(days=1 + k))
        flagged[relation] = inmate
    await run_rule(owner_conn, BY_ID["contact_churn"], since=monday, until=monday + timedelta(weeks=7))
    keys = {
        r["subject_key"]
        for r in await owner_conn.fetch(
            "SELECT subject_key FROM detection_flags WHERE rule_id = 'contact_churn'"
        )
    }
    assert keys == {str(flagged["relative"])}


async def _call(
    conn: asyncpg.Connection, facility_id: int, booth: int, inmate: int, number: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
        " VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '5 minutes', 'completed')",
        facility_id,
        booth,
        inmate,
        number,
        at,
    )
