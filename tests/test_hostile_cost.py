"""Bounded cost: while several users ask for expensive reports at once, /readyz and bookings still answer.

The reports are made expensive for certain: a test connection holds an exclusive lock on a table the
compliance report reads (``detection_flags``) and bookings never touch, so every report statement waits
until the heavy class's statement budget ends it. Twelve such requests from six users (two each) would have
held every connection of the pool for the whole statement timeout before heavy requests got their own pool;
now at most ``heavy_pool_max`` of them hold a (heavy) connection, a caller's second one is refused with 429,
the rest get 503 with ``Retry-After`` at once, and interactive requests never wait for them.

Counted, not timed to the millisecond: statuses and generous bounds (seconds), for a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import As, Factory
from tests.hostile_report import Tally
from tests.schedules_support import booking_body, make_live_site, next_slot
from wartel.db import connect

HEAVY_STATEMENT_MS = 1500
HEAVY_ACQUIRE_S = 0.5
INTERACTIVE_BUDGET_S = 4.0  # generous: /readyz gives up after 2 s without a connection
HEAVY_BUDGET_S = HEAVY_STATEMENT_MS / 1000 + HEAVY_ACQUIRE_S + 4.0


@pytest.fixture
async def cost_client(settings, database) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    from wartel.app import create_app

    tuned = settings.model_copy(
        update={
            "db_pool_max": 8,
            "heavy_pool_max": 2,
            "heavy_statement_timeout_ms": HEAVY_STATEMENT_MS,
            "heavy_acquire_timeout_s": HEAVY_ACQUIRE_S,
        }
    )
    async with TestClient(TestServer(create_app(tuned, target=database, migrate=False))) as c:
        yield c


async def _timed(
    tally: Tally,
    label: str,
    who: As | TestClient,
    method: str,
    url: str,
    *,
    budget_s: float,
    refusals: tuple[int, ...] = (),
    **kw: object,
) -> tuple[int, dict, float]:
    started = time.monotonic()
    r = await who.request(method, url, **kw)  # type: ignore[arg-type]
    body = await r.json() if r.content_type.endswith("json") else {}
    elapsed = time.monotonic() - started
    tally.answered(label, r.status, elapsed, budget_s=budget_s, refusals=refusals)
    return r.status, body, elapsed


async def test_expensive_requests_do_not_take_the_pool_from_bookings_and_readiness(
    cost_client, database, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    tally = Tally("hostile_cost")
    factory = Factory(owner_conn, cost_client)
    site = await make_live_site(factory, booths=4)
    inmates = [site.inmate_id]
    contacts = [site.contact_id]
    for _ in range(4):
        inmate = await factory.inmate(site.facility_id)
        inmates.append(inmate)
        contacts.append(await factory.contact(inmate))
    readers = [await factory.as_role("regional", region_id=site.region_id) for _ in range(6)]
    report = f"/api/v1/reports/compliance?region_id={site.region_id}&from=2025-01-01&to=2025-12-31"
    pulls = "SELECT count(*) FROM audit.entries WHERE action = 'report.pulled'"
    before_pulls = await owner_conn.fetchval(pulls)

    locker = await connect(database.owner_dsn)
    tx = locker.transaction()
    await tx.start()
    await locker.execute("LOCK TABLE detection_flags IN ACCESS EXCLUSIVE MODE")
    try:
        heavy = [
            asyncio.create_task(
                _timed(
                    tally,
                    f"report by reader {i % 6}",
                    readers[i % 6],
                    "GET",
                    report,
                    budget_s=HEAVY_BUDGET_S,
                    refusals=(503,),
                )
            )
            for i in range(12)
        ]
        await asyncio.sleep(0.2)  # the reports are in: the heavy connections are taken, the rest refused

        async def readiness() -> list[tuple[int, dict, float]]:
            out = []
            for _ in range(10):
                out.append(
                    await _timed(
                        tally, "GET /readyz", cost_client, "GET", "/readyz", budget_s=INTERACTIVE_BUDGET_S
                    )
                )
            return out

        async def book(i: int) -> tuple[int, dict, float]:
            body = booking_body(
                site,
                next_slot(site.tz, skip=4 + i),
                booth=i % 4,
                inmate_id=inmates[i],
                contact_id=contacts[i],
            )
            return await _timed(
                tally,
                f"booking {i}",
                site.officer,
                "POST",
                "/api/v1/bookings",
                budget_s=INTERACTIVE_BUDGET_S,
                json=body,
            )

        ready, *booked = await asyncio.gather(readiness(), *(book(i) for i in range(5)))
        reports = await asyncio.gather(*heavy)
    finally:
        await tx.rollback()
        await locker.close()

    # With the lock gone the same report is answered within its budget.
    after = await _timed(tally, "report after the lock", readers[0], "GET", report, budget_s=HEAVY_BUDGET_S)
    tally.record(
        heavy_statuses=sorted(s for s, _, _ in reports),
        heavy_codes=sorted(b.get("code", "") for _, b, _ in reports),
    )

    assert [s for s, _, _ in ready] == [200] * 10, ready
    assert [s for s, _, _ in booked] == [201] * 5, booked
    codes = sorted(b.get("code") for _, b, _ in reports)
    assert all(s in (429, 503) for s, _, _ in reports), reports
    assert set(codes) <= {"timeout", "heavy_requests_busy", "heavy_request_running"}, codes
    assert "timeout" in codes, codes  # the ones that ran were ended by their statement budget
    assert all(b.get("status") in (429, 503) for _, b, _ in reports)
    # Nothing recorded for a report that was not produced; the bookings were.
    assert await owner_conn.fetchval(pulls) == before_pulls + 1  # the one after the lock
    assert after[0] == 200, after
    assert tally.server_errors == 0 and tally.over_budget == 0, tally.findings
