"""The day board for a busy officer: a refused action keeps what was typed and the page's own address."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path

from tests import reports_data as rd
from tests.pages_helpers import assert_indonesian, open_all_day_facility, page_login


async def test_a_refused_cancel_keeps_the_panel_open_with_the_note_and_names_the_board(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    officer = await factory.user("officer", facility_id=fid, username="petugas.papan")
    # The instant the test chooses: the next quarter hour after now + 15 min, still today in the facility's
    # zone (open_all_day_facility picks a zone whose day has an hour left).
    now = await owner_conn.fetchval("SELECT now()")
    starts = (now + timedelta(minutes=30)).replace(second=0, microsecond=0)
    starts -= timedelta(minutes=starts.minute % 15)
    booking = await rd.booking(owner_conn, fid, booth, inmate, contact, starts, status="booked", booked_by=officer)
    csrf = await page_login(client, "petugas.papan")
    r = await client.get("/officer")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert 'data-page="/officer"' in html
    name = await owner_conn.fetchval("SELECT name FROM contacts WHERE id = $1", contact)
    assert f"Menghubungi: <b>{name}</b>" in html  # whom the inmate is calling

    note = "keluarga minta pindah ke Jumat"
    r = await client.post(f"/officer/bookings/{booking}/cancel", data={"csrf_token": csrf, "reason": "bogus",
                                                                     "note": note})
    assert r.status == 422, await r.text()
    html = await r.text()
    assert_indonesian(html)
    # Drawn at the post's address, it names the board's: the script puts that in the address bar, so a
    # refresh (or the live update) asks for /officer, never GETs the post's address.
    assert '<meta name="wartel-canonical" content="/officer">' in html
    panel = re.search(r"<details open><summary>[^<]*</summary>\s*<form[^>]*/cancel.*?</details>", html, re.S)
    assert panel, html[html.find("<main"):]
    assert f'value="{note}"' in panel.group(0)
    assert await owner_conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", booking) == "booked"
    r = await client.get("/officer")
    assert r.status == 200 and "wartel-canonical" not in await r.text()


def test_the_live_update_leaves_a_card_being_worked_in_alone() -> None:
    """The script's rules, read from it: it fetches the board's own address and skips busy cards."""
    script = (Path(__file__).resolve().parents[1] / "wartel" / "static" / "wartel.js").read_text()
    assert 'board.getAttribute("data-page")' in script and "window.location.href" not in script
    assert 'details[open]' in script and "defaultValue" in script and "replaceState" in script


async def test_a_refused_contact_keeps_the_form_and_a_shared_number_is_a_warning(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    other = await factory.inmate(fid, name="Budi Lain")
    await factory.contact(other, "+6281234500777")
    await factory.user("officer", facility_id=fid, username="petugas.kontak")
    csrf = await page_login(client, "petugas.kontak")
    r = await client.post(f"/officer/inmates/{inmate}/contacts", data={
        "csrf_token": csrf, "name": "Siti Aminah", "phone": "0812 99", "relation": "parent"})
    assert r.status in (400, 422), await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert f'<meta name="wartel-canonical" content="/officer/inmates/{inmate}">' in html
    assert 'value="Siti Aminah"' in html and 'value="0812 99"' in html
    assert re.search(r'<option value="parent" selected>', html), html
    # The same number another inmate holds: registered (no block), with a warning on the page.
    r = await client.post(f"/officer/inmates/{inmate}/contacts", data={
        "csrf_token": csrf, "name": "Siti Aminah", "phone": "0812-3450-0777", "relation": "parent"})
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "juga terdaftar untuk 1 warga binaan lain" in html
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM contacts WHERE phone_e164 = '+6281234500777' AND inmate_id = $1", inmate) == 1


async def test_the_inmate_page_shows_upcoming_bookings_and_recent_calls(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    officer = await factory.user("officer", facility_id=fid, username="petugas.riwayat")
    now = await owner_conn.fetchval("SELECT now()")
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await rd.booking(owner_conn, fid, booth, inmate, contact, starts, status="booked", booked_by=officer)
    await rd.call(owner_conn, fid, booth, inmate, contact, now - timedelta(days=3), seconds=540,
                  outcome="cut_off", ended_by=officer)
    await page_login(client, "petugas.riwayat")
    r = await client.get(f"/officer/inmates/{inmate}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    upcoming = html[html.index("Pemesanan mendatang"):html.index("Panggilan terakhir")]
    assert "Bilik 1" in upcoming and "dipesan" in upcoming and "Belum ada pemesanan" not in upcoming
    recent = html[html.index("Panggilan terakhir"):]
    assert "diputus petugas" in recent and ">9<" in recent


async def test_the_booking_page_offers_only_bookable_slots_and_says_why_not(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    # This facility's family policy: book 60 minutes ahead at least, 3 days ahead at most.
    await owner_conn.execute(
        "UPDATE call_policy_versions v SET min_lead_minutes = 60, max_days_ahead = 3 FROM call_policies p"
        " WHERE p.policy_id = v.policy_id AND p.scope_facility_id = $1", fid)
    tz = await owner_conn.fetchval("SELECT time_zone FROM facilities WHERE id = $1", fid)
    now = await owner_conn.fetchval("SELECT now()")
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(tz)).date()
    holiday = today + timedelta(days=2)
    await owner_conn.execute(
        "INSERT INTO closures (facility_id, during, kind, reason) VALUES ($1, tstzrange($2, $3), 'holiday', $4)",
        fid, datetime.combine(holiday, time(0), ZoneInfo(tz)), datetime.combine(holiday + timedelta(days=1),
                                                                                time(0), ZoneInfo(tz)), "Hari Raya Natal")
    await factory.user("officer", facility_id=fid, username="petugas.slot")
    await page_login(client, "petugas.slot")

    r = await client.get(f"/officer/book?inmate_id={inmate}&day={today.isoformat()}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert "Pemesanan paling cepat 60 menit sebelumnya" in html
    offered = [datetime.fromisoformat(v.split("|", 1)[1]) for v in re.findall(r'name="slot" value="([^"]+)"', html)]
    assert all(s >= now + timedelta(minutes=60) for s in offered), offered  # nothing the rules would refuse
    assert "terlalu dekat" in html  # the next hour's slots are shown, not offered, with why

    r = await client.get(f"/officer/book?inmate_id={inmate}&day={holiday.isoformat()}")
    html = await r.text()
    assert "Tutup: Hari Raya Natal." in html and 'name="slot"' not in html

    r = await client.get(f"/officer/book?inmate_id={inmate}&day={(today + timedelta(days=5)).isoformat()}")
    html = await r.text()
    assert "Di luar jangka pemesanan: paling lambat" in html and 'name="slot"' not in html


async def test_an_inmate_search_says_when_there_are_more_than_it_shows(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    for n in range(21):
        await factory.inmate(fid, name=f"Rudi Hartono {n}")
    await factory.user("officer", facility_id=fid, username="petugas.cari")
    await page_login(client, "petugas.cari")
    r = await client.get("/officer/book?q=rudi")
    html = await r.text()
    assert html.count("/officer/book?inmate_id=") == 20
    assert "Masih ada yang cocok; perjelas pencarian." in html
    r = await client.get("/officer/book?q=andi")
    assert "Masih ada yang cocok" not in await r.text()


async def test_check_in_is_offered_only_when_it_is_possible_and_says_from_when(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    officer = await factory.user("officer", facility_id=fid, username="petugas.hadir")
    zone = ZoneInfo(await owner_conn.fetchval("SELECT time_zone FROM facilities WHERE id = $1", fid))
    now = await owner_conn.fetchval("SELECT now()")
    # The instants the test chooses: the next quarter hour (check-in open, 30 minutes before) and 10:00
    # tomorrow in the facility's zone (not yet: it opens at 09:30).
    soon = (now + timedelta(minutes=15)).replace(second=0, microsecond=0)
    soon -= timedelta(minutes=soon.minute % 15)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    later = datetime.combine(tomorrow, time(10, 0), zone)
    await rd.booking(owner_conn, fid, booth, inmate, contact, soon, status="booked", booked_by=officer)
    other = await factory.inmate(fid, name="Budi Nanti")
    await rd.booking(owner_conn, fid, booth, other, await factory.contact(other, "+6281234500555"), later,
                     status="booked", booked_by=officer)
    await page_login(client, "petugas.hadir")
    html = await (await client.get("/officer")).text()
    assert html.count(">Hadir</button>") == 1 and "Hadir dapat dicatat mulai" not in html
    html = await (await client.get(f"/officer?day={tomorrow.isoformat()}")).text()
    assert ">Hadir</button>" not in html and "Hadir dapat dicatat mulai 09:30" in html
