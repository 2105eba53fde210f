"""Logging in through the login page, as a browser would, and reading forms back from pages."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from tests.factory import PASSWORD

_INPUT = re.compile(r'<input type="hidden" name="(?P<name>[a-z_]+)" value="(?P<value>[^"]*)">')


def hidden_fields(html: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in _INPUT.finditer(html)}


async def page_login(client: TestClient, username: str, *, lang: str = "id", next: str = "") -> str:
    """Log in through /login; returns the session's CSRF token, read from the next page's forms."""
    r = await client.get(f"/login?lang={lang}")
    assert r.status == 200, await r.text()
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "login_token": token,
                                          "language": lang, "next": next}, allow_redirects=False)
    assert r.status == 303, await r.text()
    r = await client.get("/login?next=/reports&lang=" + lang)  # logged in: any page carries the token
    fields = hidden_fields(await r.text())
    assert "csrf_token" in fields, await r.text()
    return fields["csrf_token"]


async def open_all_day_facility(factory, owner_conn, *, code: str = "LP-PADANG", time_zone: str | None = None):  # type: ignore[no-untyped-def]
    """A facility open around the clock whose family policy needs no lead time, so a test can book the
    next slot and run the call at once, whatever the hour (its zone is one whose day has two hours left,
    unless ``time_zone`` is given). Returns (region, facility, booth, inmate, contact)."""
    from datetime import time

    from tests.schedules_support import zone_with_day_left

    rid = await factory.region()
    fid = await factory.facility(rid, code=code, hours=False, time_zone=time_zone or zone_with_day_left())
    for weekday in range(1, 8):
        await factory.opening_hours(fid, weekday, time(0, 0), time(23, 45))
    booth = await factory.booth(fid, name="Bilik 1")
    policy = await owner_conn.fetchval(
        "INSERT INTO call_policies (scope, scope_facility_id, allowance) VALUES ('facility', $1, 'family')"
        " RETURNING policy_id", fid)
    await owner_conn.execute(
        "INSERT INTO call_policy_versions (policy_id, version, period, calls_allowed, max_minutes, min_lead_minutes,"
        " max_days_ahead, cancel_cutoff_minutes, no_show_consumes, booth_kinds)"
        " VALUES ($1, 1, 'week', 2, 15, 0, 14, 0, true, ARRAY['phone', 'video'])", policy)
    inmate = await factory.inmate(fid, name="Andi Saputra")
    contact = await factory.contact(inmate, "+6281234500001")
    return rid, fid, booth, inmate, contact


async def insert_flag(owner_conn, region_id: int, facility_id: int, *, number: str = "+6281299990000",  # type: ignore[no-untyped-def]
                      rule: str = "shared_number") -> int:
    """A flag as the detector leaves it, with evidence a reviewer reads."""
    return await owner_conn.fetchval(
        "INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,"
        " facility_ids, severity, weight, evidence, last_event_at)"
        " VALUES ($1, 1, $2, 'number', $3, now() - interval '1 day', $4, 'high', 5, $5::text::jsonb, now())"
        " RETURNING id",
        rule, region_id, number, [facility_id],
        '{"distinct_inmates": 4, "threshold_k": 3, "window_days": 30, "call_ids": [1, 2, 3, 4]}')


async def book_upcoming_call(factory, fid: int, booth: int, inmate: int, contact: int) -> int:  # type: ignore[no-untyped-def]
    """An officer books the next slot through the API, as at the booth; returns the booking id."""
    from tests.schedules_support import slot_start

    officer = await factory.as_role("officer", facility_id=fid)
    r = await officer.post("/api/v1/bookings", json={"facility_id": fid, "booth_id": booth, "inmate_id": inmate,
                                                     "contact_id": contact, "starts_at": slot_start("Asia/Jakarta").isoformat()})
    assert r.status == 201, await r.text()
    return (await r.json())["booking_id"]


# Common English words the pages used to leak into Indonesian text ("… / too early to check in", raw
# evidence keys, Python's None). None of them is an Indonesian word; "slot" and "no." are, and are not here.
ENGLISH_WORDS = frozenset("""
the and not found too early must invalid refused none true false with from this for of to is are was cannot
please only already booking bookings cancelled inmate inmates officer flag flags days day call calls reason
search save login logout error report reports region facility number evidence history checked review window
lead time week month unknown failed open subject rule rules action actor never verified yes booth closed
holiday upcoming recent distinct threshold acknowledged confirmed dismissed reopened assigned note
""".split())

_HIDDEN = re.compile(r"<(script|style|code|pre|option)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z]+")


def visible_text(html: str) -> str:
    """The text a person reads: tags, scripts, code samples and the language menu's own names left out."""
    import html as html_lib

    return html_lib.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", html)))


def english_on_page(html: str) -> set[str]:
    """English words in a page's visible text (the dictionary check for Indonesian pages)."""
    return {w for w in _WORD.findall(visible_text(html)) if w.lower() in ENGLISH_WORDS}


def assert_indonesian(html: str) -> None:
    leaked = english_on_page(html)
    assert not leaked, f"English on an Indonesian page: {sorted(leaked)}\n{visible_text(html)}"


# Common Indonesian words that would betray an English page showing Indonesian text (the other direction).
INDONESIAN_WORDS = frozenset("""
yang dan tidak sudah belum untuk dengan dari pada atau warga binaan panggilan pemesanan petugas bilik
tanda hari menit laporan wilayah nomor kontak alasan simpan cari batal hadir mulai selesai terbuka
""".split())


def indonesian_on_page(html: str) -> set[str]:
    return {w for w in _WORD.findall(visible_text(html)) if w.lower() in INDONESIAN_WORDS}
