"""Concurrency: one booking per booth slot, never a quota overdraw, also across two service instances."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from tests.factory import As
from tests.schedules_support import booking_body, make_site, slot_start


async def test_twenty_concurrent_requests_for_one_slot_make_exactly_one_booking(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    start = slot_start(site.tz)
    bodies = []
    for _ in range(20):
        inmate = await factory.inmate(site.facility_id)
        bodies.append(booking_body(site, start, inmate_id=inmate, contact_id=await factory.contact(inmate)))
    answers = await asyncio.gather(*[site.officer.post("/api/v1/bookings", json=b) for b in bodies])
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) == 1, statuses
    codes = {(await a.json())["code"] for a in answers if a.status != 201}
    assert codes == {"slot_taken"}, codes
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == 1
    assert await owner_conn.fetchval("SELECT sum(used) FROM quota_ledger") == 1


async def test_concurrent_bookings_for_one_inmate_never_overdraw_the_quota(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory, booths=4)
    # Different booths and non-overlapping slots, so only the quota can refuse.
    bodies = [booking_body(site, slot_start(site.tz, at=time(9 + i // 4, 15 * (i % 4))), booth=i % 4)
              for i in range(16)]
    answers = await asyncio.gather(*[site.officer.post("/api/v1/bookings", json=b) for b in bodies])
    statuses = [a.status for a in answers]
    assert statuses.count(201) == 2, statuses
    assert {(await a.json())["code"] for a in answers if a.status != 201} == {"quota_exhausted"}
    row = await owner_conn.fetchrow("SELECT allowed, used FROM quota_ledger WHERE inmate_id = $1", site.inmate_id)
    assert dict(row) == {"allowed": 2, "used": 2}
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM bookings WHERE inmate_id = $1 AND charged", site.inmate_id) == 2


async def test_two_service_instances_on_one_database_keep_both_rules(factory, owner_conn, settings, database) -> None:  # type: ignore[no-untyped-def]
    from wartel.app import create_app

    site = await make_site(factory, booths=3)
    start = slot_start(site.tz)
    second = TestClient(TestServer(create_app(settings, target=database, migrate=False)))
    await second.start_server()
    try:
        other = As(second, site.officer.token, site.officer_id)
        clients = [site.officer, other]
        # Hot slot: many inmates, two instances.
        bodies = []
        for _ in range(12):
            inmate = await factory.inmate(site.facility_id)
            bodies.append(booking_body(site, start, inmate_id=inmate, contact_id=await factory.contact(inmate)))
        answers = await asyncio.gather(*[clients[i % 2].post("/api/v1/bookings", json=b)
                                         for i, b in enumerate(bodies)])
        assert [a.status for a in answers].count(201) == 1
        # One inmate's quota from both instances.
        later = [booking_body(site, slot_start(site.tz, at=time(11 + i // 3, 15 * (i % 3))), booth=i % 3)
                 for i in range(10)]
        answers = await asyncio.gather(*[clients[i % 2].post("/api/v1/bookings", json=b)
                                         for i, b in enumerate(later)])
        assert [a.status for a in answers].count(201) == 2, [a.status for a in answers]
        assert await owner_conn.fetchval(
            "SELECT used FROM quota_ledger WHERE inmate_id = $1", site.inmate_id) == 2
        double = await owner_conn.fetchval(
            "SELECT count(*) FROM bookings a JOIN bookings b ON a.facility_id = b.facility_id "
            "AND a.booth_id = b.booth_id AND a.booking_id < b.booking_id AND a.slot && b.slot "
            "WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'")
        assert double == 0
    finally:
        await second.close()


async def test_closures_posted_while_bookings_are_posted_leave_no_booking_inside_them(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """The lock order over real HTTP requests: each round, six bookings and one closure of their day, at once."""
    site = await make_site(factory, booths=6)
    statuses: list[int] = []
    for round_no in range(10):
        days_ahead = 2 + round_no
        bodies = []
        for i in range(6):
            inmate = await factory.inmate(site.facility_id)
            bodies.append(booking_body(site, slot_start(site.tz, days_ahead, time(9, 15 * (i % 4))), booth=i,
                                       inmate_id=inmate, contact_id=await factory.contact(inmate)))
        day = slot_start(site.tz, days_ahead).astimezone(ZoneInfo(site.tz)).date()
        closure = {"starts": f"{day}T00:00:00", "ends": f"{day + timedelta(days=1)}T00:00:00",
                   "kind": "closure", "reason": "listrik padam"}
        requests = [site.officer.post("/api/v1/bookings", json=b) for b in bodies]
        requests.insert(round_no % 7, site.officer.post(f"/api/v1/facilities/{site.facility_id}/closures",
                                                        json=closure))
        answers = await asyncio.gather(*requests)
        statuses += [a.status for a in answers]
        assert all(a.status in (201, 422) for a in answers), [(a.status, await a.text()) for a in answers]
    inside = await owner_conn.fetchval(
        "SELECT count(*) FROM bookings b JOIN closures c ON c.facility_id = b.facility_id AND c.during && b.slot"
        " WHERE b.status IN ('booked', 'checked_in')")
    assert inside == 0
    # Every booking made was cancelled by its closure; some came after it and were refused.
    made = statuses.count(201) - 10
    assert made == await owner_conn.fetchval("SELECT count(*) FROM bookings WHERE cancel_cause = 'closure'")
    assert 0 < made < 60, statuses
