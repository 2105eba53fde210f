"""The main journeys of each role, in a real browser: what a person at the desk actually does."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.browser.conftest import log_in, shot
from tests.pages_helpers import insert_flag, open_all_day_facility

pytestmark = pytest.mark.browser


def _read(path: Path) -> str:
    return path.read_text()


async def test_officer_books_starts_and_ends_a_call(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    page, base = browser_page
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.padang")

    await page.goto(f"{base}/login")
    await shot(page, "login")
    await log_in(page, base, "petugas.padang")
    assert "/officer" in page.url

    await page.get_by_role("link", name="Pesan panggilan").first.click()
    await page.get_by_label("Cari warga binaan").fill("andi")
    await page.get_by_role("button", name="Cari").click()
    await page.get_by_role("link", name="Andi Saputra").click()
    await page.locator("input[name=slot]").first.check()
    await shot(page, "officer-book")
    await page.get_by_role("button", name="Pesan", exact=True).click()
    await page.get_by_text("Panggilan sudah dipesan.").wait_for()

    await page.get_by_role("button", name="Hadir").click()
    await page.get_by_text("Warga binaan tercatat hadir.").wait_for()
    await page.get_by_role("button", name="Mulai panggilan").click()
    await page.get_by_text("Panggilan dimulai.").wait_for()
    timer = page.locator(".timer").first
    await timer.wait_for()
    first = await timer.text_content()
    await page.wait_for_timeout(1500)
    assert await timer.text_content() != first, "the live timer should count down"
    await shot(page, "officer-board-live-call")
    await page.get_by_role("button", name="Selesai").click()
    await page.get_by_text("Panggilan diakhiri.").wait_for()
    status = await owner_conn.fetchval("SELECT status FROM bookings WHERE inmate_id = $1", inmate)
    assert status == "completed"
    await shot(page, "officer-board-after")


async def test_security_reviewer_confirms_a_flag(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    page, base = browser_page
    rid, fid, *_ = await open_all_day_facility(factory, owner_conn)
    flag_id = await insert_flag(owner_conn, rid, fid)
    await factory.user("security", region_id=rid, username="kamtib.wilayah")
    await log_in(page, base, "kamtib.wilayah")
    assert page.url.endswith("/security")
    await shot(page, "security-queue")
    await page.get_by_role("link", name=f"Buka #{flag_id}").click()
    # Evidence is read aloud in the page's language: the threshold's label, not the key "threshold_k".
    await page.get_by_text("Ambang", exact=True).first.wait_for()
    await page.get_by_label("Catatan").first.fill("pola penipuan acak nomor")
    await shot(page, "security-flag")
    await page.get_by_role("button", name="Konfirmasi").click()
    await page.get_by_text("Tanda dikonfirmasi.").wait_for()
    assert await owner_conn.fetchval("SELECT status FROM detection_flags WHERE id = $1", flag_id) == "confirmed"
    await page.goto(f"{base}/security/links?number=%2B6281234500001")
    await page.locator("svg.links").wait_for()
    await shot(page, "security-links")


async def test_regional_user_downloads_the_months_report(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    page, base = browser_page
    rid, fid, *_ = await open_all_day_facility(factory, owner_conn)
    await owner_conn.execute("UPDATE regions SET name = 'Kanwil Sumatera Barat' WHERE id = $1", rid)
    await factory.user("regional", region_id=rid, username="kanwil.sumbar")
    await log_in(page, base, "kanwil.sumbar")
    assert page.url.endswith("/regional")
    await page.locator("svg.chart").first.wait_for()
    await shot(page, "regional-dashboard")

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Unduh CSV").first.click()
    download = await info.value
    assert download.suggested_filename.endswith("-facilities.csv")
    text = _read(await download.path())
    # The spreadsheet flavour: ';', a byte-order mark, Indonesian column names.
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0]["Kode UPT"] == "LP-PADANG" and rows[-1]["Kode UPT"] == "JUMLAH"

    await page.get_by_role("link", name="Lihat / cetak (A4)").first.click()
    await page.get_by_text("Laporan Kepatuhan Wartelsuspas").wait_for()
    await shot(page, "regional-report-a4")
    pulls = await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'report.pulled'")
    assert pulls == 2


async def test_the_board_follows_changes_made_elsewhere(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """Another officer checks the inmate in from their tablet: this board shows it without a reload."""
    from datetime import UTC, datetime

    from audit import Actor
    from schedules import booking as bookings
    from schedules import calls
    from schedules.availability import free_slots, load_facility

    page, base = browser_page
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    officer = await factory.user("officer", facility_id=fid, username="petugas.papan")
    facility = await load_facility(owner_conn, fid)
    today = datetime.now(UTC).astimezone(facility.zone).date()
    slot = next(s for b in await free_slots(owner_conn, facility, today) for s in b["slots"] if s["state"] == "free")
    async with owner_conn.transaction():
        booked = await bookings.book_call(owner_conn, bookings.BookingRequest(
            facility_id=fid, booth_id=booth, inmate_id=inmate, contact_id=contact, starts_at=slot["starts_at"]),
            user_id=officer, actor=Actor.system("test"))

    await log_in(page, base, "petugas.papan")
    await page.get_by_role("button", name="Hadir").wait_for()
    await page.wait_for_timeout(1000)  # let the event stream connect
    async with owner_conn.transaction():
        await calls.check_in(owner_conn, booked["booking_id"], facility_ids=None, user_id=officer,
                             actor=Actor.system("test"))
    await page.get_by_role("button", name="Mulai panggilan").wait_for(timeout=10_000)
    assert "/officer" in page.url and "msg=" not in page.url  # no reload, no redirect: the stream did it


async def test_tour_of_the_other_pages(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """Every remaining page opens without an error for the role that uses it, in both languages."""
    page, base = browser_page
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.contact(inmate, "+6281234500009", verified=False)
    await insert_flag(owner_conn, rid, fid)
    await factory.user("admin", username="admin.tur")
    await log_in(page, base, "admin.tur")
    tour = [("inmates", f"/officer/inmates?facility_id={fid}"), ("inmate", f"/officer/inmates/{inmate}"),
            ("watchlist", "/security/watchlist"), ("audit", "/security/audit"),
            ("policies", f"/regional/policies?region_id={rid}"), ("reports", f"/reports?region_id={rid}")]
    for name, path in tour:
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        await shot(page, f"page-{name}")
    await page.get_by_label("Bahasa").select_option("en")
    await page.get_by_role("heading", name="Compliance reports").wait_for()
    await shot(page, "page-reports-en")
