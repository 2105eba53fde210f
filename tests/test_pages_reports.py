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
    officer = await factory.user("officer", facility_id=fid)
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
