"""The live board: JSON snapshot and the server-sent events stream pushed on changes."""

from __future__ import annotations

import asyncio
import json

from tests.schedules_support import booking_body, make_live_site, next_slot


async def _read_event(resp) -> dict:  # type: ignore[no-untyped-def]
    data = None
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), timeout=5)).decode().rstrip("\n")
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            return data


async def test_board_shows_live_calls_with_times_and_next_bookings(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz)))
    now_id = (await r.json())["booking_id"]
    r = await site.officer.post("/api/v1/bookings", json=booking_body(
        site, next_slot(site.tz, skip=2), booth=1, contact_id=None))
    assert r.status == 201, await r.text()
    await site.officer.post(f"/api/v1/bookings/{now_id}/check-in", json={})
    await site.officer.post(f"/api/v1/bookings/{now_id}/start-call", json={})
    r = await site.officer.get(f"/api/v1/facilities/{site.facility_id}/board")
    assert r.status == 200, await r.text()
    board = await r.json()
    assert board["time_zone"] == site.tz
    [call] = board["calls"]
    assert call["booking_id"] == now_id and call["supervisor"]["user_id"] == site.officer_id
    assert 0 <= call["elapsed_s"] <= 5 and 0 < call["remaining_s"] <= 15 * 60
    booths = {b["booth_id"]: b for b in board["booths"]}
    assert booths[site.booths[0]]["live_call_id"] == call["call_id"]
    assert [n["status"] for n in booths[site.booths[1]]["next"]] == ["booked"]
    other = await make_live_site(factory)
    r = await other.officer.get(f"/api/v1/facilities/{site.facility_id}/board")
    assert r.status == 404


async def test_board_stream_pushes_a_new_board_when_a_booking_commits(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory)
    stream = await site.officer.get(f"/api/v1/facilities/{site.facility_id}/board/stream")
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = await _read_event(stream)
    assert all(b["next"] == [] for b in first["booths"])
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, next_slot(site.tz)))
    assert r.status == 201
    pushed = await _read_event(stream)
    assert [n["booking_id"] for n in pushed["booths"][0]["next"]] == [(await r.json())["booking_id"]]
    stream.close()
