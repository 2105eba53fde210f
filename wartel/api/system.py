"""Health, readiness, metrics and the API's own description."""

from __future__ import annotations

import json

from aiohttp import web

from wartel import keys, migrations
from wartel.db import DatabaseUnavailable, acquire
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
    except (DatabaseUnavailable, OSError, Exception) as exc:  # any failure to reach the database: not ready
        return web.json_response({"ready": False, "database": False, "reason": type(exc).__name__},
                                  status=503, headers={"Retry-After": "5"})
    if not current:
        return web.json_response({"ready": False, "database": True, "migrations_current": False}, status=503)
    return web.json_response({"ready": True, "database": True, "migrations_current": True})


@routes.get("/metrics", summary="Prometheus metrics", tags=["system"], roles=None, auth="none", db=False,
            response_content={"text/plain": {"schema": {"type": "string"}}})
async def metrics(req: web.Request, ctx: Ctx) -> web.Response:
    m = req.app[keys.METRICS]
    pool = req.app[keys.POOL]
    m.pool_size.set(pool.get_size())
    m.pool_idle.set(pool.get_idle_size())
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8")


@routes.get("/api/openapi.json", summary="This API's OpenAPI 3.1 document", tags=["system"], roles=None,
            auth="none", db=False, response_content={"application/json": {"schema": {"type": "object"}}})
async def openapi_document(req: web.Request, ctx: Ctx) -> web.Response:
    state = req.app[keys.STATE]
    if "openapi" not in state:
        state["openapi"] = json.dumps(build_openapi(req.app[keys.ENDPOINTS]))
    return web.Response(text=state["openapi"], content_type="application/json")
