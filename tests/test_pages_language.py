"""One language at a time: the user's choice is saved on the account and wins over the browser; everyone
who has not chosen reads Bahasa Indonesia; an Indonesian page carries no English (a dictionary check)."""

from __future__ import annotations

from tests.factory import PASSWORD
from tests.pages_helpers import (
    assert_indonesian,
    english_on_page,
    hidden_fields,
    insert_flag,
    open_all_day_facility,
    page_login,
)

ENGLISH_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}


async def _login_plain(client, username: str) -> str:  # type: ignore[no-untyped-def]
    """Log in as a browser does when nobody picks a language on the login page."""
    r = await client.get("/login", headers=ENGLISH_BROWSER)
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "login_token": token,
                                          "language": ""}, headers=ENGLISH_BROWSER, allow_redirects=False)
    assert r.status == 303, await r.text()
    r = await client.get("/login?next=/reports", headers=ENGLISH_BROWSER)
    return hidden_fields(await r.text())["csrf_token"]


async def test_the_choice_is_saved_on_the_account_and_wins_over_the_browser(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    uid = await factory.user("regional", region_id=rid, username="kanwil.bahasa")
    # An English browser, no choice made: the login page and every page after it speak Bahasa Indonesia.
    r = await client.get("/login", headers=ENGLISH_BROWSER)
    assert "Masuk" in await r.text()
    csrf = await _login_plain(client, "kanwil.bahasa")
    r = await client.get("/regional", headers=ENGLISH_BROWSER)
    assert "Dasbor wilayah" in await r.text()
    assert await owner_conn.fetchval("SELECT language FROM users WHERE id = $1", uid) is None

    r = await client.post("/language", data={"language": "en", "next": "/regional", "csrf_token": csrf})
    assert r.status == 200, await r.text()
    assert "Regional dashboard" in await r.text()
    assert await owner_conn.fetchval("SELECT language FROM users WHERE id = $1", uid) == "en"
    # The change is audited, in the same transaction as the change.
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'user.language_set' AND subject_id = $1", str(uid)) == 1

    # A new session (another tablet, an Indonesian browser): the account's choice wins.
    r = await client.post("/logout", data={"csrf_token": csrf})
    indonesian_browser = {"Accept-Language": "id-ID,id;q=0.9"}
    r = await client.get("/login", headers=indonesian_browser)
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": "kanwil.bahasa", "password": PASSWORD, "login_token": token,
                                          "language": ""}, headers=indonesian_browser)
    assert r.status == 200, await r.text()
    assert "Regional dashboard" in await r.text()

    # Choosing again on the login page is a choice too, saved on the account.
    client.session.cookie_jar.clear()
    await page_login(client, "kanwil.bahasa", lang="id")
    assert await owner_conn.fetchval("SELECT language FROM users WHERE id = $1", uid) == "id"
    r = await client.get("/regional")
    assert "Dasbor wilayah" in await r.text()


async def test_a_refusal_on_an_indonesian_page_has_no_english_line(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.bahasa")
    csrf = await page_login(client, "petugas.bahasa")
    r = await client.post("/officer/bookings/999999/check-in", data={"csrf_token": csrf})
    assert r.status == 404, await r.text()
    assert_indonesian(await r.text())
    r = await client.post(f"/officer/inmates/{inmate}/contacts", data={
        "csrf_token": csrf, "name": "Siti", "phone": "12", "relation": "spouse"})
    assert r.status in (400, 422), await r.text()
    assert_indonesian(await r.text())


async def test_indonesian_pages_pass_the_dictionary_check(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    flag_id = await insert_flag(owner_conn, rid, fid)
    await factory.user("officer", facility_id=fid, username="petugas.kamus")
    await factory.user("security", region_id=rid, username="kamtib.kamus")
    await factory.user("regional", region_id=rid, username="kanwil.kamus")
    await page_login(client, "petugas.kamus")
    for path in ("/officer", "/officer/book", f"/officer/book?inmate_id={inmate}", "/officer/inmates",
                 f"/officer/inmates/{inmate}"):
        r = await client.get(path)
        assert r.status == 200, await r.text()
        assert_indonesian(await r.text())
    client.session.cookie_jar.clear()
    await page_login(client, "kamtib.kamus")
    for path in ("/security", f"/security/flags/{flag_id}", "/security/watchlist", "/security/audit",
                 "/security/links?number=%2B6281299990000"):
        r = await client.get(path)
        assert r.status == 200, await r.text()
        assert_indonesian(await r.text())
    client.session.cookie_jar.clear()
    await page_login(client, "kanwil.kamus")
    for path in ("/regional", "/regional/policies", "/reports"):
        r = await client.get(path)
        assert r.status == 200, await r.text()
        assert_indonesian(await r.text())


def test_the_dictionary_check_finds_english() -> None:
    assert english_on_page("<p>Terlalu awal / too early to check in</p>") == {"too", "early", "to"}
    assert english_on_page("<dd>None</dd><code>the raw key</code><p>Slot tidak ada</p>") == {"None"}


async def test_english_pages_carry_no_indonesian(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.pages_helpers import indonesian_on_page

    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await owner_conn.execute("UPDATE inmates SET full_name = 'Andi Smith' WHERE id = $1", inmate)
    await owner_conn.execute("UPDATE contacts SET name = 'Sarah' WHERE id = $1", contact)
    # Names are data, not the page's language: English-looking ones here, so only the UI's words are tested.
    await owner_conn.execute("UPDATE booths SET name = 'Booth A' WHERE facility_id = $1", fid)
    flag_id = await insert_flag(owner_conn, rid, fid)
    await factory.user("officer", facility_id=fid, username="desk.en")
    await factory.user("security", region_id=rid, username="review.en")
    await factory.user("regional", region_id=rid, username="office.en")
    await owner_conn.execute("UPDATE users SET full_name = initcap(replace(username, '.', ' '))")
    leaks: dict[str, set[str]] = {}
    for username, paths in (
        ("desk.en", ("/officer", f"/officer/book?inmate_id={inmate}", "/officer/inmates", f"/officer/inmates/{inmate}")),
        ("review.en", ("/security", f"/security/flags/{flag_id}", "/security/watchlist", "/security/audit")),
        ("office.en", ("/regional", "/regional/policies", "/reports")),
    ):
        client.session.cookie_jar.clear()
        await page_login(client, username, lang="en")
        for path in paths:
            r = await client.get(path)
            assert r.status == 200, await r.text()
            found = indonesian_on_page(await r.text())
            if found:
                leaks[path] = found
    assert not leaks, leaks
