"""Security pages: the ranked queue, a flag's evidence and review, the link graph, audit search."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import reports_data as rd
from tests.pages_helpers import book_upcoming_call, insert_flag, open_all_day_facility, page_login


async def test_reviewer_confirms_a_flag_from_the_queue(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    flag_id = await insert_flag(owner_conn, rid, fid)
    await factory.user("security", region_id=rid, username="kamtib.wilayah")
    csrf = await page_login(client, "kamtib.wilayah")

    r = await client.get("/security")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "+6281299990000" in html and f"/security/flags/{flag_id}" in html and "Nomor dipakai bersama" in html
    r = await client.get(f"/security/flags/{flag_id}")
    html = await r.text()
    assert "distinct_inmates" in html and "threshold_k" in html

    r = await client.post(f"/security/flags/{flag_id}/dismiss", data={"csrf_token": csrf})
    assert r.status in (409, 422), await r.text()
    assert 'role="alert"' in await r.text()
    assert await owner_conn.fetchval("SELECT status FROM detection_flags WHERE id = $1", flag_id) == "open"

    r = await client.post(f"/security/flags/{flag_id}/confirm", data={"csrf_token": csrf, "reason": "pola penipuan",
                                                                      "watch": "watched"})
    assert r.status == 200, await r.text()
    assert "Tanda dikonfirmasi." in await r.text()
    assert await owner_conn.fetchval("SELECT status FROM detection_flags WHERE id = $1", flag_id) == "confirmed"
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM watchlist WHERE pattern = '+6281299990000' AND removed_at IS NULL") == 1


async def test_confirming_a_flag_with_a_block_on_the_page_says_which_bookings_went(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    booking_id = await book_upcoming_call(factory, fid, booth, inmate, contact)
    number = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", contact)
    flag_id = await insert_flag(owner_conn, rid, fid, number=number)
    await factory.user("security", region_id=rid, username="kamtib.konfirmasi")
    csrf = await page_login(client, "kamtib.konfirmasi", lang="en")

    r = await client.post(f"/security/flags/{flag_id}/confirm", data={"csrf_token": csrf, "reason": "fraud ring",
                                                                      "watch": "blocked"})
    assert r.status == 200, await r.text()
    assert "upcoming bookings to it were cancelled and their calls given back" in await r.text()
    assert await owner_conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", booking_id) == "cancelled"
    page = await (await client.get("/security/watchlist")).text()
    assert "Bookings cancelled by a block" in page and f"#{booking_id}" in page


async def test_officers_cannot_review_and_other_regions_see_nothing(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, *_ = await open_all_day_facility(factory, owner_conn)
    flag_id = await insert_flag(owner_conn, rid, fid)
    other = await factory.region()
    await factory.user("security", region_id=other, username="kamtib.lain")
    await page_login(client, "kamtib.lain", lang="en")
    r = await client.get(f"/security/flags/{flag_id}")
    assert r.status == 404, await r.text()
    r = await client.get("/security")
    assert "+6281299990000" not in await r.text()


async def test_link_view_and_audit_search(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    other = await factory.inmate(fid, name="Rudi <script>")
    other_contact = await factory.contact(other, "+6281234500001")
    await rd.call(owner_conn, fid, booth, other, other_contact, datetime.now(UTC).replace(microsecond=0))
    await factory.user("security", facility_id=fid, username="kamtib.upt")
    await page_login(client, "kamtib.upt")
    r = await client.get("/security/links?number=0812-3450-0001")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "<svg" in html and "Andi Saputra" in html and "Rudi &lt;script&gt;" in html
    assert "<script>" not in html.split("</head>")[1]
    r = await client.get(f"/security/links?inmate_id={inmate}")
    assert r.status == 200 and "<svg" in await r.text()
    r = await client.get("/security/links?number=12")
    assert r.status == 422, await r.text()

    r = await client.get("/security/audit?action=auth.&days=1")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Status verifikasi" in html


async def test_watchlist_add_and_remove(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, *_ = await open_all_day_facility(factory, owner_conn)
    await factory.user("security", region_id=rid, username="kamtib.daftar")
    csrf = await page_login(client, "kamtib.daftar")
    r = await client.post("/security/watchlist", data={"csrf_token": csrf, "pattern_kind": "prefix",
                                                       "pattern": "62812", "mode": "blocked", "reason": "acak"})
    assert r.status == 400 or r.status == 422, await r.text()
    r = await client.post("/security/watchlist", data={"csrf_token": csrf, "pattern_kind": "number",
                                                       "pattern": "0812-9999-0000", "mode": "blocked",
                                                       "reason": "penipuan mama minta pulsa"})
    assert r.status == 200, await r.text()
    assert "+6281299990000" in await r.text()
    entry = await owner_conn.fetchrow("SELECT id, scope, scope_id FROM watchlist WHERE removed_at IS NULL")
    assert (entry["scope"], entry["scope_id"]) == ("region", rid)
    r = await client.post("/security/watchlist", data={"csrf_token": csrf, "remove": str(entry["id"])})
    assert r.status == 200, await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM watchlist WHERE removed_at IS NULL") == 0


async def test_blocking_a_number_on_the_page_cancels_its_upcoming_booking(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    booking_id = await book_upcoming_call(factory, fid, booth, inmate, contact)
    await factory.user("security", region_id=rid, username="kamtib.blokir")
    csrf = await page_login(client, "kamtib.blokir")
    r = await client.post("/security/watchlist", data={"csrf_token": csrf, "pattern_kind": "number",
                                                       "pattern": "0812-3450-0001", "mode": "blocked",
                                                       "reason": "penipuan"})
    assert r.status == 200, await r.text()
    row = await owner_conn.fetchrow("SELECT status, cancel_reason, charged FROM bookings WHERE booking_id = $1",
                                    booking_id)
    assert dict(row) == {"status": "cancelled", "cancel_reason": "facility", "charged": False}
    # The page says so and lists the booking, for the officers who must tell the inmate (Bahasa by default).
    page = await r.text()
    assert "Pemesanan mendatang ke nomor yang diblokir dibatalkan" in page
    registration_no = await owner_conn.fetchval("SELECT registration_no FROM inmates WHERE id = $1", inmate)
    assert f"#{booking_id}" in page and registration_no in page
