"""Officer pages: book a call from the form, then check in, start and end it from the day board."""

from __future__ import annotations

import re

from tests.pages_helpers import hidden_fields, open_all_day_facility, page_login


async def test_officer_books_starts_and_ends_a_call(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.padang")
    csrf = await page_login(client, "petugas.padang")

    r = await client.get("/officer/book?q=andi")
    assert r.status == 200, await r.text()
    assert f"/officer/book?inmate_id={inmate}" in await r.text()
    r = await client.get(f"/officer/book?inmate_id={inmate}")
    html = await r.text()
    assert "2 / 2" in html  # the week's quota, nothing used yet
    slot = re.search(r'name="slot" value="([^"]+)"', html)
    assert slot, html
    r = await client.post("/officer/book", data={"csrf_token": csrf, "inmate_id": str(inmate),
                                                 "contact_id": str(contact), "slot": slot.group(1)})
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Panggilan sudah dipesan." in html and "Andi Saputra" in html
    booking_id = await owner_conn.fetchval("SELECT booking_id FROM bookings WHERE inmate_id = $1", inmate)

    for action, expect in (("check-in", "checked_in"), ("start", "in_call")):
        r = await client.post(f"/officer/bookings/{booking_id}/{action}", data={"csrf_token": csrf})
        assert r.status == 200, await r.text()
        assert await owner_conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", booking_id) == expect
    html = await r.text()
    assert 'class="timer" data-until=' in html  # the live countdown to the call's limit

    r = await client.post(f"/officer/bookings/{booking_id}/end", data={"csrf_token": csrf, "outcome": "cut_off"})
    assert r.status == 422, await r.text()
    html = await r.text()
    # The page speaks its language (Bahasa Indonesia here): the refusal's title and detail, not the API's
    # English detail.
    assert "Pemutusan panggilan wajib disertai alasan" in html and "Periksa isian “Alasan”" in html
    assert "cutting a call off needs a reason" not in html
    r = await client.post(f"/officer/bookings/{booking_id}/end", data={"csrf_token": csrf, "outcome": "completed"})
    assert r.status == 200, await r.text()
    assert await owner_conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", booking_id) == "completed"


async def test_a_refused_booking_says_why_and_keeps_the_form(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    pending = await factory.contact(inmate, "+6281234500002", verified=False)
    await factory.user("officer", facility_id=fid, username="petugas.dua")
    csrf = await page_login(client, "petugas.dua", lang="en")
    r = await client.get(f"/officer/book?inmate_id={inmate}")
    slot = re.search(r'name="slot" value="([^"]+)"', await r.text()).group(1)  # type: ignore[union-attr]
    r = await client.post("/officer/book", data={"csrf_token": csrf, "inmate_id": str(inmate),
                                                 "contact_id": str(pending), "slot": slot})
    assert r.status in (409, 422), await r.text()
    html = await r.text()
    assert 'role="alert"' in html and "verified" in html.lower()
    assert f'value="{inmate}"' in html  # the inmate stays chosen
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == 0

    r = await client.post("/officer/book", data={"csrf_token": csrf, "inmate_id": str(inmate)})
    assert r.status == 422
    assert "Choose a contact and a slot." in await r.text()


async def test_inmate_contact_and_sanction_pages(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.tiga")
    csrf = await page_login(client, "petugas.tiga")
    r = await client.post("/officer/inmates", data={"csrf_token": csrf, "registration_no": "BI-2026/001",
                                                    "full_name": "Budi Santoso", "risk_level": "low",
                                                    "admitted_on": "2026-01-02"})
    assert r.status == 200, await r.text()
    assert "Warga binaan terdaftar." in await r.text()
    new_id = await owner_conn.fetchval("SELECT id FROM inmates WHERE registration_no = 'BI-2026/001'")
    r = await client.post(f"/officer/inmates/{new_id}/contacts", data={
        "csrf_token": csrf, "name": "Siti", "phone": "0812-7777-1234", "relation": "spouse"})
    assert r.status == 200, await r.text()
    cid = await owner_conn.fetchval("SELECT id FROM contacts WHERE inmate_id = $1", new_id)
    r = await client.post(f"/officer/inmates/{new_id}/verify", data={"csrf_token": csrf, "contact_id": str(cid),
                                                                     "method": "ktp"})
    assert r.status == 200, await r.text()
    assert await owner_conn.fetchval("SELECT status FROM contacts WHERE id = $1", cid) == "verified"
    # Sanctions are a security (Kamtib) decision on both faces: the officer has no form, and a forged post
    # is refused (403) and changes nothing, as POST /api/v1/sanctions refuses officers.
    r = await client.get(f"/officer/inmates/{new_id}")
    assert f"/officer/inmates/{new_id}/sanctions" not in await r.text()
    r = await client.post(f"/officer/inmates/{new_id}/sanctions", data={
        "csrf_token": csrf, "kind": "suspend", "starts_at": "2026-01-01T08:00", "ends_at": "2030-01-01T08:00",
        "reason": "ponsel selundupan"})
    assert r.status == 403, await r.text()
    assert "Peran Anda tidak boleh melakukan ini" in await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM sanctions") == 0
    # Duplicate registration number: the refusal is shown, nothing is written.
    r = await client.post("/officer/inmates", data={"csrf_token": csrf, "registration_no": "BI-2026/001",
                                                    "full_name": "Lain", "admitted_on": "2026-01-02"})
    assert r.status == 409, await r.text()
    assert 'role="alert"' in await r.text()
    assert hidden_fields(await r.text())["csrf_token"] == csrf


async def test_security_imposes_a_sanction_from_the_inmate_page(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("security", facility_id=fid, username="kamtib.tiga")
    csrf = await page_login(client, "kamtib.tiga")
    r = await client.get(f"/officer/inmates/{inmate}")
    assert r.status == 200, await r.text()
    assert f"/officer/inmates/{inmate}/sanctions" in await r.text()
    assert f"/officer/inmates/{inmate}/contacts" not in await r.text()  # registering contacts is not theirs
    r = await client.post(f"/officer/inmates/{inmate}/sanctions", data={
        "csrf_token": csrf, "kind": "suspend", "starts_at": "2026-01-01T08:00", "ends_at": "2025-12-01T08:00",
        "reason": "ponsel"})
    assert r.status == 422, await r.text()
    assert "Sanksi harus berakhir setelah dimulai" in await r.text()
    r = await client.post(f"/officer/inmates/{inmate}/sanctions", data={
        "csrf_token": csrf, "kind": "suspend", "starts_at": "2026-01-01T08:00", "ends_at": "2030-01-01T08:00",
        "reason": "ponsel selundupan"})
    assert r.status == 200, await r.text()
    assert "ditangguhkan oleh sanksi" in await r.text()
    assert await owner_conn.fetchval("SELECT actor_role FROM audit.entries WHERE action = 'sanction.imposed'") == "security"


async def test_an_admin_picks_a_facility_first(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, *_ = await open_all_day_facility(factory, owner_conn, code="LP-SAWAHLUNTO")
    await factory.user("admin", username="admin.pusat")
    await page_login(client, "admin.pusat")
    r = await client.get("/officer")
    assert r.status == 200, await r.text()
    assert f"/officer?facility_id={fid}" in await r.text()
    r = await client.get(f"/officer?facility_id={fid}")
    assert r.status == 200 and "Bilik 1" in await r.text()
    r = await client.get(f"/officer/inmates?facility_id={fid}")
    assert "Andi Saputra" in await r.text()
