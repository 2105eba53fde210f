"""The registry over HTTP: facilities, booths, hours, closures, inmates, contacts, users — scoped and audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from wartel.registry import hooks


async def _audit(owner_conn, action: str):  # type: ignore[no-untyped-def]
    return await owner_conn.fetch(
        "SELECT l.scope, l.scope_id, e.subject_id, e.payload, e.actor_id FROM audit.entries e"
        " JOIN audit.logs l USING (log_id) WHERE e.action = $1 ORDER BY e.recorded_at", action)


@pytest.fixture
async def world(factory):  # type: ignore[no-untyped-def]
    r1 = await factory.region()
    r2 = await factory.region()
    a = await factory.facility(r1, time_zone="Asia/Makassar")
    b = await factory.facility(r2)
    return {
        "r1": r1, "r2": r2, "a": a, "b": b,
        "admin": await factory.as_role("admin"),
        "regional": await factory.as_role("regional", region_id=r1),
        "officer": await factory.as_role("officer", facility_id=a),
        "officer_b": await factory.as_role("officer", facility_id=b),
        "security": await factory.as_role("security", facility_id=a),
    }


async def test_admin_creates_a_facility_and_the_region_log_records_it(world, owner_conn) -> None:  # type: ignore[no-untyped-def]
    r = await world["admin"].post("/api/v1/facilities", json={
        "region_id": world["r1"], "code": "LP-KENDARI", "name": "Lapas Kelas IIA Kendari", "kind": "lapas",
        "facility_class": "IIA", "time_zone": "Asia/Makassar"})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["facility_class"] == "IIA" and body["slot_minutes"] == 15
    entries = await _audit(owner_conn, "facility.created")
    assert [(e["scope"], e["scope_id"]) for e in entries] == [("region", world["r1"])]
    r = await world["admin"].post("/api/v1/facilities", json={
        "region_id": world["r1"], "code": "LP-KENDARI", "name": "again", "kind": "lapas", "time_zone": "Asia/Makassar"})
    assert r.status == 409 and (await r.json())["field"] == "code"


async def test_regional_changes_policy_settings_officer_may_not(world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/facilities/{world['a']}"
    r = await world["regional"].patch(url, json={"family_contact_cap": 5, "slot_minutes": 20})
    assert r.status == 200, await r.text()
    assert (await r.json())["family_contact_cap"] == 5
    r = await world["officer"].patch(url, json={"family_contact_cap": 50})
    assert r.status == 403
    r = await world["regional"].patch(f"/api/v1/facilities/{world['b']}", json={"slot_minutes": 20})
    assert r.status == 404


async def test_booth_out_of_service_is_audited_and_notifies_the_booking_hooks(world, owner_conn,  # type: ignore[no-untyped-def]
                                                                               monkeypatch) -> None:
    seen: list[hooks.FacilityChange] = []

    async def record(conn, change, actor):  # type: ignore[no-untyped-def]
        assert conn.is_in_transaction()
        seen.append(change)

    monkeypatch.setattr(hooks, "facility_change_hooks", lambda: [record])
    r = await world["regional"].post(f"/api/v1/facilities/{world['a']}/booths", json={"name": "Video 1", "kind": "video"})
    assert r.status == 201, await r.text()
    booth = (await r.json())["booth_id"]
    url = f"/api/v1/facilities/{world['a']}/booths/{booth}/service"
    r = await world["officer"].put(url, json={"in_service": False, "note": "kamera rusak"})
    assert r.status == 200, await r.text()
    assert (await r.json())["in_service"] is False
    r = await world["officer"].put(url, json={"in_service": False})  # already out: nothing new happens
    assert r.status == 200
    assert [(c.kind, c.facility_id, c.booth_id) for c in seen] == [("booth_out_of_service", world["a"], booth)]
    entries = await _audit(owner_conn, "booth.out_of_service")
    assert [(e["scope"], e["scope_id"], e["subject_id"]) for e in entries] == [("facility", world["a"], str(booth))]
    r = await world["officer_b"].put(url, json={"in_service": True})
    assert r.status == 404


async def test_opening_hours_with_two_windows_a_day(world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/facilities/{world['a']}/hours"
    windows = [{"weekday": d, "opens": "08:00", "closes": "12:00"} for d in range(1, 6)]
    windows += [{"weekday": d, "opens": "13:00", "closes": "15:00"} for d in range(1, 6)]
    r = await world["regional"].put(url, json={"windows": windows})
    assert r.status == 200, await r.text()
    body = await (await world["officer"].get(url)).json()
    assert body["time_zone"] == "Asia/Makassar"
    assert [(w["opens"], w["closes"]) for w in body["windows"] if w["weekday"] == 1] == [
        ("08:00:00", "12:00:00"), ("13:00:00", "15:00:00")]
    assert not [w for w in body["windows"] if w["weekday"] in (6, 7)]
    r = await world["regional"].put(url, json={"windows": [
        {"weekday": 1, "opens": "08:00", "closes": "12:00"}, {"weekday": 1, "opens": "11:00", "closes": "14:00"}]})
    assert r.status == 422 and (await r.json())["code"] == "windows_overlap"
    assert len((await (await world["officer"].get(url)).json())["windows"]) == 10  # nothing changed
    r = await world["officer"].put(url, json={"windows": []})
    assert r.status == 403


async def test_closure_given_in_local_time_is_stored_as_utc(world, owner_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[hooks.FacilityChange] = []

    async def record(conn, change, actor):  # type: ignore[no-untyped-def]
        seen.append(change)

    monkeypatch.setattr(hooks, "facility_change_hooks", lambda: [record])
    url = f"/api/v1/facilities/{world['a']}/closures"  # facility A is in WITA, UTC+8
    r = await world["officer"].post(url, json={"starts": "2026-08-17T00:00", "ends": "2026-08-18T00:00",
                                               "kind": "holiday", "reason": "Hari Kemerdekaan"})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["starts_local"] == "2026-08-17T00:00:00"
    during = await owner_conn.fetchval("SELECT during FROM closures WHERE closure_id = $1", body["closure_id"])
    assert during.lower == datetime(2026, 8, 16, 16, 0, tzinfo=UTC)
    assert seen[0].during == (datetime(2026, 8, 16, 16, 0, tzinfo=UTC), datetime(2026, 8, 17, 16, 0, tzinfo=UTC))
    r = await world["officer"].post(url, json={"starts": "2026-08-17T00:00+08:00", "ends": "2026-08-18T00:00",
                                               "reason": "x"})
    assert r.status == 422 and (await r.json())["field"] == "starts"
    r = await world["officer"].post(url, json={"starts": "2026-08-18T00:00", "ends": "2026-08-17T00:00",
                                               "reason": "x"})
    assert r.status == 422 and (await r.json())["field"] == "ends"
    listed = await (await world["security"].get(url + "?since=2026-08-17")).json()
    assert [c["closure_id"] for c in listed] == [body["closure_id"]]
    r = await world["officer"].delete(f"{url}/{body['closure_id']}")
    assert r.status == 403
    r = await world["regional"].delete(f"{url}/{body['closure_id']}")
    assert r.status == 204, await r.text()


async def _inmate(client, facility_id: int, reg: str, name: str = "Budi Santoso"):  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/inmates", json={"registration_no": reg, "full_name": name,
                                                   "facility_id": facility_id, "admitted_on": "2025-03-01"})
    assert r.status == 201, await r.text()
    return await r.json()


async def test_inmates_are_scoped_searchable_and_paginated(world) -> None:  # type: ignore[no-untyped-def]
    names = ["Budi Santoso", "Agus Salim", "Siti Rahmawati", "Budiman Hakim", "Dewi Lestari"]
    for i, name in enumerate(names):
        await _inmate(world["officer"], world["a"], f"AA-{i:03d}", name)
    other = await _inmate(world["officer_b"], world["b"], "BB-001", "Budi Lain")
    r = await world["officer"].get(f"/api/v1/inmates/{other['id']}")
    assert r.status == 404  # another facility's inmate does not exist for this officer
    found = await (await world["officer"].get("/api/v1/inmates?q=budi")).json()
    assert sorted(i["full_name"] for i in found["items"]) == ["Budi Santoso", "Budiman Hakim"]
    found = await (await world["officer"].get("/api/v1/inmates?q=aa-00")).json()
    assert len(found["items"]) == 5
    seen, cursor = [], None
    while True:
        r = await world["regional"].get("/api/v1/inmates?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        page = await r.json()
        seen += [i["registration_no"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"AA-{i:03d}" for i in range(5)]  # region 1 only; keyset order; no duplicates
    assert (await world["officer"].get("/api/v1/inmates?cursor=@@@")).status == 400
    assert (await world["officer"].get(f"/api/v1/inmates?facility_id={world['b']}")).status == 404


async def test_transfer_moves_the_inmate_and_keeps_history(world, owner_conn) -> None:  # type: ignore[no-untyped-def]
    inmate = await _inmate(world["officer"], world["a"], "TR-001")
    r = await world["officer"].post(f"/api/v1/inmates/{inmate['id']}/transfer",
                                    json={"to_facility_id": world["b"], "reason": "overcrowding"})
    assert r.status == 200, await r.text()
    assert (await r.json())["current_facility_id"] == world["b"]
    assert (await world["officer"].get(f"/api/v1/inmates/{inmate['id']}")).status == 404
    r = await world["officer_b"].get(f"/api/v1/inmates/{inmate['id']}/transfers")
    history = await r.json()
    assert [(h["from_facility_id"], h["to_facility_id"]) for h in history] == [(world["a"], world["b"])]
    logs = {(e["scope"], e["scope_id"]) for e in await _audit(owner_conn, "inmate.transferred_out")}
    logs |= {(e["scope"], e["scope_id"]) for e in await _audit(owner_conn, "inmate.transferred_in")}
    assert logs == {("facility", world["a"]), ("facility", world["b"])}
    r = await world["officer_b"].post(f"/api/v1/inmates/{inmate['id']}/transfer", json={"to_facility_id": world["b"]})
    assert r.status == 422 and (await r.json())["code"] == "transfer_same_facility"
    r = await world["officer_b"].post(f"/api/v1/inmates/{inmate['id']}/transfer", json={"to_facility_id": 999999})
    assert r.status == 404 and (await r.json())["field"] == "to_facility_id"


async def test_update_and_release(world) -> None:  # type: ignore[no-untyped-def]
    inmate = await _inmate(world["officer"], world["a"], "RL-001")
    url = f"/api/v1/inmates/{inmate['id']}"
    r = await world["officer"].patch(url, json={"block": "C-2", "risk_level": "high"})
    assert r.status == 200, await r.text()
    assert (await r.json())["risk_level"] == "high"
    r = await world["security"].patch(url, json={"block": "C-3"})
    assert r.status == 403
    r = await world["officer"].post(url + "/release", json={"released_on": "2025-01-01"})
    assert r.status == 422 and (await r.json())["field"] == "released_on"
    r = await world["officer"].post(url + "/release", json={"released_on": "2026-02-01"})
    assert r.status == 200 and (await r.json())["status"] == "released"
    r = await world["officer"].post(url + "/release", json={"released_on": "2026-02-01"})
    assert r.status == 409
    r = await world["officer"].post(url + "/contacts", json={"phone": "081234567890", "name": "Ani",
                                                            "relation": "spouse"})
    assert r.status == 409 and (await r.json())["code"] == "inmate_not_active"


async def test_contact_lifecycle(world, owner_conn) -> None:  # type: ignore[no-untyped-def]
    inmate = await _inmate(world["officer"], world["a"], "CT-001")
    url = f"/api/v1/inmates/{inmate['id']}/contacts"
    r = await world["officer"].post(url, json={"phone": "0812-3456-7890", "name": "Siti Aminah", "relation": "spouse"})
    assert r.status == 201, await r.text()
    contact = await r.json()
    assert contact["phone_e164"] == "+6281234567890" and contact["status"] == "pending"
    r = await world["officer"].post(url, json={"phone": "+62 812 3456 7890", "name": "again", "relation": "spouse"})
    assert r.status == 409 and (await r.json())["field"] == "phone"
    r = await world["officer"].post(f"/api/v1/contacts/{contact['id']}/verify", json={"method": "ktp"})
    assert r.status == 200, await r.text()
    verified = await r.json()
    assert verified["status"] == "verified" and verified["verified_by"] == world["officer"].user_id
    assert verified["verification_method"] == "ktp" and verified["verified_at"]
    r = await world["officer"].post(f"/api/v1/contacts/{contact['id']}/verify", json={"method": "ktp"})
    assert r.status == 409
    r = await world["security"].post(f"/api/v1/contacts/{contact['id']}/revoke", json={"reason": "penipuan"})
    assert r.status == 200 and (await r.json())["status"] == "revoked"
    r = await world["officer"].post(url, json={"phone": "0813-1111-2222", "name": "Pak Joko", "relation": "parent"})
    second = await r.json()
    r = await world["officer"].post(f"/api/v1/contacts/{second['id']}/reject", json={"reason": "KTP tidak cocok"})
    assert r.status == 200 and (await r.json())["status_reason"] == "KTP tidak cocok"
    r = await world["officer"].post(f"/api/v1/contacts/{second['id']}/verify", json={"method": "bar_card"})
    assert r.status == 409
    registered = await _audit(owner_conn, "contact.registered")
    assert all(e["scope"] == "facility" and e["scope_id"] == world["a"] for e in registered)
    assert all("phone_ref" in e["payload"] and "+62" not in str(e["payload"]) for e in registered)
    r = await world["officer_b"].get(f"/api/v1/contacts/{contact['id']}")
    assert r.status == 404


async def test_family_cap_holds_under_concurrent_registrations(world, owner_conn) -> None:  # type: ignore[no-untyped-def]
    await owner_conn.execute("UPDATE facilities SET family_contact_cap = 3 WHERE id = $1", world["a"])
    inmate = await _inmate(world["officer"], world["a"], "CAP-001")
    url = f"/api/v1/inmates/{inmate['id']}/contacts"
    responses = await asyncio.gather(*[
        world["officer"].post(url, json={"phone": f"08121000{n:04d}", "name": "Keluarga", "relation": "sibling"})
        for n in range(8)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] * 3 + [409] * 5, statuses
    refused = [await r.json() for r in responses if r.status == 409]
    assert {p["code"] for p in refused} == {"family_contact_cap_reached"}
    r = await world["officer"].post(url, json={"phone": "+62 21 5550 1234", "name": "Advokat",
                                               "relation": "legal_counsel"})
    assert r.status == 201, await r.text()  # legal counsel does not count against the family cap
    assert (await r.json())["is_legal_counsel"] is True


async def test_regional_creates_officers_in_its_region_only(world) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "petugas.baru", "full_name": "Petugas Baru", "role": "officer",
            "password": "kata-sandi-panjang", "facility_id": world["a"]}
    r = await world["regional"].post("/api/v1/users", json=body)
    assert r.status == 201, await r.text()
    r = await world["regional"].post("/api/v1/users", json={**body, "username": "lain", "facility_id": world["b"]})
    assert r.status == 404
    r = await world["regional"].post("/api/v1/users", json={**body, "username": "kanwil2", "role": "regional",
                                                            "facility_id": None, "region_id": world["r1"]})
    assert r.status == 403 and (await r.json())["code"] == "role_not_delegable"
    r = await world["admin"].post("/api/v1/users", json={**body, "username": "kanwil2", "role": "regional",
                                                         "facility_id": None, "region_id": world["r1"]})
    assert r.status == 201, await r.text()
    r = await world["admin"].post("/api/v1/users", json={**body, "username": "x.y", "phone": "12"})
    assert r.status == 422 and (await r.json())["field"] == "phone"
    listed = await (await world["regional"].get("/api/v1/users")).json()
    assert "petugas.baru" in {u["username"] for u in listed["items"]}
    assert (await world["officer"].get("/api/v1/users")).status == 403
