"""A write that loses a deadlock is run again by the service, not answered with a 500."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import Factory
from wartel import keys
from wartel.app import create_app
from wartel.http.endpoints import EndpointTable, mount


async def test_a_deadlocked_write_is_retried_and_lands_once(settings, database, owner_conn) -> None:  # type: ignore[no-untyped-def]
    table = EndpointTable()
    attempts: list[int] = []

    @table.post("/api/v1/test/region", summary="test", tags=["test"], roles=("admin",))
    async def create_region_losing_one_deadlock(req, ctx):  # type: ignore[no-untyped-def]
        await ctx.db.execute("INSERT INTO regions (code, name) VALUES ('RETRY', 'Retry')")
        attempts.append(1)
        if len(attempts) == 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return {"attempts": len(attempts)}

    app = create_app(settings, target=database, migrate=False)
    app[keys.ENDPOINTS].extend(mount(app, [table]))
    async with TestClient(TestServer(app)) as client:
        admin = await Factory(owner_conn, client).as_role("admin")
        r = await admin.post("/api/v1/test/region", json={})
        assert r.status == 200, await r.text()
        assert (await r.json())["attempts"] == 2
    # The first attempt rolled back entirely: the region exists once.
    assert await owner_conn.fetchval("SELECT count(*) FROM regions WHERE code = 'RETRY'") == 1
