"""The compliance report's figures, counted in each facility's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests import reports_data as rd
from wartel.reports.compliance import compliance_report
from wartel.reports.period import month_period, quarter_period, range_period, resolve_period

JAN = month_period("2026-01")


async def _region(factory):  # type: ignore[no-untyped-def]
    """Two facilities: one in WIB (UTC+7), one in WIT (UTC+9)."""
    rid = await factory.region("SUMBAR")
    wib = await factory.facility(rid, code="LP-PADANG", time_zone="Asia/Jakarta")
    wit = await factory.facility(rid, code="LP-JAYAPURA", time_zone="Asia/Jayapura")
    officer = await factory.user("officer", facility_id=wib, username="petugas.padang")
    officer2 = await factory.user("officer", facility_id=wit, username="petugas.jayapura")
    return rid, wib, wit, officer, officer2


async def test_calls_are_counted_in_each_facility_local_month(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, wib, wit, officer, officer2 = await _region(factory)
    booth_wib, booth_wit = await factory.booth(wib), await factory.booth(wit)
    a, b = await factory.inmate(wib), await factory.inmate(wit)
    ca, cb = await factory.contact(a), await factory.contact(b)
    # 31 Dec 17:30 UTC is 1 Jan 00:30 in Jakarta (January) and 1 Jan 02:30 in Jayapura (January).
    await rd.call(owner_conn, wib, booth_wib, a, ca, datetime(2025, 12, 31, 17, 30, tzinfo=UTC), seconds=600)
    # 31 Jan 16:00 UTC is 31 Jan 23:00 in Jakarta (January) but 1 Feb 01:00 in Jayapura (February).
    await rd.call(owner_conn, wib, booth_wib, a, ca, datetime(2026, 1, 31, 16, 0, tzinfo=UTC), seconds=300)
    await rd.call(owner_conn, wit, booth_wit, b, cb, datetime(2026, 1, 31, 16, 0, tzinfo=UTC), seconds=300)
    # 31 Dec 16:30 UTC is 31 Dec 23:30 in Jakarta: December.
    await rd.call(owner_conn, wib, booth_wib, a, ca, datetime(2025, 12, 31, 16, 30, tzinfo=UTC), seconds=900)

    report = await compliance_report(owner_conn, period=JAN, region_id=rid)
    by_code = {f.code: f for f in report.facilities}
    assert by_code["LP-PADANG"].calls_completed == 2
    assert by_code["LP-PADANG"].minutes == 15.0
    assert by_code["LP-PADANG"].median_duration_s == 450.0
    assert by_code["LP-JAYAPURA"].calls_completed == 0
    assert report.totals.calls_completed == 2
    assert report.totals.inmates_with_call == 1
    assert by_code["LP-PADANG"].rights_fulfilment == 1.0
    assert by_code["LP-JAYAPURA"].rights_fulfilment == 0.0
    assert report.totals.rights_fulfilment == 0.5


async def test_outcomes_bookings_and_officers(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, wib, wit, officer, officer2 = await _region(factory)
    booth = await factory.booth(wib)
    inmates = [await factory.inmate(wib) for _ in range(3)]
    contacts = [await factory.contact(i) for i in inmates]
    day = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # 09:00 WIB
    slot = 0

    def nxt() -> datetime:
        nonlocal slot
        slot += 1
        return day.replace(hour=2 + slot // 4, minute=(slot % 4) * 15)

    await rd.call(owner_conn, wib, booth, inmates[0], contacts[0], nxt(), outcome="cut_off", ended_by=officer)
    await rd.call(owner_conn, wib, booth, inmates[0], contacts[0], nxt(), outcome="cut_off", ended_by=officer)
    await rd.call(owner_conn, wib, booth, inmates[1], contacts[1], nxt(), outcome="technical_failure")
    await rd.call(owner_conn, wib, booth, inmates[1], contacts[1], nxt(), outcome="time_limited", seconds=900)
    await rd.booking(owner_conn, wib, booth, inmates[2], contacts[2], nxt(), status="no_show", booked_by=officer)
    await rd.booking(owner_conn, wib, booth, inmates[2], contacts[2], nxt(), status="cancelled",
                     cancel_reason="family", booked_by=officer)
    await rd.booking(owner_conn, wib, booth, inmates[2], contacts[2], nxt(), status="cancelled",
                     cancel_reason="facility", booked_by=officer)
    await rd.booking(owner_conn, wib, booth, inmates[1], contacts[1], nxt(), status="booked", booked_by=officer,
                     is_override=True)

    report = await compliance_report(owner_conn, period=JAN, region_id=rid)
    f = next(f for f in report.facilities if f.code == "LP-PADANG")
    assert (f.cut_offs, f.technical_failures, f.calls_completed) == (2, 1, 1)
    assert f.no_shows == 1
    assert f.cancellations == {"inmate": 0, "family": 1, "facility": 1, "technical": 0}
    assert f.overrides == 1
    assert f.active_inmates == 3 and f.inmates_with_call == 1
    assert [(o.username, o.count) for o in report.cut_offs_by_officer] == [("petugas.padang", 2)]
    assert [(o.username, o.count) for o in report.overrides_by_officer] == [("petugas.padang", 1)]
    # Booth time: one booth, 8 h a day for 31 days; four calls of 10+10+10+15 minutes.
    assert f.booth_hours_open == 248.0
    assert f.booth_hours_used == 0.8
    assert f.booth_utilisation == round(45 / 60 / 248, 4)


async def test_inmates_without_a_call_are_named(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, wib, wit, officer, _ = await _region(factory)
    booth = await factory.booth(wib)
    recent = await factory.inmate(wib, name="Ahmad Baru Telepon")
    stale = await factory.inmate(wib, name="Budi Lama Tidak Telepon")
    await factory.inmate(wib, name="Citra Belum Pernah")
    await factory.inmate(wib, name="Dedi Baru Masuk", admitted_on=date(2026, 1, 25))
    await factory.inmate(wib, name="Eko Bebas", status="released")
    c1, c2 = await factory.contact(recent), await factory.contact(stale)
    await rd.call(owner_conn, wib, booth, recent, c1, datetime(2026, 1, 28, 3, 0, tzinfo=UTC))
    await rd.call(owner_conn, wib, booth, stale, c2, datetime(2026, 1, 5, 3, 0, tzinfo=UTC))

    report = await compliance_report(owner_conn, period=JAN, region_id=rid, no_call_days=14)
    named = {i.full_name: i for i in report.inmates_without_call}
    assert set(named) == {"Budi Lama Tidak Telepon", "Citra Belum Pernah"}
    assert named["Budi Lama Tidak Telepon"].days_without_call == 26
    assert named["Citra Belum Pernah"].last_call_at is None
    assert named["Citra Belum Pernah"].facility_code == "LP-PADANG"


async def test_closures_reduce_open_booth_time(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, wib, *_ = await _region(factory)
    await factory.booth(wib)
    await factory.booth(wib)
    # Closed all of 17 Jan (local) for a holiday: 8 open hours on each of the two booths.
    await owner_conn.execute(
        "INSERT INTO closures (facility_id, during, kind, reason) VALUES ($1, tstzrange($2, $3), 'holiday', 'Isra Mikraj')",
        wib, datetime(2026, 1, 16, 17, 0, tzinfo=UTC), datetime(2026, 1, 17, 17, 0, tzinfo=UTC))
    report = await compliance_report(owner_conn, period=JAN, facility_id=wib)
    assert report.scope.kind == "facility"
    assert report.facilities[0].booth_hours_open == 2 * 8 * 30


def test_periods() -> None:
    assert (JAN.start, JAN.end, JAN.label) == (date(2026, 1, 1), date(2026, 1, 31), "2026-01")
    q = quarter_period("2026-q4")
    assert (q.start, q.end, q.label) == (date(2026, 10, 1), date(2026, 12, 31), "2026-Q4")
    assert month_period("2024-02").end == date(2024, 2, 29)
    r = range_period(date(2026, 1, 5), date(2026, 1, 11))
    assert r.days == 7
    import pytest

    from wartel.errors import InvalidInput

    for bad in ({"month": "2026-13"}, {"month": "jan"}, {}, {"month": "2026-01", "quarter": "2026-Q1"},
                {"start": date(2026, 1, 2)}, {"start": date(2026, 2, 1), "end": date(2026, 1, 1)}):
        with pytest.raises(InvalidInput):
            resolve_period(**bad)
