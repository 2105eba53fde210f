"""The incremental detector (the scheduled job) and the watchlist's hold on registration."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from audit.detection.engine import incremental_job, run_incremental
from audit.detection.watchlist import is_blocked
from wartel.config import Settings
from wartel.db import DatabaseTarget, create_pool
from wartel.jobs import JobSpec, all_jobs, run_once


@pytest.fixture
async def pool(database: DatabaseTarget, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        yield p
    finally:
        await p.close()


async def _end_call(conn: asyncpg.Connection, facility_id: int, booth_id: int, inmate_id: int, number: str) -> int:
    """A call that just ended, as the call lifecycle writes it (ended_at = now)."""
    return await conn.fetchval(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
        " VALUES ($1, $2, $3, $4, now() - interval '4 minutes', now(), 'completed') RETURNING call_id",
        facility_id, booth_id, inmate_id, number)


def test_the_detection_job_runs_every_two_seconds() -> None:
    (job,) = [j for j in all_jobs() if j.name == "detection_incremental"]
    assert job.every_s == 2 and job.func is incremental_job


async def test_a_flag_appears_within_seconds_of_the_call_that_triggers_it(owner_conn, factory, pool, settings) -> None:  # type: ignore[no-untyped-def]
    job = JobSpec("detection_incremental", incremental_job, every_s=2)
    assert await run_once(pool, settings, job)  # first pass: starts following changes from now
    region = await factory.region()
    ring = "+6287766600022"
    calls = []
    for _ in range(3):
        fid = await factory.facility(region)
        calls.append(await _end_call(owner_conn, fid, await factory.booth(fid), await factory.inmate(fid), ring))
    started = time.perf_counter()
    assert await run_once(pool, settings, job)
    elapsed = time.perf_counter() - started
    flag = await owner_conn.fetchrow("SELECT * FROM detection_flags WHERE rule_id = 'shared_number'")
    assert flag is not None and flag["subject_key"] == ring
    assert sorted(c for i in flag["evidence"]["inmates"] for c in i["call_ids"]) == sorted(calls)
    assert elapsed < 5, f"an incremental pass took {elapsed:.1f} s"
    # Nothing changed since: the next pass touches nothing and duplicates nothing.
    results = await run_incremental(pool)
    assert sum(r.inserted for r in results) == 0
    assert await owner_conn.fetchval("SELECT count(*) FROM detection_flags WHERE rule_id = 'shared_number'") == 1


async def test_registering_a_watched_number_raises_a_flag(owner_conn, factory, pool) -> None:  # type: ignore[no-untyped-def]
    await run_incremental(pool)
    region = await factory.region()
    fid = await factory.facility(region)
    inmate = await factory.inmate(fid)
    await owner_conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('region', $1, 'prefix', '+6281999', 'watched', 'jaringan narkoba')", region)
    officer = await factory.as_role("officer", facility_id=fid)
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "081999123456", "name": "Teman", "relation": "other"})
    assert r.status == 201, await r.text()
    contact_id = (await r.json())["id"]
    await run_incremental(pool)
    flag = await owner_conn.fetchrow("SELECT * FROM detection_flags WHERE rule_id = 'watched_number'")
    assert flag is not None and flag["subject_key"] == "+6281999123456", flag
    assert flag["evidence"]["contact_ids"] == [contact_id] and flag["evidence"]["modes"] == ["watched"]


async def test_blocked_numbers_follow_their_scope(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    r1, r2 = await factory.region(), await factory.region()
    a, b, c = await factory.facility(r1), await factory.facility(r1), await factory.facility(r2)
    await owner_conn.execute(
        """INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason) VALUES
           ('facility', $1, 'number', '+6281100000001', 'blocked', 'a'),
           ('region', $2, 'number', '+6281100000002', 'blocked', 'b'),
           ('national', 0, 'prefix', '+62809', 'blocked', 'premium'),
           ('national', 0, 'number', '+6281100000003', 'watched', 'watched only')""", a, r1)
    assert await is_blocked(owner_conn, "+6281100000001", a) and not await is_blocked(owner_conn, "+6281100000001", b)
    assert await is_blocked(owner_conn, "+6281100000002", b) and not await is_blocked(owner_conn, "+6281100000002", c)
    assert await is_blocked(owner_conn, "+628091234567", c)
    assert not await is_blocked(owner_conn, "+6281100000003", a)
    await owner_conn.execute("UPDATE watchlist SET removed_at = now(), removed_by = $1 WHERE pattern = '+62809'",
                             await factory.user("admin"))
    assert not await is_blocked(owner_conn, "+628091234567", c)


async def test_watchlist_api_adds_and_removes_entries_with_audit(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    region = await factory.region()
    fid = await factory.facility(region)
    sec = await factory.as_role("security", facility_id=fid)
    r = await sec.post("/api/v1/watchlist", json={"pattern": "0812 3456 7890", "mode": "blocked", "scope": "facility",
                                                  "scope_id": fid, "reason": "penipuan"})
    assert r.status == 201, await r.text()
    entry = await r.json()
    assert entry["pattern"] == "+6281234567890" and await is_blocked(owner_conn, "+6281234567890", fid)
    r = await sec.post("/api/v1/watchlist", json={"pattern": "+62812", "pattern_kind": "prefix", "mode": "watched",
                                                  "scope": "region", "scope_id": region, "reason": "x"})
    assert r.status == 404, await r.text()  # facility staff cannot set a regional entry
    r = await sec.post("/api/v1/watchlist", json={"pattern": "12ab", "pattern_kind": "prefix", "mode": "watched",
                                                  "scope": "facility", "scope_id": fid, "reason": "x"})
    assert r.status == 400 and (await r.json())["field"] == "pattern", await r.text()
    r = await sec.delete(f"/api/v1/watchlist/{entry['id']}")
    assert r.status == 204, await r.text()
    assert not await is_blocked(owner_conn, "+6281234567890", fid)
    actions = [r["action"] for r in await owner_conn.fetch(
        "SELECT action FROM audit.entries e JOIN audit.logs l USING (log_id) WHERE l.scope = 'facility'"
        " AND l.scope_id = $1 ORDER BY seq", fid)]
    assert actions == ["watchlist.entry_added", "watchlist.entry_removed"]


async def test_first_pass_starts_from_now_and_sweeps_absence_rules(owner_conn, factory, pool) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    inmate = await factory.inmate(fid)
    booth = await factory.booth(fid)
    await owner_conn.execute(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
        " VALUES ($1, $2, $3, '+6281200000009', now() - interval '30 days', now() - interval '30 days'"
        " + interval '5 minutes', 'completed')", fid, booth, inmate)
    results = await run_incremental(pool, now=datetime.now(UTC) + timedelta(seconds=1))
    assert "rights_starvation" in {r.rule_id for r in results}
    flag = await owner_conn.fetchrow("SELECT * FROM detection_flags WHERE rule_id = 'rights_starvation'")
    assert flag is not None and flag["subject_key"] == str(inmate) and flag["evidence"]["ongoing"] is True


async def test_a_suspended_inmate_is_not_reported_as_starved_of_calls(owner_conn, factory, pool) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    starved, suspended = await factory.inmate(fid), await factory.inmate(fid)
    booth = await factory.booth(fid)
    officer = await factory.user("officer", facility_id=fid)
    for inmate in (starved, suspended):
        await owner_conn.execute(
            "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
            " VALUES ($1, $2, $3, '+6281200000009', now() - interval '30 days', now() - interval '30 days'"
            " + interval '5 minutes', 'completed')", fid, booth, inmate)
    await owner_conn.execute(
        "INSERT INTO sanctions (inmate_id, imposed_at_facility_id, kind, during, reason, created_by)"
        " VALUES ($1, $2, 'suspend', tstzrange(now() - interval '20 days', now() + interval '5 days'),"
        " 'pelanggaran tata tertib', $3)", suspended, fid, officer)
    await run_incremental(pool, now=datetime.now(UTC) + timedelta(seconds=1))
    flagged = {r["subject_key"] for r in await owner_conn.fetch(
        "SELECT subject_key FROM detection_flags WHERE rule_id = 'rights_starvation'")}
    assert flagged == {str(starved)}
