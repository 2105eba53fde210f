"""Searching a set of logs: by actor, subject, action and time, newest first, keyset-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from audit.log import LogRef

_SEARCH = """
SELECT e.log_id, l.scope, l.scope_id, e.seq, e.recorded_at, e.actor_type, e.actor_id, e.actor_role, e.action,
       e.subject_type, e.subject_id, e.payload, e.request_id, e.leaf_hash
FROM audit.entries e JOIN audit.logs l USING (log_id)
WHERE ($1::bigint[] IS NULL OR e.log_id = ANY($1))
  AND ($2::text IS NULL OR e.actor_id = $2)
  AND ($3::text IS NULL OR e.subject_type = $3)
  AND ($4::text IS NULL OR e.subject_id = $4)
  AND ($5::text IS NULL OR e.action = $5 OR (right($5, 1) = '.' AND starts_with(e.action, $5)))
  AND ($6::timestamptz IS NULL OR e.recorded_at >= $6)
  AND ($7::timestamptz IS NULL OR e.recorded_at < $7)
  AND ($8::timestamptz IS NULL OR (e.recorded_at, e.log_id, e.seq) < ($8, $9, $10))
ORDER BY e.recorded_at DESC, e.log_id DESC, e.seq DESC
LIMIT $11
"""


@dataclass(frozen=True)
class EntryFilter:
    actor_id: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("booking.")
    since: datetime | None = None
    until: datetime | None = None


async def log_ids_of(conn: asyncpg.Connection, logs: list[LogRef]) -> list[int]:
    rows = await conn.fetch(
        "SELECT log_id FROM audit.logs l JOIN unnest($1::text[], $2::bigint[]) AS w(scope, scope_id) "
        "USING (scope, scope_id)", [r.scope for r in logs], [r.scope_id for r in logs])
    return [r["log_id"] for r in rows]


async def log_id_of(conn: asyncpg.Connection, log: LogRef) -> int | None:
    return await conn.fetchval("SELECT log_id FROM audit.logs WHERE scope = $1 AND scope_id = $2",
                               log.scope, log.scope_id)


async def search_entries(conn: asyncpg.Connection, log_ids: list[int] | None, flt: EntryFilter, *,
                         after: tuple[datetime, int, int] | None = None, limit: int = 50) -> list[asyncpg.Record]:
    """Entries of ``log_ids`` (every log: ``None``) matching ``flt``, newest first, after the cursor."""
    return await conn.fetch(
        _SEARCH, log_ids, flt.actor_id, flt.subject_type, flt.subject_id, flt.action, flt.since, flt.until,
        after[0] if after else None, after[1] if after else None, after[2] if after else None, limit)


async def get_entry(conn: asyncpg.Connection, log_id: int, seq: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT e.*, l.scope, l.scope_id FROM audit.entries e JOIN audit.logs l USING (log_id) "
        "WHERE e.log_id = $1 AND e.seq = $2", log_id, seq)
