"""Heavy requests (reports, searches, link views, imports) run on their own small pool, one at a time per caller.

Why: a compliance report or a wide audit search may legitimately run for seconds. On the interactive pool a
handful of them (one user's browser tabs, a script) would take every connection and starve bookings and
``/readyz``. Here they share ``heavy_pool_max`` connections whose statements end after
``heavy_statement_timeout_ms``; a caller who already has one running gets 429, and when every heavy connection
is busy for ``heavy_acquire_timeout_s`` the answer is 503 with ``Retry-After``. Interactive requests never wait
for them. Limits are per serving process (each has its own pools).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from wartel import keys
from wartel.db import DatabaseUnavailable, acquire
from wartel.http.problems import Problem

RETRY_AFTER_S = "5"


def _caller(req: web.Request) -> str:
    principal = req.get(keys.PRINCIPAL)
    if principal is not None:
        return f"user:{principal.user_id}"
    device = req.get(keys.DEVICE)
    return f"device:{device[0]}" if device else f"peer:{req.remote}"


@contextlib.asynccontextmanager
async def heavy_connection(req: web.Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the heavy pool for this request, or a 429/503 problem at once (never a long queue)."""
    app = req.app
    running: set[str] = app[keys.STATE].setdefault("heavy_running", set())
    caller = _caller(req)
    if caller in running:
        raise Problem(
            429,
            "heavy_request_running",
            "you already have a report or search running; wait for it",
            headers={"Retry-After": RETRY_AFTER_S},
        )
    running.add(caller)
    entered = False
    try:
        settings = app[keys.SETTINGS]
        async with acquire(app[keys.HEAVY_POOL], settings.heavy_acquire_timeout_s) as conn:
            entered = True
            yield conn
    except DatabaseUnavailable as exc:
        if not entered and isinstance(exc.__cause__, TimeoutError):
            raise Problem(
                503,
                "heavy_requests_busy",
                "reports and searches are all busy; retry shortly",
                headers={"Retry-After": RETRY_AFTER_S},
            ) from exc
        raise
    finally:
        running.discard(caller)
