"""Two service processes on one database: a booking rush split across both, and both schedulers running.

Booking invariants hold across processes because they live in the database (exclusion constraints, the
quota ledger's row lock and CHECK): no slot or inmate double-booked, no quota overdrawn, nothing
acknowledged lost. Each scheduled job's work is done once: overdue calls are closed by exactly one of the
two schedulers (advisory lock per job run, row locks per call), one ``call.ended`` record each.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from audit import Actor
from schedules import booking as bookings
from schedules import calls
from tests.factory import Factory
from tests.faults.cluster import Cluster
from tests.faults.conftest import verify_audit
from tests.faults.load import rush
from tests.faults.report import record
from tests.faults.workloads import booking_world

pytestmark = pytest.mark.faults

OVERDUE_CALLS = 6
_JOB_LINE = re.compile(r'^wartel_job_runs_total\{job="([^"]+)",outcome="([^"]+)"\} ([0-9.e+]+)$', re.M)


async def _overdue_calls(conn: Any, n: int) -> list[tuple[int, int]]:
    """Live calls whose limit passed a while ago, made through the domain as they would have been then."""
    f = Factory(conn)
    fid = await f.facility(await f.region(), hours=False, time_zone="Asia/Jakarta", slot_minutes=15)
    for weekday in range(1, 8):
        await f.opening_hours(fid, weekday, datetime.min.time(), datetime.max.time().replace(microsecond=0))
    officer = await f.user("officer", facility_id=fid)
    actor = Actor(type="user", id=str(officer), role="officer")
    back = datetime.now(UTC) - timedelta(minutes=40)
    then = back.replace(minute=back.minute - back.minute % 15, second=0, microsecond=0)
    # The day's hours end at 23:59:59, so the slot from 23:45 WIB does not exist: 40 minutes before 00:25-00:39
    # WIB, take the one before it.
    if then.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%H:%M") == "23:45":
        then -= timedelta(minutes=15)
    made = []
    for _ in range(n):
        booth = await f.booth(fid)
        inmate = await f.inmate(fid)
        contact = await f.contact(inmate)
        async with conn.transaction():
            b = await bookings.book_call(conn, bookings.BookingRequest(fid, booth, inmate, contact, then,
                                                                       override_reason="fault scenario"),
                                         user_id=officer, actor=actor, now=then - timedelta(minutes=5))
            await calls.check_in(conn, b["booking_id"], facility_ids=[fid], user_id=officer, actor=actor, now=then)
            await calls.start_call(conn, b["booking_id"], facility_ids=[fid], supervisor_id=officer, actor=actor,
                                   now=then)
        made.append((fid, b["booking_id"]))
    return made


async def _job_runs(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
        text = await r.text()
    return {f"{job}:{outcome}": float(v) for job, outcome, v in _JOB_LINE.findall(text)}


async def test_two_processes_share_one_database(cluster: Cluster) -> None:
    conn = await cluster.owner()
    try:
        workload = await booking_world(conn)
        overdue = await _overdue_calls(conn, OVERDUE_CALLS)
    finally:
        await conn.close()
    a, b = cluster.spawn(scheduler=True), cluster.spawn(scheduler=True)
    await asyncio.gather(cluster.wait_ready(a), cluster.wait_ready(b))

    stop = asyncio.Event()
    load = asyncio.create_task(rush(workload, [a.url, b.url], clients=16, stop=stop))
    await asyncio.sleep(8)
    stop.set()
    tally = await load

    # The overdue-call closer runs every 15 s in both processes: wait for the calls to be closed.
    deadline = time.monotonic() + 45
    conn = await cluster.owner()
    try:
        while time.monotonic() < deadline:
            live = await conn.fetchval(
                "SELECT count(*) FROM calls WHERE ended_at IS NULL AND booking_id = ANY($1::bigint[])",
                [bid for _, bid in overdue])
            if live == 0:
                break
            await asyncio.sleep(1)
        ended_records = await conn.fetch(
            "SELECT subject_id, count(*) AS n FROM audit.entries WHERE action = 'call.ended' "
            "AND subject_type = 'booking' AND subject_id = ANY($1::text[]) GROUP BY subject_id",
            [str(bid) for _, bid in overdue])
        outcomes = await conn.fetch("SELECT outcome, count(*) AS n FROM calls WHERE booking_id = ANY($1::bigint[]) "
                                    "GROUP BY outcome", [bid for _, bid in overdue])
        found = await workload.check(conn, tally.acknowledged)
    finally:
        await conn.close()
    runs_a, runs_b = await _job_runs(a.url), await _job_runs(b.url)
    verify_ok, verify_detail = await verify_audit(cluster)
    ended_once = sum(1 for r in ended_records if r["n"] == 1)
    ended_twice = sum(1 for r in ended_records if r["n"] > 1)
    per_process = {"a": runs_a, "b": runs_b}
    record("two_processes", acknowledged=found["acknowledged"], lost=found["lost"],
           half_written=found["half_written"], server_errors=len(tally.server_errors), verify_ok=verify_ok,
           double_bookings=found["double_bookings"], overdrawn_quotas=found["overdrawn_quotas"],
           conflicts=tally.statuses.get("409", 0), split={"a": a.url, "b": b.url},
           overdue_calls=OVERDUE_CALLS, closed_once=ended_once, closed_more_than_once=ended_twice,
           outcomes={r["outcome"]: r["n"] for r in outcomes}, job_runs=per_process, verify=verify_detail)

    assert found["acknowledged"] > 0
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert found["double_bookings"] == 0 and found["overdrawn_quotas"] == 0, found
    assert not tally.server_errors, tally.server_errors[:10]
    assert ended_once == OVERDUE_CALLS and ended_twice == 0, (ended_records, outcomes)
    assert verify_ok, verify_detail
