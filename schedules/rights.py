"""What an inmate may still do: call rights per allowance, from policy, sanctions and the quota ledger.

Kept apart from :mod:`schedules.quota` (the ledger itself), which the booking code imports: reading rights
needs the sanctions, and sanctions cancel bookings, so rights sit above booking, not below it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from schedules.availability import load_facility
from schedules.errors import NotFound
from schedules.periods import period_bounds, period_of
from schedules.policy import resolve_policy, sanctioned_limits
from schedules.quota import quota_state
from schedules.sanctions import restriction_at


async def inmate_rights(
    conn: asyncpg.Connection, inmate_id: int, *, at: datetime | None = None
) -> dict[str, Any]:
    """What an inmate may still do in the current period, per allowance, at their current facility."""
    at = at or datetime.now(UTC)
    inmate = await conn.fetchrow(
        "SELECT id, current_facility_id, risk_level, status FROM inmates WHERE id = $1", inmate_id
    )
    if inmate is None:
        raise NotFound(f"inmate {inmate_id} not found", code="inmate_not_found", field="inmate_id")
    facility = await load_facility(conn, inmate["current_facility_id"])
    restriction = await restriction_at(conn, inmate_id, at)
    out: dict[str, Any] = {
        "inmate_id": inmate_id,
        "facility_id": facility.id,
        "status": inmate["status"],
        "risk_level": inmate["risk_level"],
        "sanction_ids": list(restriction.sanction_ids),
        "allowances": [],
    }
    for allowance in ("family", "legal"):
        policy = await resolve_policy(conn, facility.id, inmate["risk_level"], allowance)  # type: ignore[arg-type]
        s = policy.settings
        suspended, allowed, minutes = sanctioned_limits(
            allowance,
            s.calls_allowed,
            min(s.max_minutes, facility.slot_minutes),
            suspended=restriction.suspended,
            sanction_calls=restriction.calls_allowed,
            sanction_minutes=restriction.max_minutes,
        )
        start = period_of(at, facility.time_zone, s.period)
        state = await quota_state(
            conn,
            inmate_id=inmate_id,
            allowance=allowance,
            period=s.period,
            period_start=start,
            allowed=allowed,
        )
        begins, ends = period_bounds(start, facility.time_zone, s.period)
        out["allowances"].append(
            {
                "allowance": allowance,
                "policy_id": policy.policy_id,
                "policy_version": policy.version,
                "period": s.period,
                "period_start": start,
                "period_begins_at": begins,
                "period_ends_at": ends,
                "calls_allowed": allowed,
                "used": state.used,
                "remaining": 0 if suspended else state.remaining,
                "overrides": state.overrides,
                "max_minutes": minutes,
                "suspended": suspended,
                "booth_kinds": list(s.booth_kinds),
            }
        )
    return out
