"""The regional office's downloads open as they are in a spreadsheet set to Indonesian."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests import reports_data as rd
from tests.pages_helpers import page_login


async def _region_with_calls(factory, owner_conn):  # type: ignore[no-untyped-def]
    rid = await factory.region("SULSEL", name="Kanwil Sulawesi Selatan")
    fid = await factory.facility(rid, code="LP-MAKASSAR", time_zone="Asia/Makassar")
    officer = await factory.user("officer", facility_id=fid, username="petugas.sulsel")
    booth = await factory.booth(fid)
    inmate = await factory.inmate(fid, name="=HYPERLINK(\"http://x\")")
    contact = await factory.contact(inmate)
    await rd.call(owner_conn, fid, booth, inmate, contact, datetime(2026, 1, 5, 3, 0, tzinfo=UTC),
                  outcome="cut_off", ended_by=officer)
    await rd.call(owner_conn, fid, booth, inmate, contact, datetime(2026, 1, 6, 3, 0, 12, 345678, tzinfo=UTC))
    await factory.user("regional", region_id=rid, username="kanwil.sulsel")
    return rid, fid


def _table(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), body[:20]  # the byte-order mark: names keep their letters
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert len({len(r) for r in rows}) == 1, rows  # every row splits into the same columns on ";"
    return rows


async def test_the_page_csv_is_for_an_indonesian_spreadsheet(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    await _region_with_calls(factory, owner_conn)
    await page_login(client, "kanwil.sulsel")
    r = await client.get("/reports/compliance?period=month&month=2026-01&format=csv&section=facilities")
    assert r.status == 200, await r.text()
    assert r.content_type == "text/csv"
    rows = _table(await r.read())
    header = rows[0]
    assert header[:4] == ["Periode", "Kode UPT", "Nama UPT", "Zona waktu"], header
    assert "Pemutusan" in header and "Pemenuhan hak" in header
    assert not any("_" in h for h in header), header  # no machine column names
    padang = dict(zip(header, rows[1], strict=True))
    assert padang["Kode UPT"] == "LP-MAKASSAR" and padang["Pemutusan"] == "1"
    assert rows[-1][1] == "JUMLAH"
    # Decimals carry the Indonesian mark, never a point a spreadsheet would take for thousands.
    assert all("." not in cell for cell in (padang["Pemenuhan hak"], padang["Pemakaian bilik"]))

    r = await client.get("/reports/compliance?period=month&month=2026-01&format=csv&section=inmates_without_call"
                         "&no_call_days=3")
    assert r.status == 200, await r.text()
    rows = _table(await r.read())
    assert rows[0] == ["Kode UPT", "No. registrasi", "Nama", "Panggilan terakhir", "Hari tanpa panggilan"]
    row = dict(zip(rows[0], rows[1], strict=True))
    # The facility's own time (WITA, UTC+8), to the minute: no UTC, no microseconds.
    assert row["Panggilan terakhir"] == "2026-01-06 11:00", row
    assert row["Nama"].startswith("'=HYPERLINK")  # still never a formula


async def test_the_api_csv_stays_the_programs_csv(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, _ = await _region_with_calls(factory, owner_conn)
    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.get("/api/v1/reports/compliance.csv?month=2026-01")
    assert r.status == 200, await r.text()
    text = await r.text()
    assert not text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["facility_code"] == "LP-MAKASSAR" and rows[-1]["facility_code"] == "TOTAL"


async def test_the_current_month_counts_days_without_a_call_up_to_today(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """The report of the month under way and the dashboard's month to date list the same inmates with the
    same days: a call three days ago is three days ago, not counted from the month's last day."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from wartel.reports.compliance import compliance_report
    from wartel.reports.period import Period, month_period

    rid = await factory.region("SUMBAR2", name="Kanwil Sumatera Barat")
    fid = await factory.facility(rid, code="LP-BUKITTINGGI", time_zone="Asia/Jakarta")
    booth = await factory.booth(fid)
    recently = await factory.inmate(fid, name="Baru Menelepon")
    never = await factory.inmate(fid, name="Belum Pernah")
    contact = await factory.contact(recently)
    # The instant the test chooses: the database's now (the report's "today"), three days back.
    now = await owner_conn.fetchval("SELECT now()")
    await rd.call(owner_conn, fid, booth, recently, contact, now - timedelta(days=3))
    today = now.astimezone(ZoneInfo("Asia/Jakarta")).date()
    month = month_period(f"{today:%Y-%m}")
    whole = await compliance_report(owner_conn, period=month, region_id=rid, no_call_days=2)
    to_date = await compliance_report(owner_conn, period=Period(month.start, today, month.label), region_id=rid,
                                      no_call_days=2)
    listed = {i.inmate_id: i.days_without_call for i in whole.inmates_without_call}
    assert listed == {i.inmate_id: i.days_without_call for i in to_date.inmates_without_call}
    assert listed[recently] == 3, listed
    assert never in listed


