"""Sanctions: a security (Kamtib) decision on an inmate in scope, the same on both faces."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg

from audit import Actor
from schedules import sanctions as rules
from wartel.scope import Act, Scope


async def impose_sanction(
    conn: asyncpg.Connection,
    scope: Scope,
    *,
    inmate_id: int,
    kind: Literal["suspend", "reduce"],
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    calls_allowed: int | None,
    max_minutes: int | None,
    actor: Actor,
) -> dict[str, Any]:
    """Suspend or reduce the family calls of an inmate in scope (a suspension cancels and credits the family
    bookings in its window); 403 for a role that may not, 404 ``inmate_not_found`` outside the scope."""
    scope.require(Act.SANCTION)
    facility_id = await scope.require_inmate(conn, inmate_id)
    return await rules.impose_sanction(
        conn,
        inmate_id=inmate_id,
        facility_id=facility_id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        calls_allowed=calls_allowed,
        max_minutes=max_minutes,
        user_id=scope.user_id,
        actor=actor,
    )


async def lift_sanction(
    conn: asyncpg.Connection, scope: Scope, sanction_id: int, *, reason: str, actor: Actor
) -> dict[str, Any]:
    """End a sanction imposed in scope early, with a reason."""
    scope.require(Act.SANCTION)
    return await rules.lift_sanction(
        conn, sanction_id, facility_ids=scope.facility_ids, reason=reason, user_id=scope.user_id, actor=actor
    )


async def list_sanctions(conn: asyncpg.Connection, scope: Scope, inmate_id: int) -> list[dict[str, Any]]:
    """An inmate's sanctions, newest first (404 ``inmate_not_found`` outside the scope)."""
    await scope.require_inmate(conn, inmate_id)
    return await rules.list_sanctions(conn, inmate_id)
