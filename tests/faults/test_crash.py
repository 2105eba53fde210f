"""``kill -9`` the service in the middle of a write rush, several times, and restart it.

Every write the service acknowledged (2xx) must be in the database after the restart with exactly one
audit record; nothing the clients did not get an answer for may be half-written (a row without its audit
record or the reverse); and the audit log verifies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.faults.cluster import Cluster
from tests.faults.conftest import verify_audit
from tests.faults.load import Tally, rush
from tests.faults.report import record
from tests.faults.workloads import prepare_workload

pytestmark = pytest.mark.faults

KILLS = 3
CLIENTS = 16


async def crash_under_load(cluster: Cluster, workload: Any) -> tuple[Tally, list[float]]:
    service = cluster.spawn()
    await cluster.wait_ready(service)
    urls = [service.url]
    stop = asyncio.Event()
    load = asyncio.create_task(rush(workload, urls, clients=CLIENTS, stop=stop))
    restarts: list[float] = []
    for _ in range(KILLS):
        await asyncio.sleep(1.5)
        service.kill9()  # mid-rush: some transactions are in flight, some responses unsent
        started = time.monotonic()
        service = cluster.spawn()
        urls[0] = service.url
        await cluster.wait_ready(service)
        restarts.append(round(time.monotonic() - started, 2))
    await asyncio.sleep(1.5)
    stop.set()
    return await load, restarts


@pytest.mark.parametrize("kind", ["bookings", "tokens"])
async def test_kill_9_during_a_write_rush_loses_nothing_acknowledged(cluster: Cluster, kind: str) -> None:
    workload = await prepare_workload(cluster, kind)
    tally, restarts = await crash_under_load(cluster, workload)
    conn = await cluster.owner()
    try:
        found = await workload.check(conn, tally.acknowledged)
    finally:
        await conn.close()
    verify_ok, verify_detail = await verify_audit(cluster)
    record(f"crash_kill9_{kind}", acknowledged=found["acknowledged"], lost=found["lost"],
           half_written=found["half_written"], server_errors=len(tally.server_errors), verify_ok=verify_ok,
           kills=KILLS, restart_to_ready_s=restarts, no_answer=tally.no_answer,
           **{k: v for k, v in found.items() if k not in ("acknowledged", "lost", "half_written")},
           statuses=dict(tally.statuses), verify=verify_detail)
    assert found["acknowledged"] > 0
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert not tally.server_errors, tally.server_errors[:10]
    assert verify_ok, verify_detail
