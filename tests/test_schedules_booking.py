"""Booking a slot: success, every refusal code, overrides, idempotent retries."""

from __future__ import annotations

from datetime import timedelta

from tests.schedules_support import booking_body, make_site, slot_start


async def test_officer_books_a_free_slot_and_it_is_taken_in_availability(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    start = slot_start(site.tz)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["status"] == "booked" and body["charged"] is True and body["allowance"] == "family"
    assert body["policy_id"] is not None and body["policy_version"] == 1
    assert body["max_minutes"] == 15
    day = start.astimezone(__import__("zoneinfo").ZoneInfo(site.tz)).date()
    r = await site.officer.get(f"/api/v1/facilities/{site.facility_id}/availability?day={day}")
    assert r.status == 200, await r.text()
    slots = {s["starts_at"]: s["state"] for s in (await r.json())["booths"][0]["slots"]}
    assert [v for k, v in slots.items() if k.startswith(start.strftime("%Y-%m-%dT%H:%M"))] == ["taken"]
    audit = await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'booking.created' AND subject_id = $1",
        str(body["booking_id"]))
    assert audit == 1


async def test_second_booking_of_the_same_booth_slot_is_slot_taken(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    start = slot_start(site.tz)
    other = await factory.inmate(site.facility_id)
    other_contact = await factory.contact(other)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start))
    assert r.status == 201, await r.text()
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start, inmate_id=other,
                                                                      contact_id=other_contact))
    assert r.status == 409, await r.text()
    assert (await r.json())["code"] == "slot_taken"
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start, booth=1))
    assert r.status == 409, await r.text()
    assert (await r.json())["code"] == "inmate_busy"
    _ = timedelta
