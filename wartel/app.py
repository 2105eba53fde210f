"""The application factory: ``create_app(settings)`` owns the pool, the scheduler and the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from wartel import keys, migrations
from wartel.api import all_tables
from wartel.config import Settings
from wartel.db import DatabaseTarget, connect, create_pool, ensure_target_database, resolve_target
from wartel.http import limits, middlewares
from wartel.http.endpoints import mount
from wartel.jobs import start_scheduler
from wartel.metrics import Metrics
from wartel.pages import setup_pages
from wartel.secrets import load_or_create_secret

log = structlog.get_logger("wartel.app")


def create_app(settings: Settings | None = None, *, target: DatabaseTarget | None = None,
               migrate: bool = True) -> web.Application:
    """Build the service. ``target`` overrides where to connect (tests); ``migrate`` applies migrations first."""
    settings = settings or Settings()
    app = web.Application(
        client_max_size=settings.max_upload_bytes,
        middlewares=[middlewares.request_context, middlewares.problems, limits.bounded_body,
                     middlewares.authenticate],
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[keys.STATE] = {}
    app[keys.SECRET_KEY] = load_or_create_secret(settings.secret_key_path)
    app[keys.ENDPOINTS] = mount(app, all_tables())
    _mount_pages(app)

    async def database(app: web.Application) -> AsyncIterator[None]:
        where = target or resolve_target(settings)
        await ensure_target_database(where)
        if migrate:
            conn = await connect(where.owner_dsn)
            try:
                applied = await migrations.migrate(conn)
            finally:
                await conn.close()
            if applied:
                log.info("migrations applied", count=len(applied))
        app[keys.POOL] = await create_pool(where.app_dsn, settings,
                                           statement_timeout_ms=settings.request_statement_timeout_ms)
        # Connections for heavy requests are opened when one comes (min 0) and capped at heavy_pool_max.
        app[keys.HEAVY_POOL] = await create_pool(where.app_dsn, settings, min_size=0,
                                                 max_size=settings.heavy_pool_max,
                                                 statement_timeout_ms=settings.heavy_statement_timeout_ms)
        if settings.scheduler:
            app[keys.JOBS_POOL] = await create_pool(where.app_dsn, settings, min_size=0)
        yield
        for key in (keys.POOL, keys.HEAVY_POOL, keys.JOBS_POOL):
            if key in app:
                await app[key].close()

    async def scheduler(app: web.Application) -> AsyncIterator[None]:
        if not settings.scheduler:
            yield
            return

        sched = start_scheduler(app[keys.JOBS_POOL], settings, app[keys.METRICS])
        app[keys.SCHEDULER] = sched
        yield
        sched.shutdown(wait=False)

    app.cleanup_ctx.extend([database, scheduler])
    return app


def _mount_pages(app: web.Application) -> None:
    setup_pages(app)
