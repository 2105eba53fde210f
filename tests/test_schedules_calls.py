"""The supervised call lifecycle: transitions, refund rules for every end state, jobs run once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from schedules.jobs import close_overdue_calls, overdue_call_job, sweep_no_shows
from tests.schedules_support import booking_body, make_live_site, next_slot, set_policy, used
from wartel.db import create_pool
from wartel.jobs import JobSpec, run_once


async def _book(site, skip: int = 0, booth: int = 0) -> dict:  # type: ignore[no-untyped-def]
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz, skip=skip), booth=booth))
    assert r.status == 201, await r.text()
    return await r.json()


async def _post(site, booking_id: int, action: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return await site.officer.post(f"/api/v1/bookings/{booking_id}/{action}", json=body or {})


@pytest.mark.parametrize("outcome,charged", [
    ("completed", 1), ("time_limited", 1), ("cut_off", 1), ("technical_failure", 0), ("not_answered", 0)])
async def test_each_end_state_consumes_or_gives_back_the_call(factory, owner_conn, outcome, charged) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    b = await _book(site)
    assert await used(site) == 1
    r = await _post(site, b["booking_id"], "check-in")
    assert r.status == 200, await r.text()
    assert (await r.json())["status"] == "checked_in"
    key = {"Idempotency-Key": f"start-{b['booking_id']}"}
    r = await site.officer.post(f"/api/v1/bookings/{b['booking_id']}/start-call", headers=key)
    assert r.status == 201, await r.text()
    call = await r.json()
    assert call["supervised_by"] == site.officer_id and call["ended_at"] is None
    again = await site.officer.post(f"/api/v1/bookings/{b['booking_id']}/start-call", headers=key)
    assert again.status == 201 and (await again.json())["call_id"] == call["call_id"]
    body = {"outcome": outcome} | ({"reason": "mentioned a drug deal"} if outcome == "cut_off" else {})
    r = await _post(site, b["booking_id"], "end-call", body)
    assert r.status == 200, await r.text()
    ended = await r.json()
    assert ended["status"] == outcome and ended["refunded"] is (charged == 0)
    assert await used(site) == charged
    row = await owner_conn.fetchrow("SELECT outcome, ended_by, cut_off_reason FROM calls WHERE call_id = $1",
                                    call["call_id"])
    assert row["outcome"] == outcome and row["ended_by"] == site.officer_id
    actions = [r["action"] for r in await owner_conn.fetch(
        "SELECT action FROM audit.entries WHERE subject_type = 'booking' AND subject_id = $1 ORDER BY seq",
        str(b["booking_id"]))]
    assert actions == ["booking.created", "booking.checked_in", "call.started", "call.ended"]


async def test_transitions_outside_the_graph_are_refused(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    b = await _book(site)
    for action, body in [("start-call", {}), ("end-call", {"outcome": "completed"})]:
        r = await _post(site, b["booking_id"], action, body)
        assert r.status == 409 and (await r.json())["code"] == "invalid_transition", await r.text()
    assert (await _post(site, b["booking_id"], "check-in")).status == 200
    r = await _post(site, b["booking_id"], "check-in")
    assert r.status == 409 and (await r.json())["code"] == "invalid_transition"
    r = await _post(site, b["booking_id"], "reschedule", {"starts_at": next_slot(site.tz, skip=3).isoformat()})
    assert r.status == 409 and (await r.json())["code"] == "invalid_transition"
    assert (await _post(site, b["booking_id"], "start-call")).status == 201
    r = await _post(site, b["booking_id"], "cancel", {"reason": "facility"})
    assert r.status == 409 and (await r.json())["code"] == "invalid_transition"
    r = await _post(site, b["booking_id"], "end-call", {"outcome": "cut_off"})
    assert r.status == 422 and (await r.json())["code"] == "cut_off_reason_required"
    r = await _post(site, b["booking_id"], "end-call", {"outcome": "no_show"})
    assert r.status == 422 and (await r.json())["field"] == "outcome"
    assert (await _post(site, b["booking_id"], "end-call", {"outcome": "completed"})).status == 200
    r = await _post(site, b["booking_id"], "end-call", {"outcome": "completed"})
    assert r.status == 409 and (await r.json())["code"] == "invalid_transition"


async def test_check_in_is_refused_too_early(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz, skip=8)))
    b = await r.json()
    r = await _post(site, b["booking_id"], "check-in")
    assert r.status == 409 and (await r.json())["code"] == "check_in_too_early", await r.text()


async def test_no_show_follows_the_policy_version_the_booking_was_made_under(factory, app_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory, no_show_consumes=True)
    consuming = await _book(site)
    await set_policy(factory, facility_id=site.facility_id, no_show_consumes=False)
    lenient = await _book(site, skip=1)
    assert lenient["policy_version"] == consuming["policy_version"] + 1
    assert await used(site) == 2
    counts = await sweep_no_shows(app_conn, now=next_slot(site.tz, skip=1) + timedelta(hours=1))
    assert counts == {"no_show": 2, "cancelled": 0}
    statuses = {r["booking_id"]: (r["status"], r["refunded"]) for r in await app_conn.fetch(
        "SELECT booking_id, status, refunded FROM bookings")}
    assert statuses[consuming["booking_id"]] == ("no_show", False)
    assert statuses[lenient["booking_id"]] == ("no_show", True)
    assert await used(site) == 1


async def test_checked_in_but_never_called_is_the_facility_s_fault_and_refunded(factory, app_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    b = await _book(site)
    assert (await _post(site, b["booking_id"], "check-in")).status == 200
    counts = await sweep_no_shows(app_conn, now=next_slot(site.tz) + timedelta(hours=1))
    assert counts == {"no_show": 0, "cancelled": 1}
    assert await used(site) == 0


async def test_overdue_calls_are_ended_as_time_limited_once_across_two_processes(factory, database, settings,
                                                                                  owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    b = await _book(site)
    assert (await _post(site, b["booking_id"], "check-in")).status == 200
    call = await (await _post(site, b["booking_id"], "start-call")).json()
    limit_at = await owner_conn.fetchval("SELECT limit_at FROM calls WHERE call_id = $1", call["call_id"])
    assert limit_at is not None
    # Not yet overdue: nothing happens.
    assert await close_overdue_calls(owner_conn, now=limit_at - timedelta(seconds=1)) == 0
    await owner_conn.execute("UPDATE calls SET limit_at = now() - interval '1 second' WHERE call_id = $1",
                             call["call_id"])

    async def slow_closer(pool, s):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)  # long enough for the other process to find the lock taken
        return await overdue_call_job(pool, s)

    spec = JobSpec("overdue_call_closer", slow_closer, every_s=15)
    pool_a = await create_pool(database.app_dsn, settings, min_size=1)
    pool_b = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        ran = await asyncio.gather(run_once(pool_a, settings, spec), run_once(pool_b, settings, spec))
    finally:
        await pool_a.close()
        await pool_b.close()
    assert sorted(ran) == [False, True]
    row = await owner_conn.fetchrow("SELECT status, charged FROM bookings WHERE booking_id = $1", b["booking_id"])
    assert dict(row) == {"status": "time_limited", "charged": True}
    ended = await owner_conn.fetch(
        "SELECT actor_type, actor_id FROM audit.entries WHERE action = 'call.ended' AND subject_id = $1",
        str(b["booking_id"]))
    assert [tuple(e) for e in ended] == [("system", "overdue_call_closer")]
