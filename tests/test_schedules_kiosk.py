"""Booth terminals: device tokens, call events reconciled with bookings, mismatches always recorded."""

from __future__ import annotations

from tests.factory import As
from tests.schedules_support import booking_body, make_live_site, next_slot, used


async def _device(site, booth: int = 0) -> As:  # type: ignore[no-untyped-def]
    r = await site.officer.post(f"/api/v1/facilities/{site.facility_id}/booths/{site.booths[booth]}/devices",
                                json={"name": "Terminal A"})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["token"].startswith("wtd_")
    return As(site.officer.client, body["token"], 0)


async def _checked_in(site, skip: int = 0, booth: int = 0, **kw) -> int:  # type: ignore[no-untyped-def]
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz, skip=skip),
                                                                      booth=booth, **kw))
    assert r.status == 201, await r.text()
    booking_id = (await r.json())["booking_id"]
    r = await site.officer.post(f"/api/v1/bookings/{booking_id}/check-in", json={})
    assert r.status == 200, await r.text()
    return booking_id


async def test_a_booked_call_runs_from_terminal_events(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    kiosk = await _device(site)
    booking_id = await _checked_in(site)
    phone = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    r = await kiosk.post("/api/v1/kiosk/dialled", json={"booking_id": booking_id, "dialled_number": phone})
    assert r.status == 200, await r.text()
    event = await r.json()
    assert event["accepted"] is True and event["booking_status"] == "in_call"
    call = await owner_conn.fetchrow("SELECT source, supervised_by, answered FROM calls WHERE call_id = $1",
                                     event["call_id"])
    assert dict(call) == {"source": "kiosk", "supervised_by": site.officer_id, "answered": False}
    assert (await kiosk.post("/api/v1/kiosk/connected", json={"booking_id": booking_id})).status == 200
    r = await kiosk.post("/api/v1/kiosk/disconnected", json={"booking_id": booking_id})
    assert r.status == 200, await r.text()
    assert (await r.json())["booking_status"] == "completed"
    assert await used(site) == 1
    # A terminal retrying its disconnect changes nothing.
    r = await kiosk.post("/api/v1/kiosk/disconnected", json={"booking_id": booking_id})
    assert r.status == 200 and (await r.json())["booking_status"] == "completed", await r.text()
    kinds = [r["kind"] for r in await owner_conn.fetch("SELECT kind FROM call_events ORDER BY event_id")]
    assert kinds == ["dialled", "connected", "disconnected", "disconnected"]


async def test_unanswered_and_failed_calls_from_the_terminal_are_given_back(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    kiosk = await _device(site)
    phone = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    for skip, cause, outcome in [(0, "normal", "not_answered"), (1, "failure", "technical_failure")]:
        booking_id = await _checked_in(site, skip=skip)
        r = await kiosk.post("/api/v1/kiosk/dialled", json={"booking_id": booking_id, "dialled_number": phone})
        assert r.status == 200, await r.text()
        if cause == "failure":
            assert (await kiosk.post("/api/v1/kiosk/connected", json={"booking_id": booking_id})).status == 200
        r = await kiosk.post("/api/v1/kiosk/disconnected", json={"booking_id": booking_id, "cause": cause})
        assert (await r.json())["booking_status"] == outcome, await r.text()
    assert await used(site) == 0


async def test_mismatches_are_refused_and_always_recorded(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    kiosk = await _device(site)
    booking_id = await _checked_in(site)
    other_booth_booking = await _checked_in(site, skip=1, booth=1)
    cases = [
        ({"booking_id": booking_id, "dialled_number": "+6281299999999"}, "number_not_booked"),
        ({"dialled_number": "+6281299999999"}, "call_without_booking"),
        ({"booking_id": 999999, "dialled_number": "+6281299999999"}, "call_without_booking"),
        ({"booking_id": other_booth_booking, "dialled_number": "+6281299999999"}, "wrong_booth"),
    ]
    for body, code in cases:
        r = await kiosk.post("/api/v1/kiosk/dialled", json=body)
        assert r.status == 409, await r.text()
        assert (await r.json())["code"] == code
    r = await kiosk.post("/api/v1/kiosk/connected", json={"booking_id": booking_id})
    assert r.status == 409 and (await r.json())["code"] == "booking_not_live"
    rows = await owner_conn.fetch("SELECT kind, accepted, mismatch, dialled_e164 FROM call_events ORDER BY event_id")
    assert [(r["accepted"], r["mismatch"]) for r in rows] == [
        (False, "number_not_booked"), (False, "no_booking"), (False, "no_booking"), (False, "wrong_booth"),
        (False, "booking_not_live")]
    assert rows[0]["dialled_e164"] == "+6281299999999"
    assert await owner_conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", booking_id) == "checked_in"
    assert await owner_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action = 'kiosk.mismatch'") == 5


async def test_device_tokens_are_only_for_terminals_and_can_be_revoked(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    kiosk = await _device(site)
    r = await site.officer.post("/api/v1/kiosk/dialled", json={"dialled_number": "+6281299999999"})
    assert r.status == 401, await r.text()
    r = await kiosk.get("/api/v1/bookings")
    assert r.status == 401, await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM devices WHERE token_hash = $1",
                                     kiosk.token.encode()) == 0  # only the hash is stored
    device_id = await owner_conn.fetchval("SELECT device_id FROM devices")
    r = await site.officer.delete(
        f"/api/v1/facilities/{site.facility_id}/booths/{site.booths[0]}/devices/{device_id}")
    assert r.status == 204, await r.text()
    r = await kiosk.post("/api/v1/kiosk/dialled", json={"dialled_number": "+6281299999999"})
    assert r.status == 401 and (await r.json())["code"] == "invalid_token"
    other_site = await make_live_site(factory)
    r = await other_site.officer.post(
        f"/api/v1/facilities/{site.facility_id}/booths/{site.booths[0]}/devices", json={"name": "x"})
    assert r.status == 404, await r.text()


async def test_the_kiosk_interface_is_documented_in_openapi(client) -> None:  # type: ignore[no-untyped-def]
    spec = await (await client.get("/api/openapi.json")).json()
    for path in ("/api/v1/kiosk/dialled", "/api/v1/kiosk/connected", "/api/v1/kiosk/disconnected"):
        op = spec["paths"][path]["post"]
        assert op["summary"].startswith("Terminal:")
        assert "number_not_booked" in op["description"]
