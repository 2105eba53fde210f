"""Health, readiness, metrics and the API's own description."""

from __future__ import annotations

import json

import asyncpg
from aiohttp import web

from wartel import keys, migrations
from wartel.db import DatabaseUnavailable, acquire, replication_state
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.openapi import build_openapi

routes = EndpointTable()


@routes.get("/healthz", summary="The process is alive", tags=["system"], roles=None, auth="none", db=False,
            response_content={"application/json": {"schema": {"type": "object"}}})
async def healthz(req: web.Request, ctx: Ctx) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz", summary="The database is reachable and migrations are current", tags=["system"],
            roles=None, auth="none", db=False, errors=(503,),
            response_content={"application/json": {"schema": {"type": "object"}}})
async def readyz(req: web.Request, ctx: Ctx) -> web.Response:
    try:
        async with acquire(req.app[keys.POOL], min(2.0, ctx.settings.db_acquire_timeout_s)) as conn:
            current = await migrations.is_current(conn)
            replication = await replication_state(conn)
    except (DatabaseUnavailable, OSError, Exception) as exc:  # any failure to reach the database: not ready
        return web.json_response({"ready": False, "database": False, "reason": type(exc).__name__},
                                  status=503, headers={"Retry-After": "5"})
    if not current:
        return web.json_response({"ready": False, "database": True, "migrations_current": False}, status=503)
    synchronous = bool(replication["synchronous"])
    # Still ready (200) when the standbys are gone: refusing traffic would stop every booth in the region.
    # But the state is said, so a monitor alerts: an acknowledged write now has one copy.
    degraded = ctx.settings.expect_synchronous_replication and not synchronous
    return web.json_response({"ready": True, "database": True, "migrations_current": True,
                              "synchronous_replication": synchronous, "degraded": degraded})


@routes.get("/metrics", summary="Prometheus metrics", tags=["system"], roles=None, auth="none", db=False,
            response_content={"text/plain": {"schema": {"type": "string"}}})
async def metrics(req: web.Request, ctx: Ctx) -> web.Response:
    m = req.app[keys.METRICS]
    pool = req.app[keys.POOL]
    m.pool_size.set(pool.get_size())
    m.pool_idle.set(pool.get_idle_size())
    # One cheap query, bounded by a short wait: a scrape during an outage leaves the last value.
    try:
        async with acquire(pool, 1.0) as conn:
            m.synchronous_replication.set(1 if (await replication_state(conn))["synchronous"] else 0)
    except (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pass
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8")


@routes.get("/api/openapi.json", summary="This API's OpenAPI 3.1 document", tags=["system"], roles=None,
            auth="none", db=False, response_content={"application/json": {"schema": {"type": "object"}}})
async def openapi_document(req: web.Request, ctx: Ctx) -> web.Response:
    state = req.app[keys.STATE]
    if "openapi" not in state:
        state["openapi"] = json.dumps(build_openapi(req.app[keys.ENDPOINTS]))
    return web.Response(text=state["openapi"], content_type="application/json")
