"""Retention: erase what has been kept long enough, in small audited batches (issue 21, item 1).

A number is erased when every contact holding it has expired under its region's settings
(``retention_settings``, defaults in the columns): the family of an inmate released more than
``released_family_years`` ago, or a contact never verified (pending) or rejected whose last change is older than
``unverified_contact_days``. A number still held by anyone else (an active inmate's contact, a revoked one kept
for its history) stays; so does a number on the watchlist (law-enforcement data). Each number is erased by
:func:`wartel.privacy.erasure.erase_number` in its own short transaction, so one run holds no lock for long
and a crash loses at most the number in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from audit import Actor, LogRef, append
from wartel.errors import DomainError
from wartel.privacy.erasure import erase_number
from wartel.secrets import load_or_create_secret

JOB_NAME = "privacy_retention"
EVERY_S = 3600
BATCH = 50
DEFAULTS = {"released_family_years": 2, "unverified_contact_days": 90}

# The expired numbers, oldest cause first. Released: by the facility's own calendar day.
_EXPIRED = """
WITH s AS (
    SELECT r.id AS region_id,
           coalesce(rs.released_family_years, $3) AS years,
           coalesce(rs.unverified_contact_days, $4) AS days
      FROM regions r LEFT JOIN retention_settings rs ON rs.region_id = r.id
), c AS (
    SELECT k.phone_e164,
           CASE WHEN i.status = 'released'
                     AND (i.released_on + make_interval(years => s.years))::date
                         < ($1::timestamptz AT TIME ZONE f.time_zone)::date THEN 'released_family'
                WHEN k.status IN ('pending', 'rejected')
                     AND k.updated_at < $1::timestamptz - make_interval(days => s.days) THEN 'unverified'
           END AS cause
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
      JOIN facilities f ON f.id = i.current_facility_id JOIN s ON s.region_id = f.region_id
     WHERE k.erased_at IS NULL
)
SELECT phone_e164, min(cause) AS cause FROM c
 GROUP BY phone_e164
HAVING bool_and(cause IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM watchlist w WHERE w.removed_at IS NULL
                      AND watchlist_pattern_matches(w.pattern_kind, w.pattern, phone_e164))
 ORDER BY phone_e164
 LIMIT $2
"""


@dataclass(frozen=True)
class RetentionRun:
    erased: int
    skipped: int
    by_cause: dict[str, int]


async def apply_retention(
    conn: asyncpg.Connection, secret: bytes, *, now: datetime | None = None, batch: int = BATCH
) -> RetentionRun:
    """Erase up to ``batch`` expired numbers as of ``now`` (default: the clock), one transaction each."""
    moment = now or datetime.now(UTC)
    rows = await conn.fetch(
        _EXPIRED, moment, batch, DEFAULTS["released_family_years"], DEFAULTS["unverified_contact_days"]
    )
    erased, skipped, by_cause = 0, 0, {}
    for r in rows:
        try:
            await erase_number(
                conn,
                None,
                secret,
                r["phone_e164"],
                reason=f"retention: {r['cause']}",
                actor=Actor.system(JOB_NAME),
                cause=r["cause"],
            )
        except DomainError:
            # Changed since the query (a booking made, a block added): kept, looked at again next run.
            skipped += 1
            continue
        erased += 1
        by_cause[r["cause"]] = by_cause.get(r["cause"], 0) + 1
    return RetentionRun(erased=erased, skipped=skipped, by_cause=by_cause)


async def retention_job(pool: asyncpg.Pool, settings: Any) -> None:
    """The scheduled job: one batch per run (the next run takes the next batch)."""
    secret = load_or_create_secret(settings.secret_key_path)
    async with pool.acquire() as conn:
        await apply_retention(conn, secret)


async def settings_of(conn: asyncpg.Connection, region_id: int) -> dict[str, Any]:
    """A region's retention settings, the defaults where it has none."""
    row = await conn.fetchrow("SELECT * FROM retention_settings WHERE region_id = $1", region_id)
    if row is None:
        return {"region_id": region_id, **DEFAULTS, "updated_by": None, "updated_at": None}
    return dict(row)


async def set_retention(
    conn: asyncpg.Connection,
    region_id: int,
    *,
    released_family_years: int,
    unverified_contact_days: int,
    user_id: int,
    actor: Actor,
) -> dict[str, Any]:
    """Set a region's retention (the range checks are the table's named constraints); audited in the region log."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO retention_settings AS s (region_id, released_family_years, unverified_contact_days,"
            " updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (region_id) DO UPDATE SET"
            " released_family_years = EXCLUDED.released_family_years,"
            " unverified_contact_days = EXCLUDED.unverified_contact_days, updated_by = EXCLUDED.updated_by,"
            " updated_at = now() RETURNING s.*",
            region_id,
            released_family_years,
            unverified_contact_days,
            user_id,
        )
        await append(
            conn,
            LogRef.region(region_id),
            action="privacy.retention_set",
            subject_type="region",
            subject_id=region_id,
            payload={
                "released_family_years": released_family_years,
                "unverified_contact_days": unverified_contact_days,
            },
            actor=actor,
        )
    return dict(row)


async def erasure_report(
    conn: asyncpg.Connection, region_id: int, *, limit: int = 500
) -> list[asyncpg.Record]:
    """What was erased in a region, newest first: when, why, how much, by whom (never what)."""
    return await conn.fetch(
        "SELECT * FROM privacy_erasures WHERE $1 = ANY(region_ids) ORDER BY erased_at DESC, id DESC LIMIT $2",
        region_id,
        limit,
    )