async def test_the_printable_report_reads_well_and_prints_with_a_signature_block(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    import base64
    import hashlib
    import re

    from tests.pages_helpers import assert_indonesian

    await _region_with_calls(factory, owner_conn)
    await page_login(client, "kanwil.sulsel")
    r = await client.get("/reports/compliance?period=month&month=2026-01&format=html")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    # Chart text is never below 11px; the red target line says what it is.
    sizes = [int(s) for s in re.findall(r"\.chart-label, \.chart-value \{ font: (\d+)px", html)]
    assert sizes and min(sizes) >= 11, sizes
    assert 'class="chart-target"' in html and "Sasaran: semua warga binaan berhak (100%)" in html
    # Headers wrap between words only.
    assert "hyphens: auto" not in html and "th { overflow-wrap: normal; word-break: normal; hyphens: manual; }" in html
    # A print button whose one-line script is the only one the page's policy lets run.
    assert '<button type="button" id="print">Cetak</button>' in html
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in r.headers["Content-Security-Policy"]
    assert "Dibuat oleh," in html and "Mengetahui," in html and "NIP." in html
    assert "Kanwil Sulawesi Selatan, " in html
    assert re.search(r"Dibuat: \w+, \d+ \w+ \d{4} \d\d\.\d\d WITA", html), html  # the region's own zone


async def test_the_policy_form_loads_the_values_in_force_and_shows_the_versions(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from tests.pages_helpers import assert_indonesian

    rid = await factory.region("SUMSEL", name="Kanwil Sumatera Selatan")
    fid = await factory.facility(rid, code="LP-PALEMBANG")
    await factory.user("regional", region_id=rid, username="kanwil.sumsel")
    csrf = await page_login(client, "kanwil.sumsel")
    form = {"csrf_token": csrf, "target": f"f:{fid}", "allowance": "family", "risk_level": "high",
            "period": "month", "calls_allowed": "4", "max_minutes": "10", "min_lead_minutes": "120",
            "max_days_ahead": "7", "cancel_cutoff_minutes": "60", "booth_kinds": "video", "note": "versi awal"}
    for calls in ("4", "3"):
        r = await client.post("/regional/policies", data={**form, "calls_allowed": calls})
        assert r.status == 200, await r.text()
    policy_id = await owner_conn.fetchval("SELECT policy_id FROM call_policies WHERE scope_facility_id = $1", fid)
    r = await client.get(f"/regional/policies?edit={policy_id}")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert_indonesian(html)
    assert "pesan 120 menit – 7 hari sebelumnya" in html
    form_html = html[html.index('id="form"'):html.index("Riwayat versi")]
    assert f'<option value="f:{fid}" selected>' in form_html
    assert 'name="calls_allowed" type="number" min="0" required value="3"' in form_html
    assert 'name="min_lead_minutes" type="number" min="0" required value="120"' in form_html
    assert 'value="video" checked' in form_html and 'value="phone" checked' not in form_html
    history = html[html.index("Riwayat versi"):]
    assert history.index("versi 2") < history.index("versi 1")  # newest first
    assert "Petugas kanwil.sumsel (kanwil.sumsel)" in history  # who set it, by name
