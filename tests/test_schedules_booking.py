"""Booking a slot: success, every refusal code, overrides, idempotent retries, cancel and reschedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.schedules_support import booking_body, make_site, set_policy, slot_start, used


async def test_officer_books_a_free_slot_and_it_is_taken_in_availability(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    start = slot_start(site.tz)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["status"] == "booked" and body["charged"] is True and body["allowance"] == "family"
    assert body["policy_id"] is not None and body["policy_version"] == 1
    assert body["max_minutes"] == 15
    day = start.astimezone(ZoneInfo(site.tz)).date()
    r = await site.officer.get(f"/api/v1/facilities/{site.facility_id}/availability?day={day}")
    assert r.status == 200, await r.text()
    states = {datetime.fromisoformat(s["starts_at"]): s["state"] for s in (await r.json())["booths"][0]["slots"]}
    assert states[start] == "taken"
    assert states[start + timedelta(minutes=15)] == "free"
    audit = await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'booking.created' AND subject_id = $1",
        str(body["booking_id"]))
    assert audit == 1
    assert await used(site, at=slot_start(site.tz)) == 1


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
    assert await used(site, at=slot_start(site.tz)) == 1


async def _refused(site, body, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = await site.officer.post("/api/v1/bookings", json=body)
    assert r.status == status, await r.text()
    assert r.content_type == "application/problem+json"
    problem = await r.json()
    assert problem["code"] == code, problem


async def test_every_refusal_has_its_own_code_and_books_nothing(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    fid = site.facility_id
    start = slot_start(site.tz)
    zone = ZoneInfo(site.tz)
    local = start.astimezone(zone)

    pending = await factory.contact(site.inmate_id, verified=False)
    await _refused(site, booking_body(site, start, contact_id=pending), 422, "contact_not_verified")
    revoked = await factory.contact(site.inmate_id)
    await owner_conn.execute("UPDATE contacts SET status = 'revoked', status_reason = 'x' WHERE id = $1", revoked)
    await _refused(site, booking_body(site, start, contact_id=revoked), 422, "contact_blocked")

    early = datetime.combine(local.date(), time(7, 0), tzinfo=zone).astimezone(UTC)
    await _refused(site, booking_body(site, early), 422, "outside_opening_hours")
    await _refused(site, booking_body(site, start + timedelta(minutes=5)), 422, "slot_misaligned")
    await _refused(site, booking_body(site, slot_start(site.tz, days_ahead=20)), 422, "outside_booking_window")
    await _refused(site, booking_body(site, slot_start(site.tz, days_ahead=-1)), 422, "outside_booking_window")

    closed_at = start + timedelta(hours=2)
    await owner_conn.execute(
        "INSERT INTO closures (facility_id, during, reason) VALUES ($1, tstzrange($2, $3), 'repair')",
        fid, closed_at, closed_at + timedelta(hours=1))
    await _refused(site, booking_body(site, closed_at), 422, "facility_closed")

    await owner_conn.execute("UPDATE booths SET in_service = false WHERE facility_id = $1 AND booth_id = $2",
                             fid, site.booths[1])
    await _refused(site, booking_body(site, start, booth=1), 409, "booth_out_of_service")

    moved = await factory.inmate(fid, status="transferred")
    moved_contact = await factory.contact(moved)
    await _refused(site, booking_body(site, start, inmate_id=moved, contact_id=moved_contact), 409,
                   "inmate_not_active")

    security = await factory.as_role("security", facility_id=fid)
    r = await security.post("/api/v1/sanctions", json={
        "inmate_id": site.inmate_id, "kind": "suspend", "starts_at": (start - timedelta(days=1)).isoformat(),
        "ends_at": (start + timedelta(days=1)).isoformat(), "reason": "contraband found"})
    assert r.status == 201, await r.text()
    await _refused(site, booking_body(site, start), 409, "inmate_sanctioned")

    video = await factory.booth(fid, kind="video")
    other = await factory.inmate(fid)
    other_contact = await factory.contact(other)
    await set_policy(factory, facility_id=fid, booth_kinds=["phone"])
    await _refused(site, {**booking_body(site, start, inmate_id=other, contact_id=other_contact), "booth_id": video},
                   422, "booth_kind_not_covered")
    await set_policy(factory, facility_id=fid, min_lead_minutes=7 * 1440, max_days_ahead=14)
    await _refused(site, booking_body(site, start, inmate_id=other, contact_id=other_contact), 422,
                   "outside_booking_window")

    r = await site.officer.post("/api/v1/bookings", json={**booking_body(site, start), "starts_at": "2026-01-01T09:00"})
    assert r.status == 422 and (await r.json())["field"] == "starts_at", await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == 0
    assert await owner_conn.fetchval("SELECT count(*) FROM quota_ledger WHERE used > 0") == 0


async def test_quota_is_exhausted_then_an_officer_override_books_with_a_reason(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    starts = [slot_start(site.tz, at=time(9, 15 * i)) for i in range(3)]
    for s in starts[:2]:
        r = await site.officer.post("/api/v1/bookings", json=booking_body(site, s))
        assert r.status == 201, await r.text()
    await _refused(site, booking_body(site, starts[2]), 409, "quota_exhausted")
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, starts[2], override_reason="  "))
    assert r.status == 422 and (await r.json())["field"] == "override_reason", await r.text()
    r = await site.officer.post("/api/v1/bookings",
                                json=booking_body(site, starts[2], override_reason="ibu sakit keras"))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["is_override"] is True and body["charged"] is False
    assert body["override_reason"] == "ibu sakit keras"
    assert await used(site, at=slot_start(site.tz)) == 2
    entry = await owner_conn.fetchrow(
        "SELECT actor_id, payload FROM audit.entries WHERE action = 'booking.override' AND subject_id = $1",
        str(body["booking_id"]))
    assert entry is not None and entry["actor_id"] == str(site.officer_id)
    assert "ibu" not in str(entry["payload"])


async def test_legal_counsel_calls_have_their_own_allowance(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    lawyer = await factory.contact(site.inmate_id, relation="legal_counsel")
    starts = [slot_start(site.tz, at=time(9, 15 * i)) for i in range(4)]
    for s in starts[:2]:
        assert (await site.officer.post("/api/v1/bookings", json=booking_body(site, s))).status == 201
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, starts[2], contact_id=lawyer))
    assert r.status == 201, await r.text()
    assert (await r.json())["allowance"] == "legal"
    day = slot_start(site.tz)
    assert await used(site, at=day) == 2 and await used(site, allowance="legal", at=day) == 1
    # A suspension does not touch the right to counsel.
    security = await factory.as_role("security", facility_id=site.facility_id)
    r = await security.post("/api/v1/sanctions", json={
        "inmate_id": site.inmate_id, "kind": "suspend", "starts_at": datetime.now(UTC).isoformat(),
        "ends_at": (starts[3] + timedelta(days=1)).isoformat(), "reason": "fight"})
    assert r.status == 201, await r.text()
    created = await r.json()
    assert len(created["cancelled_booking_ids"]) == 2
    assert await used(site, at=slot_start(site.tz)) == 0
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, starts[3], contact_id=lawyer))
    assert r.status == 201, await r.text()


async def test_a_retried_create_returns_the_first_response_and_books_once(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    body = booking_body(site, slot_start(site.tz))
    headers = {"Idempotency-Key": "rush-1"}
    first = await site.officer.post("/api/v1/bookings", json=body, headers=headers)
    assert first.status == 201, await first.text()
    again = await site.officer.post("/api/v1/bookings", json=body, headers=headers)
    assert again.status == 201, await again.text()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await again.json())["booking_id"] == (await first.json())["booking_id"]
    other = await site.officer.post("/api/v1/bookings", json={**body, "booth_id": site.booths[1]}, headers=headers)
    assert other.status == 422 and (await other.json())["code"] == "idempotency_key_reused"
    # Concurrent retries of a new key: one booking, every answer the same.
    body2 = booking_body(site, slot_start(site.tz, at=time(10, 0)))
    answers = await asyncio.gather(*[site.officer.post("/api/v1/bookings", json=body2,
                                                       headers={"Idempotency-Key": "rush-2"}) for _ in range(6)])
    assert {a.status for a in answers} == {201}, [a.status for a in answers]
    assert len({(await a.json())["booking_id"] for a in answers}) == 1
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == 2
    assert await used(site, at=slot_start(site.tz)) == 2


async def test_cancel_refunds_before_the_cutoff_and_keeps_the_charge_after(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    a = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))).json()
    r = await site.officer.post(f"/api/v1/bookings/{a['booking_id']}/cancel", json={"reason": "family"})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["status"] == "cancelled" and body["refunded"] is True and body["cancel_reason"] == "family"
    assert await used(site, at=slot_start(site.tz)) == 0
    r = await site.officer.post(f"/api/v1/bookings/{a['booking_id']}/cancel", json={"reason": "family"})
    assert r.status == 409 and (await r.json())["code"] == "invalid_transition"
    # A cutoff longer than the lead time: the family's cancellation now keeps the charge, the facility's not.
    await set_policy(factory, facility_id=site.facility_id, cancel_cutoff_minutes=5 * 1440, min_lead_minutes=60)
    b = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))).json()
    c = await (await site.officer.post("/api/v1/bookings", json=booking_body(
        site, slot_start(site.tz, at=time(11, 0))))).json()
    assert await used(site, at=slot_start(site.tz)) == 2
    r = await site.officer.post(f"/api/v1/bookings/{b['booking_id']}/cancel", json={"reason": "inmate"})
    assert (await r.json())["refunded"] is False
    assert await used(site, at=slot_start(site.tz)) == 2
    r = await site.officer.post(f"/api/v1/bookings/{c['booking_id']}/cancel", json={"reason": "technical"})
    assert (await r.json())["refunded"] is True
    assert await used(site, at=slot_start(site.tz)) == 1
    r = await site.officer.post(f"/api/v1/bookings/{c['booking_id']}/cancel", json={"reason": "nope"})
    assert r.status == 422 and (await r.json())["field"] == "reason"


async def test_reschedule_moves_the_booking_atomically(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    other = await factory.inmate(site.facility_id)
    other_contact = await factory.contact(other)
    start = slot_start(site.tz)
    mine = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, start))).json()
    taken = start + timedelta(hours=1)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, taken, inmate_id=other,
                                                                      contact_id=other_contact))
    assert r.status == 201
    r = await site.officer.post(f"/api/v1/bookings/{mine['booking_id']}/reschedule",
                                json={"starts_at": taken.isoformat()})
    assert r.status == 409 and (await r.json())["code"] == "slot_taken", await r.text()
    r = await site.officer.post(f"/api/v1/bookings/{mine['booking_id']}/reschedule",
                                json={"starts_at": taken.isoformat(), "booth_id": site.booths[1]})
    assert r.status == 200, await r.text()
    moved = await r.json()
    assert moved["booking_id"] == mine["booking_id"] and moved["booth_id"] == site.booths[1]
    assert datetime.fromisoformat(moved["starts_at"]) == taken
    assert await used(site, at=slot_start(site.tz)) == 1
    # Moving it back onto its own booth and time is not refused as taken by itself.
    r = await site.officer.post(f"/api/v1/bookings/{mine['booking_id']}/reschedule",
                                json={"starts_at": taken.isoformat(), "booth_id": site.booths[1]})
    assert r.status == 200, await r.text()
    # The old slot is free again.
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start, inmate_id=other,
                                                                      contact_id=other_contact))
    assert r.status == 201, await r.text()


async def test_booth_outage_and_closure_cancel_refund_and_list_the_inmates(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    fid = site.facility_id
    start = slot_start(site.tz)
    a = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, start))).json()
    other = await factory.inmate(fid)
    other_contact = await factory.contact(other)
    b = await (await site.officer.post("/api/v1/bookings", json=booking_body(
        site, start + timedelta(days=1), booth=1, inmate_id=other, contact_id=other_contact))).json()
    r = await site.officer.put(f"/api/v1/facilities/{fid}/booths/{site.booths[0]}/service",
                               json={"in_service": False, "note": "handset broken"})
    assert r.status == 200, await r.text()
    affected = (await r.json())["cancelled_bookings"]
    assert [x["inmate_id"] for x in affected] == [site.inmate_id]
    assert await used(site, at=slot_start(site.tz)) == 0
    row = await owner_conn.fetchrow("SELECT status, cancel_reason, refunded FROM bookings WHERE booking_id = $1",
                                    a["booking_id"])
    assert dict(row) == {"status": "cancelled", "cancel_reason": "facility", "refunded": True}
    local = (start + timedelta(days=1)).astimezone(ZoneInfo(site.tz))
    admin = await factory.as_role("admin")
    r = await admin.post(f"/api/v1/facilities/{fid}/closures", json={
        "starts": local.replace(hour=0, minute=0, tzinfo=None).isoformat(),
        "ends": local.replace(hour=23, minute=0, tzinfo=None).isoformat(), "kind": "closure",
        "reason": "inspection"})
    assert r.status == 201, await r.text()
    assert [x["booking_id"] for x in (await r.json())["cancelled_bookings"]] == [b["booking_id"]]
    assert await used(site, inmate_id=other, at=start + timedelta(days=1)) == 0


async def test_registry_changes_cancel_and_credit_the_bookings_they_make_impossible(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    fid = site.facility_id
    start = slot_start(site.tz)
    other = await factory.inmate(fid)
    other_contact = await factory.contact(other)
    mine = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, start))).json()
    theirs = await (await site.officer.post("/api/v1/bookings", json=booking_body(
        site, start, booth=1, inmate_id=other, contact_id=other_contact))).json()
    elsewhere = await factory.facility(site.region_id)
    r = await site.officer.post(f"/api/v1/inmates/{site.inmate_id}/transfer", json={"to_facility_id": elsewhere})
    assert r.status == 200, await r.text()
    r = await site.officer.post(f"/api/v1/contacts/{other_contact}/revoke", json={"reason": "nomor dicurigai"})
    assert r.status == 200, await r.text()
    rows = {r["booking_id"]: (r["status"], r["cancel_reason"], r["refunded"]) for r in await owner_conn.fetch(
        "SELECT booking_id, status, cancel_reason, refunded FROM bookings")}
    assert rows[mine["booking_id"]] == ("cancelled", "facility", True)
    assert rows[theirs["booking_id"]] == ("cancelled", "family", True)
    assert await owner_conn.fetchval("SELECT sum(used) FROM quota_ledger") == 0


async def test_opening_hours_shrinking_cancels_bookings_now_outside_them(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    start = slot_start(site.tz, at=time(15, 0))
    b = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, start))).json()
    keep = await (await site.officer.post("/api/v1/bookings", json=booking_body(
        site, slot_start(site.tz, at=time(9, 0))))).json()
    regional = await factory.as_role("regional", region_id=site.region_id)
    windows = [{"weekday": d, "opens": "08:00", "closes": "12:00"} for d in range(1, 8)]
    r = await regional.put(f"/api/v1/facilities/{site.facility_id}/hours", json={"windows": windows})
    assert r.status == 200, await r.text()
    status = {r["booking_id"]: r["status"] for r in await owner_conn.fetch("SELECT booking_id, status FROM bookings")}
    assert status == {b["booking_id"]: "cancelled", keep["booking_id"]: "booked"}


async def test_reschedule_after_the_cutoff_is_refused_unless_the_facility_causes_it(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    await set_policy(factory, facility_id=site.facility_id, cancel_cutoff_minutes=5 * 1440, min_lead_minutes=60)
    b = await (await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))).json()
    target = slot_start(site.tz, at=time(11, 0)).isoformat()
    r = await site.officer.post(f"/api/v1/bookings/{b['booking_id']}/reschedule",
                                json={"starts_at": target, "reason": "family"})
    assert r.status == 409 and (await r.json())["code"] == "cancellation_cutoff_passed", await r.text()
    r = await site.officer.post(f"/api/v1/bookings/{b['booking_id']}/reschedule",
                                json={"starts_at": target, "reason": "facility"})
    assert r.status == 200, await r.text()
    r = await site.officer.get(f"/api/v1/bookings?facility_id={site.facility_id}&day=2026-01-01")
    assert r.status == 200 and (await r.json())["items"] == []
    r = await site.officer.get("/api/v1/bookings?day=2026-01-01")
    assert r.status == 422 and (await r.json())["code"] == "facility_required"


async def test_the_database_refuses_a_booking_with_another_inmates_contact(factory, app_conn) -> None:  # type: ignore[no-untyped-def]
    """The API says contact_not_found; even a write that skipped it cannot pair an inmate with a stranger's
    number (the constraint booking_contact_of_inmate_fk)."""
    import asyncpg
    import pytest

    site = await make_site(factory)
    stranger = await factory.inmate(site.facility_id)
    strangers_contact = await factory.contact(stranger)
    start = slot_start(site.tz)
    policy = await app_conn.fetchrow("SELECT policy_id, current_version FROM call_policies LIMIT 1")
    with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
        await app_conn.execute(
            """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, allowance, period_start,
                                     policy_id, policy_version, max_minutes, booked_by)
               VALUES ($1, $2, $3, $4, tstzrange($5::timestamptz, $5::timestamptz + interval '15 minutes'), 'family',
                       $5::timestamptz::date, $6, $7,
                       15, $8)""",
            site.facility_id, site.booths[0], site.inmate_id, strangers_contact, start, policy[0], policy[1],
            site.officer_id)
    assert refused.value.constraint_name == "booking_contact_of_inmate_fk"
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, start, contact_id=strangers_contact))
    assert r.status == 404 and (await r.json())["code"] == "contact_not_found", await r.text()
