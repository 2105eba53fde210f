"""Quota periods and quota arithmetic across WIB, WITA and WIT (property tests, modest example counts)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.errors import QuotaExhausted
from schedules.periods import local_midnight, next_period_start, period_bounds, period_of, period_start
from schedules.quota import charge, record_override, refund
from tests.schedules_support import booking_body, make_live_site

ZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(at=instants, tz=st.sampled_from(ZONES), period=st.sampled_from(["week", "month"]))
def test_every_instant_falls_in_exactly_one_period_starting_at_local_midnight(at, tz, period) -> None:  # type: ignore[no-untyped-def]
    start = period_of(at, tz, period)
    begins, ends = period_bounds(start, tz, period)
    assert begins <= at < ends
    local = begins.astimezone(ZoneInfo(tz))
    assert local.time() == time(0)
    assert local.weekday() == 0 if period == "week" else local.day == 1
    # The next period starts where this one ends, and an instant just before the start is in the previous one.
    assert period_of(ends, tz, period) == next_period_start(start, period)
    assert period_of(begins - timedelta(microseconds=1), tz, period) < start


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31)),
       period=st.sampled_from(["week", "month"]))
def test_period_start_is_idempotent_and_covers_the_day(day, period) -> None:  # type: ignore[no-untyped-def]
    start = period_start(day, period)
    assert period_start(start, period) == start
    assert start <= day < next_period_start(start, period)


def test_the_same_instant_is_in_different_local_weeks_across_zones() -> None:
    # Monday 00:30 WIT is still Sunday 23:30 WITA and 22:30 WIB.
    at = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # Sunday 22:30 WIB
    assert period_of(at, "Asia/Jayapura", "week") == date(2026, 3, 2)
    assert period_of(at, "Asia/Makassar", "week") == date(2026, 2, 23)
    assert period_of(at, "Asia/Jakarta", "week") == date(2026, 2, 23)
    assert local_midnight(date(2026, 3, 2), "Asia/Jayapura") == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


ops = st.lists(st.sampled_from(["charge", "refund", "override"]), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(allowed=st.integers(min_value=0, max_value=4), sequence=ops, offset=st.integers(0, 10_000))
async def test_quota_ledger_never_overdraws_and_matches_a_simple_model(app_conn, owner_conn, allowed, sequence,  # type: ignore[no-untyped-def]
                                                                      offset) -> None:
    inmate = await owner_conn.fetchval("SELECT id FROM inmates LIMIT 1")
    if inmate is None:
        fid = await owner_conn.fetchval(
            "INSERT INTO regions (code, name) VALUES ('RQ', 'q') RETURNING id")
        fid = await owner_conn.fetchval(
            "INSERT INTO facilities (region_id, code, name, kind, time_zone) VALUES ($1, 'FQ', 'q', 'lapas', "
            "'Asia/Jakarta') RETURNING id", fid)
        inmate = await owner_conn.fetchval(
            "INSERT INTO inmates (registration_no, full_name, admitted_on, current_facility_id) "
            "VALUES ('REG-Q', 'q', '2025-01-01', $1) RETURNING id", fid)
    key = {"inmate_id": inmate, "allowance": "family", "period": "week",
           "period_start": date(2030, 1, 7) + timedelta(weeks=offset)}
    await app_conn.execute("DELETE FROM quota_ledger WHERE inmate_id = $1 AND period_start = $2", inmate,
                           key["period_start"])
    model_used = 0
    for op in sequence:
        async with app_conn.transaction():
            if op == "charge":
                if model_used < allowed:
                    state = await charge(app_conn, **key, allowed=allowed)
                    model_used += 1
                    assert state.used == model_used
                else:
                    with pytest.raises(QuotaExhausted):
                        await charge(app_conn, **key, allowed=allowed)
            elif op == "refund" and model_used > 0:
                state = await refund(app_conn, **key)
                model_used -= 1
                assert state.used == model_used
            elif op == "override":
                await record_override(app_conn, **key, allowed=allowed)
        used = await app_conn.fetchval(
            "SELECT used FROM quota_ledger WHERE inmate_id = $1 AND period_start = $2", inmate, key["period_start"])
        assert (used or 0) == model_used <= allowed


@pytest.mark.parametrize("tz", ZONES)
async def test_bookings_either_side_of_local_monday_midnight_use_different_weeks(factory, tz) -> None:  # type: ignore[no-untyped-def]
    site = await make_live_site(factory, tz=tz, calls_allowed=1, max_days_ahead=14)
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    sunday = today + timedelta(days=(6 - today.weekday()) or 7)
    late = datetime.combine(sunday, time(23, 30), tzinfo=zone)
    early = datetime.combine(sunday + timedelta(days=1), time(0, 0), tzinfo=zone)
    a = await site.officer.post("/api/v1/bookings", json=booking_body(site, late))
    b = await site.officer.post("/api/v1/bookings", json=booking_body(site, early, booth=1))
    assert a.status == 201 and b.status == 201, (await a.text(), await b.text())
    assert (await a.json())["period_start"] == (sunday - timedelta(days=6)).isoformat()
    assert (await b.json())["period_start"] == (sunday + timedelta(days=1)).isoformat()
    c = await site.officer.post("/api/v1/bookings", json=booking_body(site, early + timedelta(hours=1)))
    assert c.status == 409 and (await c.json())["code"] == "quota_exhausted"
