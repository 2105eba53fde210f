"""The data-protection officer's page and the who-looked page, in Bahasa Indonesia (issue 21)."""

from __future__ import annotations

from tests.pages_helpers import assert_indonesian, page_login


async def test_the_dpo_sets_retention_erases_a_number_and_reads_the_report(
    client, factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid)
    inmate = await factory.inmate(fid)
    contact = await factory.contact(inmate, "+6281377700001", verified=False)
    await factory.user("regional", region_id=rid, username="kanwil.dpo")
    csrf = await page_login(client, "kanwil.dpo")

    r = await client.get("/regional/privacy")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert (
        "Pelindungan data pribadi" in html and 'value="2"' in html and "Belum ada data yang dihapus." in html
    )
    assert_indonesian(html)

    # A refused value keeps what was typed and says which field, changing nothing.
    r = await client.post(
        "/regional/privacy/retention",
        data={"csrf_token": csrf, "released_family_years": "0", "unverified_contact_days": "90"},
    )
    assert r.status == 422, await r.text()
    assert 'value="0"' in await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM retention_settings") == 0
    r = await client.post(
        "/regional/privacy/retention",
        data={"csrf_token": csrf, "released_family_years": "3", "unverified_contact_days": "60"},
    )
    assert r.status == 200 and "Masa simpan disimpan." in await r.text(), await r.text()
    assert (
        await owner_conn.fetchval(
            "SELECT released_family_years FROM retention_settings WHERE region_id = $1", rid
        )
        == 3
    )

    r = await client.post(
        "/regional/privacy/erase",
        data={"csrf_token": csrf, "number": "0813-7770-0001", "reason": "permintaan keluarga"},
    )
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Data nomor itu telah dihapus." in html and "Permintaan" in html
    assert await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", contact) is None
    # Erasing it again: nobody holds it any more, said on the page with the form kept.
    r = await client.post(
        "/regional/privacy/erase", data={"csrf_token": csrf, "number": "0813-7770-0001", "reason": "lagi"}
    )
    assert r.status == 404 and "0813-7770-0001" in await r.text(), await r.text()


async def test_the_who_looked_page_lists_unusual_readers(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.facility(rid)
    await factory.user("security", region_id=rid, username="kamtib.baca")
    await page_login(client, "kamtib.baca")
    r = await client.get("/security/access")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Pembaca tidak biasa (7 hari)" in html and "Tidak ada pembaca yang menonjol." in html
    assert_indonesian(html)
