"""People, not ids: the security pages name inmates, officers and facilities, and read evidence aloud."""

from __future__ import annotations

import json
import re

from tests.pages_helpers import assert_indonesian, open_all_day_facility, page_login


async def test_an_inmate_flag_names_the_inmate_the_facility_and_the_evidence(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn, time_zone="Asia/Jayapura")
    officer = await factory.user("officer", facility_id=fid, username="petugas.budi")
    evidence = {"week_start": "2026-11-23T00:00:00+00:00", "calls": 9, "baseline": [1, 2, 1, 2],
                "baseline_kind": "own_history", "median": 1.5, "modified_z": 4.21, "direction": "rise",
                "staff_user_id": officer, "inmate_ids": [inmate], "gap_end": None, "ongoing": True,
                "thresholds": {"z": 3.5, "min_delta": 3}}
    flag_id = await owner_conn.fetchval(
        "INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,"
        " facility_ids, severity, weight, evidence, last_event_at)"
        " VALUES ('volume_change', 1, $1, 'inmate', $2, now() - interval '1 day', $3, 'medium', 3,"
        " $4::text::jsonb, '2026-11-30T01:00:00+00')"
        " RETURNING id", rid, str(inmate), [fid], json.dumps(evidence))
    await factory.user("security", facility_id=fid, username="kamtib.papua")
    await page_login(client, "kamtib.papua")

    r = await client.get("/security")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Andi Saputra" in html, html

    r = await client.get(f"/security/flags/{flag_id}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert "Andi Saputra" in html and f"/officer/inmates/{inmate}" in html
    assert "Petugas petugas.budi (petugas.budi)" in html  # the officer by name and account
    assert "Lapas LP-PADANG" in html  # the facility by name
    assert "4,21" in html and "naik" in html and "riwayat sendiri" in html  # values read in Indonesian
    # Times in the viewer's zone (the facility keeps WIT, UTC+9), with the weekday.
    assert "Sen, 30 Nov 2026 10.00 WIT" in html, html
    assert ">None<" not in html and "Kejadian terakhir" in html


async def test_the_link_view_finds_an_inmate_by_name_or_registration_number(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.inmate(fid, name="Andi Wijaya")
    registration = await owner_conn.fetchval("SELECT registration_no FROM inmates WHERE id = $1", inmate)
    await factory.user("security", facility_id=fid, username="kamtib.cari")
    await page_login(client, "kamtib.cari")
    r = await client.get(f"/security/links?inmate={registration}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert "<svg" in html and "Andi Saputra" in html  # one match: the graph at once
    r = await client.get("/security/links?inmate=andi")
    html = await r.text()
    assert "Beberapa warga binaan cocok" in html and f"/security/links?inmate_id={inmate}" in html
    r = await client.get("/security/links?inmate=tidak-ada-orang-ini")
    assert "Tidak ada warga binaan yang cocok." in await r.text()


async def test_the_audit_search_takes_a_username_and_names_the_actor(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.jejak")
    await factory.user("security", facility_id=fid, username="kamtib.jejak")
    csrf = await page_login(client, "petugas.jejak")
    r = await client.post(f"/officer/inmates/{inmate}/contacts", data={
        "csrf_token": csrf, "name": "Siti", "phone": "0812-7777-1299", "relation": "spouse"})
    assert r.status == 200, await r.text()
    client.session.cookie_jar.clear()
    await page_login(client, "kamtib.jejak")
    r = await client.get("/security/audit?actor_id=petugas.jejak&days=7")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    results = html.rsplit("<tbody>", 1)[1]  # the search's table, not the action list of the form
    assert "Kontak didaftarkan" in results and "Petugas petugas.jejak (petugas.jejak)" in results
    r = await client.get("/security/audit?actor_id=tidak.ada&days=7")
    assert "Kontak didaftarkan" not in (await r.text()).rsplit("<tbody>", 1)[1]


async def test_all_flags_with_filters_and_the_reviewed_ones(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.pages_helpers import insert_flag

    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    reviewed = await insert_flag(owner_conn, rid, fid, number="+6281299990001")
    pending = await insert_flag(owner_conn, rid, fid, number="+6281299990002")
    low = await insert_flag(owner_conn, rid, fid, number="+6281299990003", rule="watched_number")
    reviewer = await factory.user("security", region_id=rid, username="kamtib.semua")
    await owner_conn.execute("UPDATE detection_flags SET status = 'confirmed', reviewed_by = $2 WHERE id = $1",
                             reviewed, reviewer)
    await owner_conn.execute("UPDATE detection_flags SET severity = 'low' WHERE id = $1", low)
    await page_login(client, "kamtib.semua")

    def shown(html: str) -> set[int]:
        return {int(x) for x in re.findall(r'href="/security/flags/(\d+)"', html)}

    r = await client.get("/security/flags")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert shown(html) == {reviewed, pending, low} and "+6281299990001" in html
    assert shown(await (await client.get("/security/flags?status=confirmed")).text()) == {reviewed}
    assert shown(await (await client.get("/security/flags?severity=low")).text()) == {low}
    assert shown(await (await client.get("/security/flags?rule=watched_number")).text()) == {low}
    # An unknown filter value is no filter, never an error.
    r = await client.get("/security/flags?status=%27%3B--&rule=x&severity=9")
    assert r.status == 200 and shown(await r.text()) == {reviewed, pending, low}
