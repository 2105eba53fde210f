"""The board in a busy officer's hands: live updates never erase an open form, a refusal never strands the
page on a post's address, and an Indonesian page carries no English (1280 and 800 px)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, shot
from tests.pages_helpers import assert_indonesian, open_all_day_facility

pytestmark = pytest.mark.browser


async def _two_bookings(factory, owner_conn):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from audit import Actor
    from schedules import booking as bookings
    from schedules.availability import free_slots, load_facility

    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    second_booth = await factory.booth(fid, name="Bilik 2")
    other = await factory.inmate(fid, name="Budi Santoso")
    other_contact = await factory.contact(other, "+6281234500009")
    officer = await factory.user("officer", facility_id=fid, username="petugas.sibuk")
    facility = await load_facility(owner_conn, fid)
    today = datetime.now(UTC).astimezone(facility.zone).date()
    slots = {b["booth_id"]: next(s for s in b["slots"] if s["state"] == "free")
             for b in await free_slots(owner_conn, facility, today)}
    booked = []
    for b, who, whom in ((booth, inmate, contact), (second_booth, other, other_contact)):
        async with owner_conn.transaction():
            booked.append(await bookings.book_call(owner_conn, bookings.BookingRequest(
                facility_id=fid, booth_id=b, inmate_id=who, contact_id=whom, starts_at=slots[b]["starts_at"]),
                user_id=officer, actor=Actor.system("test")))
    return officer, booked


@pytest.mark.parametrize("width", [1280, 800])
async def test_a_live_update_leaves_an_open_panel_and_a_refusal_leaves_a_usable_page(  # type: ignore[no-untyped-def]
        browser_page, factory, owner_conn, width) -> None:
    from audit import Actor
    from schedules import calls

    page, base = browser_page
    await page.set_viewport_size({"width": width, "height": 900})
    officer, (first, second) = await _two_bookings(factory, owner_conn)
    await log_in(page, base, "petugas.sibuk")
    await page.get_by_role("button", name="Hadir").first.wait_for()
    assert_indonesian(await page.content())
    await page.wait_for_timeout(1000)  # let the event stream connect

    # The officer opens the first booking's cancel panel and starts typing...
    card = page.locator("section.booth").first
    await card.locator("summary", has_text="Batalkan").click()
    note = card.get_by_label("Catatan")
    await note.fill("keluarga minta pindah")
    # ...while a colleague checks the other inmate in from another tablet.
    async with owner_conn.transaction():
        await calls.check_in(owner_conn, second["booking_id"], facility_ids=None, user_id=officer,
                             actor=Actor.system("test"))
    await page.get_by_role("button", name="Mulai panggilan").wait_for(timeout=10_000)  # the other card updated
    assert await note.input_value() == "keluarga minta pindah"  # this one was left alone
    assert await card.locator("details[open]").count() == 1
    await shot(page, f"officer-busy-board-{width}")

    # A refused action: the page keeps the input and shows the board's address, so a reload is the board.
    await page.locator("section.booth").nth(1).get_by_role("button", name="Mulai panggilan").wait_for()
    await owner_conn.execute("UPDATE bookings SET status = 'cancelled', cancel_reason = 'facility'"
                             " WHERE booking_id = $1", first["booking_id"])
    await card.get_by_role("button", name="Batalkan").click()
    await page.get_by_role("alert").wait_for()
    assert page.url.rstrip("/").endswith("/officer"), page.url
    response = await page.reload()
    assert response is not None and response.status == 200
    assert_indonesian(await page.content())
    await shot(page, f"officer-after-refusal-{width}")


async def test_the_day_schedule_prints_without_buttons(browser_page, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    page, base = browser_page
    await _two_bookings(factory, owner_conn)
    await log_in(page, base, "petugas.sibuk")
    await page.get_by_role("button", name="Cetak jadwal hari ini").wait_for()
    await page.emulate_media(media="print")
    assert await page.get_by_role("button", name="Hadir").first.is_hidden()
    assert await page.locator("table").first.is_visible()
    assert "Budi Santoso" in await page.locator("main").inner_text()
    await shot(page, "officer-day-schedule-print")
