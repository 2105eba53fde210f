"""Transferred inmates count where they were held in the period, by their stays, not where they are today."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests import reports_data as rd
from wartel.reports.compliance import compliance_report
from wartel.reports.period import month_period

JAN = month_period("2026-01")
FEB = month_period("2026-02")


async def _region(factory):  # type: ignore[no-untyped-def]
    """Padang in WIB (UTC+7), Jayapura in WIT (UTC+9), one booth each."""
    rid = await factory.region("SUMBAR")
    padang = await factory.facility(rid, code="LP-PADANG", time_zone="Asia/Jakarta")
    jayapura = await factory.facility(rid, code="LP-JAYAPURA", time_zone="Asia/Jayapura")
    return rid, padang, jayapura, await factory.booth(padang), await factory.booth(jayapura)


def _rows(report):  # type: ignore[no-untyped-def]
    return {f.code: f for f in report.facilities}


async def test_moved_mid_month_counts_at_both_facilities_and_once_in_the_total(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, booth_padang, _ = await _region(factory)
    moved = await factory.inmate(padang, name="Andi Dipindah")
    await factory.inmate(padang, name="Bayu Tetap Padang")
    await factory.inmate(jayapura, name="Candra Tetap Jayapura")
    await rd.call(owner_conn, padang, booth_padang, moved, await factory.contact(moved),
                  datetime(2026, 1, 8, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, moved, jayapura, datetime(2026, 1, 15, 3, 0, tzinfo=UTC))

    report = await compliance_report(owner_conn, period=JAN, region_id=rid)
    rows = _rows(report)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (2, 2)
    assert (rows["LP-PADANG"].entitled_inmates, rows["LP-JAYAPURA"].entitled_inmates) == (2, 2)
    # His call at Padang fulfils at Padang only; Jayapura held him after it and had no call from him.
    assert (rows["LP-PADANG"].inmates_with_call, rows["LP-PADANG"].rights_fulfilment) == (1, 0.5)
    assert (rows["LP-JAYAPURA"].inmates_with_call, rows["LP-JAYAPURA"].rights_fulfilment) == (0, 0.0)
    # One person in the region total: three inmates, one of them with a call.
    assert (report.totals.active_inmates, report.totals.entitled_inmates) == (3, 3)
    assert (report.totals.inmates_with_call, report.totals.rights_fulfilment) == (1, round(1 / 3, 4))

    # A facility's own report counts him the same way as its row in the region's.
    padang_only = await compliance_report(owner_conn, period=JAN, facility_id=padang)
    assert padang_only.totals.active_inmates == 2 and padang_only.totals.rights_fulfilment == 0.5


async def test_suspended_all_period_is_not_entitled_at_either_facility(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, *_ = await _region(factory)
    reviewer = await factory.user("security", facility_id=padang, username="pengaman.padang")
    moved = await factory.inmate(padang)
    await factory.inmate(jayapura)
    await owner_conn.execute(
        "INSERT INTO sanctions (inmate_id, imposed_at_facility_id, kind, during, reason, created_by)"
        " VALUES ($1, $2, 'suspend', tstzrange('2025-12-20', '2026-02-10'), 'ponsel selundupan', $3)",
        moved, padang, reviewer)
    await rd.transfer(owner_conn, moved, jayapura, datetime(2026, 1, 20, 3, 0, tzinfo=UTC))

    report = await compliance_report(owner_conn, period=JAN, region_id=rid)
    rows = _rows(report)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-PADANG"].entitled_inmates) == (1, 0)
    assert (rows["LP-JAYAPURA"].active_inmates, rows["LP-JAYAPURA"].entitled_inmates) == (2, 1)
    assert (report.totals.active_inmates, report.totals.entitled_inmates) == (2, 1)


async def test_no_call_list_names_the_holder_at_the_end_and_judges_by_the_last_call_anywhere(
        factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, booth_padang, _ = await _region(factory)
    called_then_moved = await factory.inmate(padang, name="Dewi Telepon Lalu Pindah")
    stale_then_moved = await factory.inmate(padang, name="Eka Lama Lalu Pindah")
    # Called at Padang on 25 Jan (within the last 14 days), moved to Jayapura on 28 Jan.
    await rd.call(owner_conn, padang, booth_padang, called_then_moved, await factory.contact(called_then_moved),
                  datetime(2026, 1, 25, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, called_then_moved, jayapura, datetime(2026, 1, 28, 3, 0, tzinfo=UTC))
    # Last called at Padang on 5 Jan, moved to Jayapura on 10 Jan.
    await rd.call(owner_conn, padang, booth_padang, stale_then_moved, await factory.contact(stale_then_moved),
                  datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, stale_then_moved, jayapura, datetime(2026, 1, 10, 3, 0, tzinfo=UTC))

    region = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    listed = [(i.full_name, i.facility_code) for i in region.inmates_without_call]
    assert listed == [("Eka Lama Lalu Pindah", "LP-JAYAPURA")]
    eka = region.inmates_without_call[0]
    assert eka.last_call_at == datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    # Jayapura's January ends 31 Jan 15:00 UTC: 26 days after the call at Padang.
    assert eka.days_without_call == 26

    # Jayapura's own report only sees its own calls in the window, yet the call at Padang still clears Dewi.
    jayapura_only = await compliance_report(owner_conn, period=JAN, facility_id=jayapura, no_call_days=14)
    assert [i.full_name for i in jayapura_only.inmates_without_call] == ["Eka Lama Lalu Pindah"]
    # Padang no longer held either of them at the end of January.
    padang_only = await compliance_report(owner_conn, period=JAN, facility_id=padang, no_call_days=14)
    assert padang_only.inmates_without_call == []


async def test_a_past_month_keeps_inmates_where_they_were_after_a_later_move_or_release(
        factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, *_ = await _region(factory)
    later_moved = await factory.inmate(padang, name="Fajar Pindah Februari")
    later_released = await factory.inmate(padang, name="Gita Bebas Februari")
    await rd.transfer(owner_conn, later_moved, jayapura, datetime(2026, 2, 10, 3, 0, tzinfo=UTC))
    await rd.release(owner_conn, later_released, date(2026, 2, 3))

    jan = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    rows = _rows(jan)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (2, 0)
    assert {(i.full_name, i.facility_code) for i in jan.inmates_without_call} == {
        ("Fajar Pindah Februari", "LP-PADANG"), ("Gita Bebas Februari", "LP-PADANG")}

    feb = await compliance_report(owner_conn, period=FEB, region_id=rid, no_call_days=14)
    rows = _rows(feb)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (2, 1)
    assert feb.totals.active_inmates == 2
    # At the end of February one is in Jayapura and the other is free.
    assert [(i.full_name, i.facility_code) for i in feb.inmates_without_call] == [
        ("Fajar Pindah Februari", "LP-JAYAPURA")]


async def test_a_transfer_at_2330_local_lands_on_the_local_day_of_each_facility(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, *_ = await _region(factory)
    westward = await factory.inmate(padang, name="Hadi Ke Jayapura")
    eastward = await factory.inmate(jayapura, name="Indah Ke Padang")
    # 31 Jan 23:30 in Padang (16:30 UTC) is already 1 Feb 01:30 in Jayapura: January is Padang's only.
    await rd.transfer(owner_conn, westward, jayapura, datetime(2026, 1, 31, 16, 30, tzinfo=UTC))
    # 31 Jan 23:30 in Jayapura (14:30 UTC) is 31 Jan 21:30 in Padang: both held her on 31 January.
    await rd.transfer(owner_conn, eastward, padang, datetime(2026, 1, 31, 14, 30, tzinfo=UTC))

    jan = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    rows = _rows(jan)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (2, 1)
    assert jan.totals.active_inmates == 2
    # Each is listed once, by the facility that held them on their last local day of January.
    assert {(i.full_name, i.facility_code) for i in jan.inmates_without_call} == {
        ("Hadi Ke Jayapura", "LP-PADANG"), ("Indah Ke Padang", "LP-PADANG")}

    feb = await compliance_report(owner_conn, period=FEB, region_id=rid, no_call_days=14)
    rows = _rows(feb)
    # Padang's February begins 31 Jan 17:00 UTC, after Hadi left; Jayapura's holds him from 1 Feb.
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (1, 1)
    assert {(i.full_name, i.facility_code) for i in feb.inmates_without_call} == {
        ("Hadi Ke Jayapura", "LP-JAYAPURA"), ("Indah Ke Padang", "LP-PADANG")}


async def test_an_inmate_moved_there_and_back_counts_once_at_each_facility(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, *_ = await _region(factory)
    inmate = await factory.inmate(padang)
    await rd.transfer(owner_conn, inmate, jayapura, datetime(2026, 1, 10, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, inmate, padang, datetime(2026, 1, 20, 3, 0, tzinfo=UTC))

    report = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    rows = _rows(report)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates, report.totals.active_inmates) == (
        1, 1, 1)
    assert [i.facility_code for i in report.inmates_without_call] == ["LP-PADANG"]


async def test_moves_across_regions_count_in_each_region_for_its_part(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, padang, jayapura, booth_padang, _ = await _region(factory)
    other = await factory.region("SULSEL")
    makassar = await factory.facility(other, code="LP-MAKASSAR", time_zone="Asia/Makassar")
    booth_makassar = await factory.booth(makassar)
    leaving = await factory.inmate(padang, name="Joko Keluar Wilayah")
    arriving = await factory.inmate(makassar, name="Kartika Masuk Wilayah")
    # Kartika called at Makassar on 25 Jan, then came to Jayapura on 27 Jan: no one starved her.
    await rd.call(owner_conn, makassar, booth_makassar, arriving, await factory.contact(arriving),
                  datetime(2026, 1, 25, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, arriving, jayapura, datetime(2026, 1, 27, 3, 0, tzinfo=UTC))
    # Joko last called at Padang on 2 Jan and left for Makassar on 12 Jan.
    await rd.call(owner_conn, padang, booth_padang, leaving, await factory.contact(leaving),
                  datetime(2026, 1, 2, 3, 0, tzinfo=UTC))
    await rd.transfer(owner_conn, leaving, makassar, datetime(2026, 1, 12, 3, 0, tzinfo=UTC))

    sumbar = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    rows = _rows(sumbar)
    assert (rows["LP-PADANG"].active_inmates, rows["LP-JAYAPURA"].active_inmates) == (1, 1)
    assert sumbar.totals.active_inmates == 2
    assert (rows["LP-PADANG"].inmates_with_call, sumbar.totals.inmates_with_call) == (1, 1)
    # Joko is Makassar's to answer for at the end of January; Kartika's call at Makassar clears her.
    assert sumbar.inmates_without_call == []

    sulsel = await compliance_report(owner_conn, period=JAN, region_id=other, no_call_days=14)
    assert (sulsel.facilities[0].active_inmates, sulsel.facilities[0].inmates_with_call) == (2, 1)
    assert [(i.full_name, i.facility_code, i.days_without_call) for i in sulsel.inmates_without_call] == [
        ("Joko Keluar Wilayah", "LP-MAKASSAR", 29)]
