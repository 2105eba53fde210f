"""Blocked numbers can be neither registered nor booked, wherever the block's scope reaches."""

from __future__ import annotations

from tests.schedules_support import booking_body, make_site, slot_start


async def test_a_blocked_number_cannot_be_booked_and_nothing_is_written(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    number = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    start = slot_start(site.tz)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start))
    assert r.status == 201, await r.text()  # allowed before the block

    await owner_conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('region', $1, 'prefix', $2, 'blocked', 'jaringan penipuan')", site.region_id, number[:-3])
    before = await owner_conn.fetchval("SELECT count(*) FROM bookings")
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz, days_ahead=3)))
    assert r.status == 422, await r.text()
    problem = await r.json()
    assert problem["code"] == "number_blocked" and problem["field"] == "contact_id"
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == before

    # A block in another region does not reach this facility.
    await owner_conn.execute("UPDATE watchlist SET scope_id = $1", await factory.region())
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz, days_ahead=3)))
    assert r.status == 201, await r.text()


async def test_a_nationally_blocked_number_cannot_be_registered(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    inmate = await factory.inmate(fid)
    await owner_conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('national', 0, 'number', '+6281388877766', 'blocked', 'penipuan')")
    officer = await factory.as_role("officer", facility_id=fid)
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "+62 813-8887-7766", "name": "X", "relation": "spouse"})
    assert r.status == 422 and (await r.json())["code"] == "number_blocked", await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM contacts WHERE inmate_id = $1", inmate) == 0
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "+62 813-8887-7767", "name": "Y", "relation": "spouse"})
    assert r.status == 201, await r.text()


async def test_a_number_blocked_after_booking_can_be_neither_moved_nor_connected(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.schedules_support import make_live_site, next_slot

    site = await make_live_site(factory)
    number = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz)))
    assert r.status == 201, await r.text()
    soon = await r.json()
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz, days_ahead=2)))
    assert r.status == 201, await r.text()
    later = await r.json()
    await owner_conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('national', 0, 'number', $1, 'blocked', 'penipuan terkonfirmasi')", number)

    r = await site.officer.post(f"/api/v1/bookings/{later['booking_id']}/reschedule",
                                json={"starts_at": slot_start(site.tz, days_ahead=3).isoformat()})
    assert r.status == 422 and (await r.json())["code"] == "number_blocked", await r.text()

    r = await site.officer.post(f"/api/v1/bookings/{soon['booking_id']}/check-in", json={})
    assert r.status == 200, await r.text()
    r = await site.officer.post(f"/api/v1/bookings/{soon['booking_id']}/start-call", json={})
    assert r.status == 422 and (await r.json())["code"] == "number_blocked", await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM calls") == 0


async def test_blocking_a_number_cancels_its_upcoming_bookings_and_gives_the_calls_back(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.schedules_support import next_week_slot, used

    # Both bookings in next week (Tuesday, Wednesday): one quota period whatever day the test runs.
    site = await make_site(factory)
    number = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    doomed = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, next_week_slot(site.tz, 1)))).json()
    other = await factory.contact(site.inmate_id)
    kept = await (await site.officer.post("/api/v1/bookings", json=booking_body(
        site, next_week_slot(site.tz, 2), contact_id=other))).json()
    elsewhere = await make_site(factory)  # another region: the region's block does not reach it
    await owner_conn.execute("UPDATE contacts SET phone_e164 = $1 WHERE id = $2", number, elsewhere.contact_id)
    far = await (await elsewhere.officer.post("/api/v1/bookings",
                                              json=booking_body(elsewhere, next_week_slot(elsewhere.tz, 1)))).json()
    assert kept["period_start"] == doomed["period_start"]
    week = next_week_slot(site.tz, 1)
    assert await used(site, at=week) == 2

    security = await factory.as_role("security", region_id=site.region_id)
    r = await security.post("/api/v1/watchlist", json={"pattern": number, "mode": "watched", "scope": "region",
                                                       "scope_id": site.region_id, "reason": "diamati"})
    assert r.status == 201 and (await r.json())["cancelled_bookings"] == [], await r.text()

    r = await security.post("/api/v1/watchlist", json={"pattern": number, "mode": "blocked", "scope": "region",
                                                       "scope_id": site.region_id, "reason": "penipuan"})
    assert r.status == 201, await r.text()
    cancelled = (await r.json())["cancelled_bookings"]
    assert [c["booking_id"] for c in cancelled] == [doomed["booking_id"]]
    assert cancelled[0]["inmate_id"] == site.inmate_id
    statuses = dict(await owner_conn.fetch(
        "SELECT booking_id, status || '/' || coalesce(cancel_reason, '') FROM bookings WHERE booking_id = ANY($1)",
        [doomed["booking_id"], kept["booking_id"], far["booking_id"]]))
    assert statuses == {doomed["booking_id"]: "cancelled/facility", kept["booking_id"]: "booked/",
                        far["booking_id"]: "booked/"}
    assert await used(site, at=week) == 1  # the blocked number's call is given back
    audit = await owner_conn.fetchval(
        "SELECT payload->>'cause' FROM audit.entries WHERE action = 'booking.cancelled' AND subject_id = $1",
        str(doomed["booking_id"]))
    assert audit == "number_blocked"
