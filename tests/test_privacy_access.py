"""Every look at personal data is recorded, and a security head sees who looked (issue 21, item 3)."""

from __future__ import annotations

from tests.pages_helpers import assert_indonesian, page_login


async def _access_entries(owner_conn, subject_type: str, subject_id: str) -> list:  # type: ignore[no-untyped-def]
    return await owner_conn.fetch(
        "SELECT e.action, e.actor_id, e.payload, l.scope, l.scope_id FROM audit.entries e JOIN audit.logs l"
        " USING (log_id) WHERE e.action LIKE 'access.%' AND e.subject_type = $1 AND e.subject_id = $2"
        " ORDER BY e.recorded_at, e.seq",
        subject_type,
        subject_id,
    )


async def test_reading_contacts_and_links_is_recorded_and_listed_for_the_security_head(
    factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid)
    inmate = await factory.inmate(fid)
    await factory.contact(inmate, "+6281234500001")
    officer = await factory.as_role("officer", facility_id=fid)
    head = await factory.as_role("security", facility_id=fid)

    r = await officer.get(f"/api/v1/inmates/{inmate}/contacts")
    assert r.status == 200, await r.text()
    entries = await _access_entries(owner_conn, "inmate", str(inmate))
    assert [(e["action"], e["actor_id"], e["scope"], e["scope_id"]) for e in entries] == [
        ("access.contacts", str(officer.user_id), "facility", fid)
    ]

    # A number is looked up through its own reference: the number itself is in no entry.
    r = await head.post(
        "/api/v1/links/number", json={"number": "0812-3450-0001", "reason": "laporan keluarga"}
    )
    assert r.status == 200, await r.text()
    assert (
        await owner_conn.fetchval(
            "SELECT count(*) FROM audit.entries WHERE payload::text LIKE '%81234500001%'"
            " OR subject_id LIKE '%81234500001%'"
        )
        == 0
    )

    r = await head.get(f"/api/v1/access/inmates/{inmate}")
    assert r.status == 200, await r.text()
    looks = await r.json()
    assert [(x["what"], x["actor_id"], x["actor_role"]) for x in looks] == [
        ("contacts", str(officer.user_id), "officer")
    ]
    assert looks[0]["actor_name"].startswith("Petugas ")

    r = await head.post("/api/v1/access/number", json={"number": "+62 812 3450 0001"})
    assert r.status == 200, await r.text()
    looks = await r.json()
    assert [(x["what"], x["actor_id"], x["purpose"]) for x in looks] == [
        ("links", str(head.user_id), "laporan keluarga")
    ]

    # A number nobody looked at has no key, and asking does not make one.
    keys_before = await owner_conn.fetchval("SELECT count(*) FROM number_keys")
    r = await head.post("/api/v1/access/number", json={"number": "+6281299998888"})
    assert r.status == 200 and await r.json() == [], await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM number_keys") == keys_before


async def test_a_refused_read_records_nothing_and_officers_cannot_list_looks(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    elsewhere = await factory.inmate(await factory.facility())
    officer = await factory.as_role("officer", facility_id=fid)
    before = await owner_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action LIKE 'access.%'")
    r = await officer.get(f"/api/v1/inmates/{elsewhere}/contacts")
    assert r.status == 404, await r.text()
    r = await officer.get(f"/api/v1/access/inmates/{elsewhere}")
    assert r.status == 403, await r.text()
    assert (
        await owner_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action LIKE 'access.%'") == before
    )


async def test_the_inmate_page_and_the_who_looked_page(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid)
    inmate = await factory.inmate(fid, name="Andi Saputra")
    await factory.contact(inmate, "+6281234500002")
    await factory.user("officer", facility_id=fid, username="petugas.lihat")
    await factory.user("security", region_id=rid, username="kamtib.kepala")

    await page_login(client, "petugas.lihat")
    r = await client.get(f"/officer/inmates/{inmate}")
    assert r.status == 200, await r.text()
    assert "+6281234500002" in await r.text()
    r = await client.get(f"/security/access?inmate_id={inmate}")
    assert r.status == 403, await r.text()

    client.session.cookie_jar.clear()  # log out: a new session for the security head
    await page_login(client, "kamtib.kepala")
    r = await client.get(f"/security/access?inmate_id={inmate}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Siapa yang melihat data ini" in html and "Andi Saputra" in html
    assert "Petugas petugas.lihat" in html and "Daftar kontak" in html
    assert_indonesian(html)


async def test_an_inmates_call_history_is_a_recorded_look(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.schedules_support import booking_body, make_site, slot_start

    site = await make_site(factory)
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))
    assert r.status == 201, await r.text()
    # The facility's day board is operations, not one person's history: no record.
    r = await site.officer.get(f"/api/v1/bookings?facility_id={site.facility_id}")
    assert r.status == 200, await r.text()
    assert await _access_entries(owner_conn, "inmate", str(site.inmate_id)) == []
    r = await site.officer.get(f"/api/v1/bookings?inmate_id={site.inmate_id}")
    assert r.status == 200 and len((await r.json())["items"]) == 1, await r.text()
    entries = await _access_entries(owner_conn, "inmate", str(site.inmate_id))
    assert [(e["action"], e["actor_id"]) for e in entries] == [("access.call_history", str(site.officer_id))]


async def test_a_user_reading_far_more_people_than_peers_is_shown(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    inmates = [await factory.inmate(fid) for _ in range(24)]
    peers = [await factory.as_role("officer", facility_id=fid) for _ in range(4)]
    curious = await factory.as_role("officer", facility_id=fid)
    for i, peer in enumerate(peers):
        for inmate in inmates[i : i + 2]:
            r = await peer.get(f"/api/v1/inmates/{inmate}/contacts")
            assert r.status == 200, await r.text()
    for inmate in inmates[:22]:
        r = await curious.get(f"/api/v1/inmates/{inmate}/contacts")
        assert r.status == 200, await r.text()
    head = await factory.as_role("security", facility_id=fid)
    r = await head.get("/api/v1/access/unusual?days=7")
    assert r.status == 200, await r.text()
    found = await r.json()
    assert [(x["actor_id"], x["subjects"]) for x in found] == [(str(curious.user_id), 22)], found
    assert found[0]["peer_median"] == 2
    # A window outside its bounds is refused, naming the field.
    r = await head.get("/api/v1/access/unusual?days=0")
    assert r.status == 422 and (await r.json())["field"] == "days", await r.text()
