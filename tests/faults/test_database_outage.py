"""PostgreSQL stops in the middle of a write rush and comes back: the service answers throughout.

While the database is gone every request gets a quick 503 problem with Retry-After (never a hang, never a
500), /readyz says not ready and /healthz stays up; once PostgreSQL is back the service recovers by itself
(no restart), and every write it acknowledged, before, during or after, is in the database with its audit
record.
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

OUTAGE_S = 4.0


async def _probe(http: aiohttp.ClientSession, url: str) -> tuple[int | None, dict | None, float]:
    started = time.perf_counter()
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as r:
            body = await r.json(content_type=None)
            return r.status, body, time.perf_counter() - started
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None, None, time.perf_counter() - started


async def test_database_restart_under_load(cluster: Cluster) -> None:
    conn = await cluster.owner()
    try:
        token = await admin_token(conn)
    finally:
        await conn.close()
    service = cluster.spawn()
    await cluster.wait_ready(service)

    workload = TokenWorkload(token)
    stop = asyncio.Event()
    load_started = time.monotonic()
    load = asyncio.create_task(rush(workload, [service.url], clients=8, stop=stop))
    await asyncio.sleep(1.5)

    await asyncio.to_thread(cluster.db_stop)
    down_at = time.monotonic()
    outage_ready: list[int | None] = []
    outage_health: list[int | None] = []
    slowest_probe = 0.0
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - down_at < OUTAGE_S:
            status, body, took = await _probe(http, f"{service.url}/readyz")
            outage_ready.append(status if body is None or body.get("ready") is False else 200)
            slowest_probe = max(slowest_probe, took)
            outage_health.append((await _probe(http, f"{service.url}/healthz"))[0])
            await asyncio.sleep(0.3)
        await asyncio.to_thread(cluster.db_start)
        up_at = time.monotonic()
        recovered_s = None
        while time.monotonic() - up_at < 30:
            status, _, _ = await _probe(http, f"{service.url}/readyz")
            if status == 200:
                recovered_s = time.monotonic() - up_at
                break
            await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    stop.set()
    tally = await load

    conn = await cluster.owner()
    try:
        found = await workload.check(conn, tally.acknowledged)
    finally:
        await conn.close()
    verify_ok, verify_detail = await verify_audit(cluster)
    acked_after = sum(1 for at, st, _ in tally.timeline if st is not None and 200 <= st < 300
                      and at > up_at - load_started + (recovered_s or 0))
    record("database_outage", acknowledged=found["acknowledged"], lost=found["lost"],
           half_written=found["half_written"], server_errors=len(tally.server_errors), verify_ok=verify_ok,
           answered_503_with_retry_after=tally.unavailable, no_answer=tally.no_answer,
           readyz_during_outage=sorted(set(outage_ready), key=str), healthz_during_outage=sorted(set(outage_health), key=str),
           slowest_readyz_s=round(slowest_probe, 2), recovered_s=round(recovered_s, 2) if recovered_s else None,
           max_request_ms=round(tally.max_ms), writes_after_recovery=acked_after, outage_s=OUTAGE_S,
           statuses=dict(tally.statuses), first_server_errors=tally.server_errors[:3], verify=verify_detail)

    assert not tally.server_errors, tally.server_errors[:10]
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert tally.unavailable > 0, "no request saw the outage as a 503 with Retry-After"
    assert tally.no_answer == 0, f"{tally.no_answer} requests got no HTTP answer: {dict(tally.codes)}"
    assert set(outage_ready) == {503}, outage_ready
    assert set(outage_health) == {200}, outage_health
    assert recovered_s is not None, "service did not become ready again after PostgreSQL came back"
    assert acked_after > 0, "no write succeeded after recovery"
    assert tally.max_ms < 10_000, f"a request took {tally.max_ms:.0f} ms"
    assert verify_ok, verify_detail
