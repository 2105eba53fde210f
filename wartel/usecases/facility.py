"""Facility-side changes that cancel bookings: the change, and the bookings it cancelled (and credited).

The registry change notifies the booking area inside the same transaction (``wartel.registry.hooks``);
these use cases then list what that transaction cancelled, so the face can tell officers which inmates
to inform. Both steps share the caller's transaction: the change, its cancellations and their credits
commit or roll back together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from audit import Actor
from schedules.booking import cancelled_by_facility_in_this_transaction
from wartel.registry import facilities, hours
from wartel.scope import Act, Scope


async def set_booth_service(
    conn: asyncpg.Connection,
    scope: Scope,
    facility_id: int,
    booth_id: int,
    *,
    in_service: bool,
    note: str | None,
    actor: Actor,
) -> tuple[asyncpg.Record, list[dict[str, Any]]]:
    """Put a booth of a facility in scope in or out of service; out of service cancels its bookings."""
    scope.require(Act.OPERATE)
    await scope.require_facility(conn, facility_id)
    row = await facilities.set_booth_service(
        conn, facility_id, booth_id, in_service=in_service, note=note, actor=actor
    )
    return row, await cancelled_by_facility_in_this_transaction(conn, facility_id)


async def add_closure(
    conn: asyncpg.Connection,
    scope: Scope,
    facility_id: int,
    *,
    starts_local: datetime,
    ends_local: datetime,
    kind: str,
    reason: str,
    actor: Actor,
) -> tuple[asyncpg.Record, list[dict[str, Any]]]:
    """Close the kiosk of a facility in scope for a while; the bookings inside are cancelled."""
    scope.require(Act.OPERATE)
    await scope.require_facility(conn, facility_id)
    row = await hours.add_closure(
        conn,
        facility_id,
        starts_local=starts_local,
        ends_local=ends_local,
        kind=kind,
        reason=reason,
        created_by=scope.user_id,
        actor=actor,
    )
    return row, await cancelled_by_facility_in_this_transaction(conn, facility_id)
