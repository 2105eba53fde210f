"""Reports over HTTP: scope, formats, the audit trail of pulls, the monthly archive, flags and audit status."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from audit import Actor, LogRef, append
from tests import reports_data as rd
from wartel.reports.archive import month_finished_everywhere, produce_monthly_reports, store_monthly_report
from wartel.reports.period import month_period


async def _setup(factory, owner_conn):  # type: ignore[no-untyped-def]
    rid = await factory.region("SUMBAR", name="Kanwil Sumatera Barat")
    fid = await factory.facility(rid, code="LP-PADANG")
    other_region = await factory.region("PAPUA")
    other_fid = await factory.facility(other_region, code="LP-JAYAPURA", time_zone="Asia/Jayapura")
    officer = await factory.user("officer", facility_id=fid)
    booth = await factory.booth(fid)
    inmate = await factory.inmate(fid, name="=HYPERLINK(\"http://x\")")
    contact = await factory.contact(inmate)
    await rd.call(owner_conn, fid, booth, inmate, contact, datetime(2026, 1, 5, 3, 0, tzinfo=UTC),
                  outcome="cut_off", ended_by=officer)
    await rd.call(owner_conn, fid, booth, inmate, contact, datetime(2026, 1, 6, 3, 0, tzinfo=UTC))
    return rid, fid, other_region, other_fid


async def test_regional_user_pulls_json_csv_and_html_and_each_pull_is_audited(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, *_ = await _setup(factory, owner_conn)
    kanwil = await factory.as_role("regional", region_id=rid)

    r = await kanwil.get("/api/v1/reports/compliance?month=2026-01")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["scope"]["region_code"] == "SUMBAR" and body["period"]["label"] == "2026-01"
    assert body["totals"]["calls_completed"] == 1 and body["totals"]["cut_offs"] == 1
    assert body["flag_totals"]["raised"] == 0

    r = await kanwil.get(f"/api/v1/reports/compliance.csv?region_id={rid}&quarter=2026-Q1")
    assert r.status == 200, await r.text()
    assert r.content_type == "text/csv"
    assert "compliance-SUMBAR-2026-Q1-facilities.csv" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [row["facility_code"] for row in rows] == ["LP-PADANG", "TOTAL"]
    assert rows[0]["cut_offs"] == "1"

    r = await kanwil.get(f"/api/v1/reports/compliance.csv?facility_id={fid}&from=2026-01-01&to=2026-01-31"
                         "&section=cut_offs_by_officer")
    assert r.status == 200, await r.text()
    assert len(list(csv.DictReader(io.StringIO(await r.text())))) == 1

    r = await kanwil.get("/api/v1/reports/compliance.html?month=2026-01&no_call_days=3")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "<svg" in html and "Laporan Kepatuhan" in html
    # The print button's one line is the only script (allowed by its hash in the page's policy).
    from wartel.reports.html import PRINT_SCRIPT
    assert html.count("<script") == 1 and f"<script>{PRINT_SCRIPT}</script>" in html
    # No script but that line: the policy allows one hash, never 'unsafe-inline' or a source.
    assert "script-src 'sha256-" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline'; img" in r.headers["Content-Security-Policy"]  # for styles only
    assert "=HYPERLINK(&#34;http://x&#34;)" in html or "=HYPERLINK(&quot;http://x&quot;)" in html

    pulls = await owner_conn.fetch(
        "SELECT e.payload, e.actor_id FROM audit.entries e JOIN audit.logs l USING (log_id) "
        "WHERE l.scope = 'region' AND l.scope_id = $1 AND e.action = 'report.pulled' ORDER BY e.seq", rid)
    assert [p["payload"]["format"] for p in pulls] == ["json", "csv:facilities", "csv:cut_offs_by_officer", "html"]
    assert {p["actor_id"] for p in pulls} == {str(kanwil.user_id)}
    assert pulls[2]["payload"]["facility_id"] == fid


async def test_names_in_csv_cannot_run_as_formulas(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, *_ = await _setup(factory, owner_conn)
    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.get("/api/v1/reports/compliance.csv?month=2026-03&section=inmates_without_call")
    assert r.status == 200, await r.text()
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert rows[0]["full_name"].startswith("'=HYPERLINK")


async def test_scope_is_enforced(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, other_region, other_fid = await _setup(factory, owner_conn)
    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.get(f"/api/v1/reports/compliance?region_id={other_region}&month=2026-01")
    assert r.status == 404, await r.text()
    r = await kanwil.get(f"/api/v1/reports/compliance?facility_id={other_fid}&month=2026-01")
    assert r.status == 404, await r.text()

    officer = await factory.as_role("officer", facility_id=fid)
    r = await officer.get("/api/v1/reports/compliance?month=2026-01")
    assert r.status == 403, await r.text()

    # Facility security: their facility's report by default, never the region's.
    kamtib = await factory.as_role("security", facility_id=fid)
    r = await kamtib.get("/api/v1/reports/compliance?month=2026-01")
    assert r.status == 200, await r.text()
    assert (await r.json())["scope"]["kind"] == "facility"
    r = await kamtib.get(f"/api/v1/reports/compliance?region_id={rid}&month=2026-01")
    assert r.status == 404, await r.text()

    admin = await factory.as_role("admin")
    r = await admin.get("/api/v1/reports/compliance?month=2026-01")
    assert r.status == 400, await r.text()
    assert (await r.json(content_type=None))["field"] == "region_id"


BAD_QUERIES = [
    ("month=2026-13", "month"), ("month=2026-01&quarter=2026-Q1", "month"), ("from=2026-01-05", "to"),
    ("from=2026-02-01&to=2026-01-01", "to"), ("from=2025-01-01&to=2026-12-31", "to"),
    ("month=2026-01&no_call_days=0", "no_call_days"), ("month=2026-01&region_id=x", "region_id"),
    ("month=2026-01&colour=red", "colour"), ("month=2026-01&region_id=1&facility_id=1", "facility_id"),
]


async def test_bad_queries_name_the_field_and_write_nothing(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    kanwil = await factory.as_role("regional", region_id=rid)
    before = await owner_conn.fetchval("SELECT count(*) FROM audit.entries")
    for query, field in BAD_QUERIES:
        r = await kanwil.get(f"/api/v1/reports/compliance?{query}")
        assert 400 <= r.status < 500, (query, await r.text())
        assert (await r.json(content_type=None))["field"] == field, query
    assert await owner_conn.fetchval("SELECT count(*) FROM audit.entries") == before


async def test_monthly_reports_are_stored_once_and_served_as_produced(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, other_region, _ = await _setup(factory, owner_conn)
    jan = month_period("2026-01")
    assert await store_monthly_report(owner_conn, rid, jan, actor=Actor.system("test"))
    assert not await store_monthly_report(owner_conn, rid, jan, actor=Actor.system("test"))
    # A later call changes live figures, not the stored report.
    booth = await owner_conn.fetchval("SELECT booth_id FROM booths WHERE facility_id = $1", fid)
    inmate = await factory.inmate(fid)
    await rd.call(owner_conn, fid, booth, inmate, await factory.contact(inmate), datetime(2026, 1, 20, 3, tzinfo=UTC))

    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.get("/api/v1/reports/monthly")
    assert r.status == 200, await r.text()
    assert [m["month"] for m in (await r.json())["items"]] == ["2026-01"]
    r = await kanwil.get(f"/api/v1/reports/monthly/{rid}/2026-01")
    assert r.status == 200, await r.text()
    assert (await r.json())["totals"]["calls_completed"] == 1
    r = await kanwil.get(f"/api/v1/reports/monthly/{rid}/2026-01.csv?section=facilities")
    assert r.status == 200 and r.content_type == "text/csv"
    r = await kanwil.get(f"/api/v1/reports/monthly/{rid}/2026-01.html")
    assert r.status == 200 and "<svg" in await r.text()
    r = await kanwil.get(f"/api/v1/reports/monthly/{rid}/2025-12")
    assert r.status == 404
    r = await kanwil.get(f"/api/v1/reports/monthly/{other_region}/2026-01")
    assert r.status == 404
    stored = await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'report.monthly_stored'")
    assert stored == 1


async def test_the_scheduled_job_stores_last_month_for_every_region(client, factory, owner_conn, database, settings) -> None:  # type: ignore[no-untyped-def]
    from wartel.db import create_pool

    await factory.region("R-A")
    await factory.region("R-B")
    pool = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        await produce_monthly_reports(pool, settings)
        await produce_monthly_reports(pool, settings)  # a second run finds them stored
    finally:
        await pool.close()
    rows = await owner_conn.fetch("SELECT region_id, month FROM compliance_reports")
    assert len(rows) == 2 and len({r["month"] for r in rows}) == 1
    # Last month as Indonesia's westernmost zone counts it (a month is over when it is over in WIB), not as the
    # machine's own zone does: at 00:05 WIB on the 1st the machine in UTC is still in the old month.
    this_month = datetime.now(ZoneInfo("Asia/Jakarta")).date().replace(day=1)
    assert rows[0]["month"] == (this_month - timedelta(days=1)).replace(day=1)


def test_a_month_is_over_only_when_it_is_over_in_wib() -> None:
    jan = month_period("2026-01")
    # 1 Feb 00:00 WIB is 31 Jan 17:00 UTC.
    assert not month_finished_everywhere(jan, datetime(2026, 1, 31, 16, 59, tzinfo=UTC))
    assert month_finished_everywhere(jan, datetime(2026, 1, 31, 17, 0, tzinfo=UTC))


async def test_flags_sanctions_and_audit_status_are_reported(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, *_ = await _setup(factory, owner_conn)
    reviewer = await factory.user("security", region_id=rid)
    suspended = await factory.inmate(fid)
    await owner_conn.execute(
        "INSERT INTO sanctions (inmate_id, imposed_at_facility_id, kind, during, reason, created_by)"
        " VALUES ($1, $2, 'suspend', tstzrange('2025-12-20', '2026-02-10'), 'ponsel selundupan', $3)",
        suspended, fid, reviewer)
    t0 = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
    for i, (status, reviewed_after) in enumerate([("confirmed", 2), ("dismissed", 6), ("open", None)]):
        await owner_conn.execute(
            "INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,"
            " facility_ids, severity, weight, evidence, status, first_seen_at, last_event_at, reviewed_by,"
            " reviewed_at, review_reason) VALUES ($1, 1, $2, 'number', $3, $4, $5, 'high', 3, '{}', $6, $4, $4,"
            " $7, $8, $9)",
            "shared_number" if i < 2 else "burst_new_numbers", rid, f"h{i}", t0 + timedelta(hours=i), [fid], status,
            reviewer if reviewed_after else None,
            t0 + timedelta(hours=i + reviewed_after) if reviewed_after else None,
            "bukan pola" if status == "dismissed" else None)
    async with owner_conn.transaction():
        await append(owner_conn, LogRef.facility(fid), action="test.entry", subject_type="x", subject_id=1,
                     actor=Actor.system("test"))

    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.get("/api/v1/reports/compliance?month=2026-01")
    body = await r.json()
    facility = body["facilities"][0]
    assert facility["active_inmates"] == 2 and facility["entitled_inmates"] == 1
    assert facility["rights_fulfilment"] == 1.0
    flags = body["flag_totals"]
    assert (flags["raised"], flags["reviewed"], flags["open_backlog"]) == (3, 2, 1)
    assert flags["median_review_hours"] == 4.0
    assert {(x["rule"], x["raised"], x["confirmed"], x["dismissed"]) for x in flags["by_rule"]} == {
        ("shared_number", 2, 1, 1), ("burst_new_numbers", 1, 0, 0)}
    assert facility["flags"]["open_backlog"] == 1
    assert facility["audit"]["entries"] >= 1
    assert facility["audit"]["last_verification_ok"] is None
