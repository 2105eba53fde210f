"""The quota ledger: one row per (inmate, allowance, period), charged and refunded under its row lock.

``used <= allowed`` is the named CHECK ``quota_ledger_within_allowance``: a charge that would overdraw fails
in the database, whatever the concurrency, and becomes :class:`QuotaExhausted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from schedules.errors import NotFound, QuotaExhausted


@dataclass(frozen=True)
class QuotaState:
    allowed: int
    used: int
    overrides: int = 0

    @property
    def remaining(self) -> int:
        return max(self.allowed - self.used, 0)


async def charge(conn: asyncpg.Connection, *, inmate_id: int, allowance: str, period: str, period_start: date,
                 allowed: int) -> QuotaState:
    """Take one call from the period's quota, or raise :class:`QuotaExhausted`.

    ``allowed`` is what policy and sanctions allow now; it replaces the stored figure, so a reduction made
    mid-period applies to the next charge.
    """
    try:
        row = await conn.fetchrow(
            """INSERT INTO quota_ledger AS q (inmate_id, allowance, period, period_start, allowed, used)
               VALUES ($1, $2, $3, $4, $5, 1)
               ON CONFLICT (inmate_id, allowance, period, period_start)
               DO UPDATE SET used = q.used + 1, allowed = EXCLUDED.allowed, updated_at = now()
               RETURNING allowed, used, overrides""",
            inmate_id, allowance, period, period_start, allowed)
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name != "quota_ledger_within_allowance":
            raise
        raise QuotaExhausted(f"the {allowance} calls of this {period} are used up ({allowed} allowed)",
                             allowed=allowed, period_start=period_start.isoformat()) from exc
    return QuotaState(row["allowed"], row["used"], row["overrides"])


async def refund(conn: asyncpg.Connection, *, inmate_id: int, allowance: str, period: str,
                 period_start: date) -> QuotaState:
    """Give one charged call back to its period."""
    row = await conn.fetchrow(
        """UPDATE quota_ledger SET used = used - 1, updated_at = now()
            WHERE inmate_id = $1 AND allowance = $2 AND period = $3 AND period_start = $4
           RETURNING allowed, used, overrides""", inmate_id, allowance, period, period_start)
    if row is None:
        raise NotFound("no quota was charged for this period", code="quota_not_charged")
    return QuotaState(row["allowed"], row["used"], row["overrides"])


async def record_override(conn: asyncpg.Connection, *, inmate_id: int, allowance: str, period: str,
                          period_start: date, allowed: int) -> QuotaState:
    """Count an officer-override booking in the period without charging it."""
    row = await conn.fetchrow(
        """INSERT INTO quota_ledger AS q (inmate_id, allowance, period, period_start, allowed, used, overrides)
           VALUES ($1, $2, $3, $4, $5, 0, 1)
           ON CONFLICT (inmate_id, allowance, period, period_start)
           DO UPDATE SET overrides = q.overrides + 1, updated_at = now()
           RETURNING allowed, used, overrides""",
        inmate_id, allowance, period, period_start, allowed)
    return QuotaState(row["allowed"], row["used"], row["overrides"])


async def quota_state(conn: asyncpg.Connection, *, inmate_id: int, allowance: str, period: str,
                      period_start: date, allowed: int) -> QuotaState:
    row = await conn.fetchrow(
        "SELECT used, overrides FROM quota_ledger WHERE inmate_id = $1 AND allowance = $2 AND period = $3 "
        "AND period_start = $4", inmate_id, allowance, period, period_start)
    return QuotaState(allowed, row["used"] if row else 0, row["overrides"] if row else 0)
