"""Benchmark: the monthly compliance report for a simulated region (25 facilities, >= 400,000 calls).

Builds its own database on the embedded test server (generate_series, set-based), then times the report
and, in the same run, a plain scan of the month's calls as the floor. Last line: one JSON object.

    make bench-report                 # full size
    .venv/bin/python -m bench.report --calls 40000 --reuse
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import asyncpg

from wartel import migrations
from wartel.db import _with_database, connect, start_embedded
from wartel.reports.compliance import compliance_report
from wartel.reports.period import month_period

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "wartel_bench_report"
MONTH = month_period("2026-01")

_ZONES = ("Asia/Jakarta", "Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")

_GENERATE = [
    "INSERT INTO regions (code, name) VALUES ('BENCH', 'Kanwil Simulasi')",
    """INSERT INTO facilities (region_id, code, name, kind, class, time_zone)
       SELECT r.id, 'LP-' || lpad(g::text, 2, '0'), 'Lapas Simulasi ' || g, 'lapas', 'IIA', ($2::text[])[1 + g % 5]
         FROM regions r, generate_series(1, $1::int) g WHERE r.code = 'BENCH'""",
    """INSERT INTO opening_hours (facility_id, weekday, opens, closes)
       SELECT f.id, d, '08:00', '16:00' FROM facilities f, generate_series(1, 7) d""",
    """INSERT INTO booths (facility_id, name, kind)
       SELECT f.id, 'Bilik ' || b, CASE WHEN b % 3 = 0 THEN 'video' ELSE 'phone' END
         FROM facilities f, generate_series(1, $1::int) b""",
    """INSERT INTO users (username, full_name, password_hash, role, scope_facility_id)
       SELECT 'petugas.' || lower(f.code) || '.' || k, 'Petugas ' || f.code || ' ' || k, 'x', 'officer', f.id
         FROM facilities f, generate_series(1, 4) k""",
    """INSERT INTO inmates (registration_no, full_name, admitted_on, current_facility_id, status, released_on)
       SELECT 'B' || f.id || '-' || g, 'Warga Binaan ' || f.id || '-' || g, DATE '2024-01-01' + (g % 700),
              f.id, CASE WHEN g % 50 = 0 THEN 'released' ELSE 'active' END,
              CASE WHEN g % 50 = 0 THEN DATE '2026-01-15' END
         FROM facilities f, generate_series(1, $1::int) g""",
    """INSERT INTO contacts (inmate_id, phone_e164, name, relation, status, verification_method, verified_by,
                             verified_at)
       SELECT i.id, '+6281' || lpad(i.id::text, 9, '0'), 'Keluarga', 'spouse', 'verified', 'ktp',
              (SELECT min(id) FROM users), now()
         FROM inmates i""",
    # Calls: spread over the month in each facility's local opening hours, a mix of outcomes; one inmate in
    # twenty never calls, so the named list of inmates without a call has work to do.
    """WITH fa AS MATERIALIZED (
           SELECT f.id, f.time_zone,
                  (SELECT array_agg(b.booth_id ORDER BY b.booth_id) FROM booths b WHERE b.facility_id = f.id) AS booths,
                  (SELECT array_agg(i.id ORDER BY i.id) FROM inmates i WHERE i.current_facility_id = f.id) AS inmates,
                  (SELECT array_agg(u.id ORDER BY u.id) FROM users u WHERE u.scope_facility_id = f.id) AS officers
             FROM facilities f)
       INSERT INTO calls (facility_id, booth_id, inmate_id, contact_id, dialled_e164, started_at, ended_at,
                          outcome, ended_by, cut_off_reason)
       SELECT x.facility_id, x.booth_id, x.inmate_id, c.id, c.phone_e164, x.started, x.started + x.dur,
              x.outcome, CASE WHEN x.outcome = 'cut_off' THEN x.officer END,
              CASE WHEN x.outcome = 'cut_off' THEN 'pelanggaran' END
         FROM (
           SELECT fa.id AS facility_id,
                  fa.booths[1 + g % cardinality(fa.booths)] AS booth_id,
                  fa.inmates[1 + (g * 7919) % (cardinality(fa.inmates) * 95 / 100)] AS inmate_id,
                  (DATE '2026-01-01' + (g % 31) + time '08:00' + make_interval(secs => (g * 37) % 28000))
                      AT TIME ZONE fa.time_zone AS started,
                  make_interval(secs => 60 + (g * 13) % 840) AS dur,
                  (ARRAY['completed','completed','completed','completed','completed','completed','time_limited',
                         'time_limited','not_answered','technical_failure','cut_off'])[1 + g % 11] AS outcome,
                  fa.officers[1 + g % cardinality(fa.officers)] AS officer
             FROM fa, generate_series(1, $1::int) g
         ) x
         JOIN contacts c ON c.inmate_id = x.inmate_id""",
    # Bookings: cancelled ones (no overlap rule applies) and no-shows on distinct booth slots.
    """WITH fa AS MATERIALIZED (
           SELECT f.id, f.time_zone,
                  (SELECT array_agg(i.id ORDER BY i.id) FROM inmates i WHERE i.current_facility_id = f.id) AS inmates,
                  (SELECT array_agg(u.id ORDER BY u.id) FROM users u WHERE u.scope_facility_id = f.id) AS officers
             FROM facilities f)
       INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, status, period_start, max_minutes,
                             booked_by, cancel_reason, is_override, override_reason)
       SELECT fa.id, b.booth_id, c.inmate_id, c.id,
              tstzrange(((DATE '2026-01-01' + d) + time '08:00' + make_interval(mins => 15 * k)) AT TIME ZONE fa.time_zone,
                        ((DATE '2026-01-01' + d) + time '08:15' + make_interval(mins => 15 * k)) AT TIME ZONE fa.time_zone),
              CASE WHEN k = 0 THEN 'no_show' ELSE 'cancelled' END, DATE '2026-01-01', 15,
              fa.officers[1 + d % cardinality(fa.officers)],
              CASE WHEN k > 0 THEN (ARRAY['inmate','family','facility','technical'])[1 + (d + k) % 4] END,
              k = 1 AND d % 5 = 0, CASE WHEN k = 1 AND d % 5 = 0 THEN 'alasan kemanusiaan' END
         FROM fa
         JOIN booths b ON b.facility_id = fa.id
         CROSS JOIN generate_series(0, 30) d
         CROSS JOIN generate_series(0, 2) k
         JOIN contacts c ON c.inmate_id = fa.inmates[1 + (b.booth_id * 97 + d * 3 + k) % cardinality(fa.inmates)]""",
    # Transfers: a few percent of the inmates move to another facility of the region during the month, at
    # 10:00 in the origin's zone; their calls from that instant on were made at the destination.
    """WITH fs AS (
           SELECT f.id, f.time_zone, coalesce(lead(f.id) OVER (ORDER BY f.id), min(f.id) OVER ()) AS next_id
             FROM facilities f),
       moved AS (
           INSERT INTO inmate_transfers (inmate_id, from_facility_id, to_facility_id, transferred_at, reason)
           SELECT i.id, i.current_facility_id, fs.next_id,
                  ((DATE '2026-01-02' + ((i.id * 7) % 28)::int) + time '10:00') AT TIME ZONE fs.time_zone,
                  'pemerataan hunian'
             FROM inmates i JOIN fs ON fs.id = i.current_facility_id
            WHERE i.status = 'active' AND i.id % 100 < $1::int
           RETURNING inmate_id, to_facility_id)
       UPDATE inmates i SET current_facility_id = m.to_facility_id FROM moved m WHERE i.id = m.inmate_id""",
    """UPDATE calls c SET facility_id = t.to_facility_id,
              booth_id = (SELECT min(b.booth_id) FROM booths b WHERE b.facility_id = t.to_facility_id)
         FROM inmate_transfers t
        WHERE c.inmate_id = t.inmate_id AND c.started_at >= t.transferred_at""",
]


async def build(server: str, facilities: int, calls: int, inmates_per_facility: int, booths: int,
                transferred_pct: int) -> None:
    admin = await asyncpg.connect(_with_database(server, "postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    await admin.close()
    conn = await connect(_with_database(server, DB_NAME))
    try:
        await migrations.migrate(conn)
        per_facility = -(-calls // facilities)
        args = [
            (), (facilities, list(_ZONES)), (), (booths,), (), (inmates_per_facility,), (),
            (per_facility,), (), (transferred_pct,), (),
        ]
        for step, (sql, a) in enumerate(zip(_GENERATE, args, strict=True)):
            t0 = time.perf_counter()
            await conn.execute(sql, *a)
            print(f"  step {step}: {time.perf_counter() - t0:.1f}s", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def measure(server: str, runs: int) -> dict[str, float | int]:
    conn = await connect(_with_database(server, DB_NAME))
    try:
        region_id = await conn.fetchval("SELECT id FROM regions WHERE code = 'BENCH'")
        n_calls = await conn.fetchval(
            "SELECT count(*) FROM calls WHERE started_at >= $1::date - interval '1 day' AND started_at < $2::date + 2",
            MONTH.start, MONTH.end)
        scan = ("SELECT count(*), sum(extract(epoch FROM ended_at - started_at)) FROM calls "
                "WHERE started_at >= ($1::date)::timestamp AT TIME ZONE 'Asia/Jayapura' "
                "AND started_at < ($2::date + 1)::timestamp AT TIME ZONE 'Asia/Jakarta'")
        transfers = await conn.fetchval(
            "SELECT count(*) FROM inmate_transfers WHERE transferred_at >= $1::date - interval '1 day'"
            " AND transferred_at < $2::date + 2", MONTH.start, MONTH.end)
        await compliance_report(conn, period=MONTH, region_id=region_id)  # warm the cache
        await conn.fetch(scan, MONTH.start, MONTH.end)
        report_ms, scan_ms = [], []
        report = None
        for _ in range(runs):
            t0 = time.perf_counter()
            report = await compliance_report(conn, period=MONTH, region_id=region_id)
            report_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await conn.fetch(scan, MONTH.start, MONTH.end)
            scan_ms.append((time.perf_counter() - t0) * 1000)
        assert report is not None
        r_ms, s_ms = statistics.median(report_ms), statistics.median(scan_ms)
        return {"facilities": len(report.facilities), "calls": n_calls,
                "calls_completed": report.totals.calls_completed, "transfers": transfers,
                "active_inmates": report.totals.active_inmates,
                "active_inmates_rows": sum(f.active_inmates for f in report.facilities),
                "inmates_without_call": len(report.inmates_without_call),
                "report_ms": round(r_ms, 1), "scan_ms": round(s_ms, 1), "ratio": round(r_ms / s_ms, 2),
                "target_report_ms": 1000, "runs": runs}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=25)
    parser.add_argument("--calls", type=int, default=410_000)
    parser.add_argument("--inmates", type=int, default=1_000, help="per facility")
    parser.add_argument("--booths", type=int, default=8, help="per facility")
    parser.add_argument("--transferred", type=int, default=3, help="percent of inmates moved within the month")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the database built by a previous run")
    parser.add_argument("--drop", action="store_true", help="drop the bench database afterwards")
    args = parser.parse_args()
    server = os.environ.get("WARTEL_TEST_DATABASE_URL") or start_embedded(
        Path(os.environ.get("WARTEL_TEST_DATA_DIR", ROOT / ".wartel-test")))

    async def go() -> dict[str, float | int]:
        if not args.reuse:
            t0 = time.perf_counter()
            await build(server, args.facilities, args.calls, args.inmates, args.booths, args.transferred)
            print(f"built {DB_NAME} in {time.perf_counter() - t0:.1f}s", flush=True)
        result = await measure(server, args.runs)
        if args.drop:
            admin = await asyncpg.connect(_with_database(server, "postgres"))
            await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            await admin.close()
        return result

    print(json.dumps(asyncio.run(go())), flush=True)


if __name__ == "__main__":
    main()
