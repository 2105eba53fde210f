"""Expiry of idempotency keys: a retry is answered from its key for a day, then the key goes.

Every create stores its key and response (wartel/http/endpoints.py). Kept forever, the table would grow by
every booking ever made and hold response bodies long after any client could still be retrying.
"""

from __future__ import annotations

import asyncpg
import structlog

from audit import Actor, LogRef, append
from wartel.config import Settings

log = structlog.get_logger("wartel.idempotency")

JOB_NAME = "idempotency_expiry"
EVERY_S = 600
# Small batches in short transactions: never one long delete holding locks against live creates.
_BATCH = 5000


async def expire_keys(conn: asyncpg.Connection, ttl_h: int) -> int:
    """Delete keys older than ``ttl_h`` hours, batch by batch; one audit record for the run. Returns how many."""
    total = 0
    while True:
        async with conn.transaction():
            n = await conn.fetchval(
                """WITH gone AS (
                       DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)
                            LIMIT $2))
                       RETURNING 1)
                   SELECT count(*) FROM gone""", ttl_h, _BATCH)
            if n:
                await append(conn, LogRef.national(), action="idempotency.keys_expired", subject_type="idempotency_keys",
                             subject_id="expired", payload={"deleted": n, "ttl_hours": ttl_h},
                             actor=Actor.system(JOB_NAME))
        total += n
        if n < _BATCH:
            return total


async def expiry_job(pool: asyncpg.Pool, settings: Settings) -> None:
    async with pool.acquire() as conn:
        deleted = await expire_keys(conn, settings.idempotency_key_ttl_h)
    if deleted:
        log.info("idempotency keys expired", deleted=deleted)
