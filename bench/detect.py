"""Benchmark: a full detection rescan of a simulated region-year, and the incremental detector's latency.

On its own database of the embedded test server (dropped at the end):

1. ``wartel simulate``'s generator makes a region-year: 25 facilities across WIB/WITA/WIT, 20,000 inmates,
   three calls a week each (>= 3,000,000 calls; bookings for the last 60 days), every pattern injected,
   with the audit entries the service writes for every booking, check-in, cancellation and call (call
   started and ended: about two per call; --no-service-audit leaves them out, as runs before issue 20 did);
2. the floor: ``SELECT count(*) FROM calls`` (a plain scan of the table; best of two);
3. a full rescan of every rule over the year, as the service role (``wartel detect run --full``);
4. the incremental job, running every 2 s as the scheduler runs it (advisory lock, service role): a
   triggering call (a third inmate dialling a number two others called) is committed, and the time until
   its flag is visible is measured, five times.

Last line: one JSON object with calls, rescan_s, calls_per_s, scan_s, ratio (rescan_s / scan_s) and
incremental_latency_ms (the worst of the five), plus details.

    make bench-detect
    .venv/bin/python -m bench.detect --inmates 4000 --days 120      # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from audit.detection.engine import incremental_job, run_full
from wartel import migrations
from wartel.config import Settings
from wartel.db import APP_ROLE, _with_database, connect, create_pool, start_embedded
from wartel.jobs import JobSpec, run_once
from wartel.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def _scan_s(conn: asyncpg.Connection) -> tuple[int, float]:
    best = float("inf")
    count = 0
    for _ in range(2):
        started = time.perf_counter()
        count = await conn.fetchval("SELECT count(*) FROM calls")
        best = min(best, time.perf_counter() - started)
    return count, best


async def _latency_ms(
    owner: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, region_id: int, samples: int
) -> list[float]:
    job = JobSpec("detection_incremental", incremental_job, every_s=2)
    stop = asyncio.Event()

    async def scheduler() -> None:
        # What APScheduler does for this JobSpec: run_once every 2 s, skipping while a run is still going.
        while not stop.is_set():
            started = time.perf_counter()
            await run_once(pool, settings, job)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, 2.0 - (time.perf_counter() - started)))
            except TimeoutError:
                pass

    await run_once(pool, settings, job)  # first pass: watermark and the absence sweeps, before timing
    task = asyncio.create_task(scheduler())
    rows = await owner.fetch(
        """SELECT DISTINCT ON (i.current_facility_id) i.id, i.current_facility_id AS facility_id,
                  (SELECT booth_id FROM booths b WHERE b.facility_id = i.current_facility_id LIMIT 1) AS booth_id
             FROM inmates i JOIN facilities f ON f.id = i.current_facility_id
            WHERE f.region_id = $1 AND i.status = 'active' ORDER BY i.current_facility_id, i.id LIMIT 3""",
        region_id,
    )
    out = []
    try:
        for n in range(samples):
            number = f"+6287999{n:06d}"
            for r in rows[:2]:
                await owner.execute(
                    "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
                    " VALUES ($1, $2, $3, $4, now() - interval '3 minutes', now(), 'completed')",
                    r["facility_id"],
                    r["booth_id"],
                    r["id"],
                    number,
                )
            await asyncio.sleep(2.5 + n * 0.7)  # land the trigger at a different point of the job's cycle
            r = rows[2]
            async with owner.transaction():
                await owner.execute(
                    "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
                    " VALUES ($1, $2, $3, $4, now() - interval '3 minutes', now(), 'completed')",
                    r["facility_id"],
                    r["booth_id"],
                    r["id"],
                    number,
                )
            committed = time.perf_counter()
            while not await owner.fetchval(
                "SELECT true FROM detection_flags WHERE rule_id = 'shared_number' AND subject_key = $1"
                " AND (evidence->>'distinct_inmates')::int >= 3",
                number,
            ):
                if time.perf_counter() - committed > 30:
                    raise RuntimeError("no flag 30 s after the triggering call")
                await asyncio.sleep(0.02)
            out.append((time.perf_counter() - committed) * 1000)
            log(f"incremental latency sample {n + 1}: {out[-1]:.0f} ms")
    finally:
        stop.set()
        await task
    return out


async def main(args: argparse.Namespace) -> dict[str, object]:
    server = start_embedded(Path(os.environ.get("WARTEL_TEST_DATA_DIR", ROOT / ".wartel-test")))
    name = f"wartel_bench_detect_{os.getpid()}"
    admin = await asyncpg.connect(_with_database(server, "postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(scheduler=False, demo=False, db_pool_min=1, db_pool_max=4)
    owner = await connect(_with_database(server, name))
    pool = None
    try:
        await migrations.migrate(owner)
        await owner.execute(f"ALTER ROLE {APP_ROLE} PASSWORD 'wartel-app-bench'")
        log(f"simulating {args.facilities} facilities, {args.inmates} inmates, {args.days} days ...")
        started = time.perf_counter()
        region, truth = await simulate(
            owner,
            facilities=args.facilities,
            inmates=args.inmates,
            days=args.days,
            seed=args.seed,
            booking_days=args.booking_days,
            service_audit=not args.no_service_audit,
        )
        generate_s = time.perf_counter() - started
        await owner.execute("VACUUM ANALYZE calls")
        await owner.execute("VACUUM ANALYZE audit.entries")
        calls, scan_s = await _scan_s(owner)
        audit_entries = await owner.fetchval("SELECT count(*) FROM audit.entries")
        log(
            f"generated {calls:,} calls and {audit_entries:,} audit entries in {generate_s:.0f} s;"
            f" count(*) {scan_s:.3f} s"
        )

        app_dsn = _with_database(server, name, user=APP_ROLE)
        if "@" in app_dsn and "//" in app_dsn:
            scheme, rest = app_dsn.split("//", 1)
            user, host = rest.split("@", 1)
            app_dsn = f"{scheme}//{user}:wartel-app-bench@{host}"
        pool = await create_pool(app_dsn, settings, min_size=2)
        since = datetime.combine(region.start, datetime.min.time(), UTC)
        started = time.perf_counter()
        results = await run_full(pool, since=since)
        rescan_s = time.perf_counter() - started
        flags = await owner.fetchval("SELECT count(*) FROM detection_flags")
        log(
            f"full rescan {rescan_s:.1f} s, {flags} flags: "
            + ", ".join(f"{r.rule_id} {r.seconds:.1f}" for r in sorted(results, key=lambda r: -r.seconds))
        )
        samples = await _latency_ms(owner, pool, settings, region.region_id, args.samples)
        return {
            "calls": calls,
            "audit_entries": audit_entries,
            "rescan_s": round(rescan_s, 2),
            "calls_per_s": round(calls / rescan_s),
            "scan_s": round(scan_s, 3),
            "ratio": round(rescan_s / scan_s, 1),
            "incremental_latency_ms": round(max(samples)),
            "incremental_latency_ms_median": round(statistics.median(samples)),
            "generate_s": round(generate_s, 1),
            "flags": flags,
            "injected_patterns": len(truth.expected),
            "rule_s": {r.rule_id: round(r.seconds, 2) for r in results},
            "facilities": args.facilities,
            "inmates": args.inmates,
            "days": args.days,
        }
    finally:
        if pool is not None:
            await pool.close()
        await owner.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--facilities", type=int, default=25)
    parser.add_argument("--inmates", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--booking-days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument(
        "--no-service-audit",
        action="store_true",
        help="leave out the audit entries the service writes for every booking and call",
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
