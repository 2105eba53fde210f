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
