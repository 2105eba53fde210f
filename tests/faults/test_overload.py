"""Overload: a stalled database with the pool exhausted, and clients that send headers or bodies slowly.

With every pooled connection stuck behind a lock, requests must not pile up without bound: each one gets a
503 problem with Retry-After within the acquire timeout plus the statement timeout, the service never holds
more database connections than its pool, and it serves normally the moment the lock is gone. Slow clients
(slowloris on headers or on the body) are cut off after the request timeout and never stop others from
being served.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.faults.cluster import Cluster
from tests.faults.conftest import verify_audit
from tests.faults.load import TokenWorkload, rush
from tests.faults.report import record
from tests.faults.seed import admin_token

pytestmark = pytest.mark.faults

POOL_MAX = 3
ACQUIRE_S = 1.0
STATEMENT_MS = 1500
REQUEST_TIMEOUT_S = 2.0
STALL_S = 6.0


async def _slow_headers(url_port: int, n: int) -> list[float | None]:
    """``n`` clients each sending one header byte every 0.3 s; seconds until the server hung up on each."""
    async def one() -> float | None:
        reader, writer = await asyncio.open_connection("127.0.0.1", url_port)
        started = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(60):
                writer.write(b"X-Slow-%d: y\r\n" % i)
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1024), timeout=0.3) == b"":
                        return time.monotonic() - started
                except TimeoutError:
                    continue
        except ConnectionError:
            return time.monotonic() - started
        finally:
            writer.close()
        return None  # still open after 18 s: the server let it hold the connection

    return await asyncio.gather(*(one() for _ in range(n)))


async def test_stalled_database_and_slow_clients(cluster: Cluster) -> None:
    conn = await cluster.owner()
    try:
        token = await admin_token(conn)
    finally:
        await conn.close()
    service = cluster.spawn(db_pool_max=POOL_MAX, db_pool_min=1, db_acquire_timeout_s=ACQUIRE_S,
                            db_statement_timeout_ms=STATEMENT_MS, request_statement_timeout_ms=STATEMENT_MS,
                            request_timeout_s=REQUEST_TIMEOUT_S)
    await cluster.wait_ready(service)
    workload = TokenWorkload(token)
    stop = asyncio.Event()
    started = time.monotonic()
    load = asyncio.create_task(rush(workload, [service.url], clients=40, stop=stop))
    await asyncio.sleep(1.0)

    # Stall the database: every authenticated request touches api_tokens and waits on this lock.
    locker = await cluster.owner()
    peak_backends = 0
    tx = locker.transaction()
    await tx.start()
    await locker.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
    stall_started = time.monotonic() - started
    watcher = await cluster.owner()
    try:
        while time.monotonic() - started - stall_started < STALL_S:
            n = await watcher.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wartel' "
                                       "AND usename = 'wartel_app'")
            peak_backends = max(peak_backends, n)
            await asyncio.sleep(0.2)
    finally:
        await tx.rollback()
        # The lock is gone now: requests it held are answered while the connections below close (a backend's
        # exit takes a few ms, more with large shared buffers), and must not count as answered during it.
        stall_ended = time.monotonic() - started
        await locker.close()
        await watcher.close()

    # Slow clients while the service is otherwise healthy again.
    slow_task = asyncio.create_task(_slow_headers(service.port, 30))
    await asyncio.sleep(0.5)
    async with aiohttp.ClientSession() as http:
        t0 = time.monotonic()
        async with http.get(f"{service.url}/healthz") as r:
            healthz_during_slowloris = (r.status, round(time.monotonic() - t0, 3))
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        t0 = time.monotonic()
        writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200\r\n\r\n{")
        await writer.drain()
        head = await asyncio.wait_for(reader.read(200), timeout=REQUEST_TIMEOUT_S + 5)
        slow_body = (head.split(b"\r\n", 1)[0].decode(), round(time.monotonic() - t0, 2))
        writer.close()
    cut_off = await slow_task
    await asyncio.sleep(1.5)
    stop.set()
    tally = await load

    # Requests sent and answered while the lock was held: none of them can have succeeded.
    stalled = [(at, st) for at, st, done in tally.timeline if stall_started < at and done < stall_ended]
    stalled_ok = sum(1 for _, st in stalled if st is not None and 200 <= st < 300)
    after = [st for at, st, _ in tally.timeline if at > stall_ended + 1.0]
    conn = await cluster.owner()
    try:
        found = await workload.check(conn, tally.acknowledged)
    finally:
        await conn.close()
    verify_ok, verify_detail = await verify_audit(cluster)
    record("overload", acknowledged=found["acknowledged"], lost=found["lost"], half_written=found["half_written"],
           server_errors=len(tally.server_errors), verify_ok=verify_ok, pool_max=POOL_MAX,
           peak_db_connections=peak_backends, answered_during_stall=len(stalled), ok_during_stall=stalled_ok,
           max_request_ms=round(tally.max_ms), bound_ms=round((ACQUIRE_S + STATEMENT_MS / 1000) * 1000),
           codes=dict(tally.codes), ok_after_stall=sum(1 for st in after if st == 201),
           slowloris_cut_off_s=sorted({round(c, 1) for c in cut_off if c is not None}),
           slowloris_never_cut=sum(1 for c in cut_off if c is None),
           healthz_during_slowloris=healthz_during_slowloris, slow_body=slow_body, verify=verify_detail)

    assert not tally.server_errors, tally.server_errors[:10]
    assert tally.no_answer == 0, dict(tally.codes)
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert peak_backends <= POOL_MAX, peak_backends
    assert len(stalled) > 40 and stalled_ok == 0, (len(stalled), stalled_ok)
    # Bounded: acquire timeout + statement timeout + scheduling slack on a loaded 2-core machine.
    assert tally.max_ms < (ACQUIRE_S + STATEMENT_MS / 1000 + 3) * 1000, tally.max_ms
    assert any(st == 201 for st in after), "no write succeeded once the database was responsive again"
    assert all(c is not None and c < REQUEST_TIMEOUT_S + 3 for c in cut_off), cut_off
    assert healthz_during_slowloris[0] == 200 and healthz_during_slowloris[1] < 1.0, healthz_during_slowloris
    assert slow_body[0].startswith("HTTP/1.1 408"), slow_body
    assert verify_ok, verify_detail
