"""Sanctions: for a time an inmate's family calls are suspended, or reduced (fewer calls, shorter calls).

Legal-counsel calls are never restricted by a sanction: the right to counsel is not a privilege to withdraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from schedules.booking import cancel_bookings_for_sanction
from schedules.errors import Conflict, NotFound, Unprocessable


@dataclass(frozen=True)
class Restriction:
    """What the sanctions in force at one instant leave of the policy (None: no limit of their own)."""

    suspended: bool = False
    calls_allowed: int | None = None
    max_minutes: int | None = None
    sanction_ids: tuple[int, ...] = ()


async def restriction_at(conn: asyncpg.Connection, inmate_id: int, at: datetime) -> Restriction:
    """Combine every sanction in force at ``at``: the most restrictive wins."""
    rows = await conn.fetch(
        "SELECT sanction_id, kind, calls_allowed, max_minutes FROM sanctions "
        "WHERE inmate_id = $1 AND during @> $2::timestamptz AND lifted_at IS NULL ORDER BY sanction_id",
        inmate_id, at)
    if not rows:
        return Restriction()
    calls = [r["calls_allowed"] for r in rows if r["calls_allowed"] is not None]
    minutes = [r["max_minutes"] for r in rows if r["max_minutes"] is not None]
    return Restriction(suspended=any(r["kind"] == "suspend" for r in rows),
                       calls_allowed=min(calls) if calls else None, max_minutes=min(minutes) if minutes else None,
                       sanction_ids=tuple(r["sanction_id"] for r in rows))


_COLUMNS = ("sanction_id, inmate_id, imposed_at_facility_id, kind, lower(during) AS starts_at, "
            "upper(during) AS ends_at, reason, calls_allowed, max_minutes, created_by, created_at, lifted_at, "
            "lifted_by, lift_reason")


async def impose_sanction(conn: asyncpg.Connection, *, inmate_id: int, facility_id: int,
                          kind: Literal["suspend", "reduce"], starts_at: datetime, ends_at: datetime, reason: str,
                          calls_allowed: int | None, max_minutes: int | None, user_id: int,
                          actor: Actor) -> dict[str, Any]:
    """Record a sanction. A suspension cancels the inmate's family bookings in its window (and refunds them).

    Returns the sanction and the ids of the bookings it cancelled, so officers can tell the families.
    """
    if ends_at <= starts_at:
        raise Unprocessable("a sanction ends after it starts", code="sanction_window_empty", field="ends_at")
    if not reason.strip():
        raise Unprocessable("a sanction needs a reason", code="reason_required", field="reason")
    if kind == "reduce" and calls_allowed is None and max_minutes is None:
        raise Unprocessable("a reduction says how many calls or how many minutes", code="sanction_reduce_empty",
                            field="calls_allowed")
    if kind == "suspend" and (calls_allowed is not None or max_minutes is not None):
        raise Unprocessable("a suspension allows no calls; leave the limits out", code="sanction_suspend_limits",
                            field="calls_allowed")
    active = await conn.fetchval(
        "SELECT current_facility_id FROM inmates WHERE id = $1 AND status = 'active'", inmate_id)
    if active != facility_id:
        raise NotFound(f"inmate {inmate_id} not found at this facility", code="inmate_not_found",
                       field="inmate_id")
    row = await conn.fetchrow(
        f"""INSERT INTO sanctions (inmate_id, imposed_at_facility_id, kind, during, reason, calls_allowed,
               max_minutes, created_by)
           VALUES ($1, $2, $3, tstzrange($4, $5, '[)'), $6, $7, $8, $9) RETURNING {_COLUMNS}""",  # noqa: S608 - constant column list, values are $n parameters
        inmate_id, facility_id, kind, starts_at, ends_at, reason.strip(), calls_allowed, max_minutes, user_id)
    await append(conn, LogRef.facility(facility_id), action="sanction.imposed", subject_type="sanction",
                 subject_id=row["sanction_id"], actor=actor,
                 payload={"sanction_id": row["sanction_id"], "inmate_id": inmate_id, "kind": kind,
                          "starts_at": starts_at, "ends_at": ends_at, "calls_allowed": calls_allowed,
                          "max_minutes": max_minutes})
    cancelled: list[int] = []
    if kind == "suspend":
        cancelled = await cancel_bookings_for_sanction(conn, facility_id=facility_id, inmate_id=inmate_id,
                                                       starts_at=starts_at, ends_at=ends_at,
                                                       sanction_id=row["sanction_id"], actor=actor)
    return {**dict(row), "cancelled_booking_ids": cancelled}


async def lift_sanction(conn: asyncpg.Connection, sanction_id: int, *, facility_ids: list[int] | None,
                        reason: str, user_id: int, actor: Actor) -> dict[str, Any]:
    """End a sanction early, with a reason. ``facility_ids`` scopes it (None: any)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM sanctions WHERE sanction_id = $1 FOR UPDATE", sanction_id)  # noqa: S608 - constant column list, values are $n parameters
    if row is None or (facility_ids is not None and row["imposed_at_facility_id"] not in facility_ids):
        raise NotFound(f"sanction {sanction_id} not found", code="sanction_not_found", field="sanction_id")
    if row["lifted_at"] is not None:
        raise Conflict("this sanction was already lifted", code="sanction_already_lifted")
    if not reason.strip():
        raise Unprocessable("lifting a sanction needs a reason", code="reason_required", field="reason")
    row = await conn.fetchrow(
        f"""UPDATE sanctions SET lifted_at = now(), lifted_by = $2, lift_reason = $3 WHERE sanction_id = $1
            RETURNING {_COLUMNS}""",  # noqa: S608 - constant column list, values are $n parameters
        sanction_id, user_id, reason.strip())
    await append(conn, LogRef.facility(row["imposed_at_facility_id"]), action="sanction.lifted",
                 subject_type="sanction", subject_id=sanction_id, actor=actor,
                 payload={"sanction_id": sanction_id, "inmate_id": row["inmate_id"]})
    return dict(row)


async def list_sanctions(conn: asyncpg.Connection, inmate_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM sanctions WHERE inmate_id = $1 ORDER BY lower(during) DESC, sanction_id DESC",  # noqa: S608 - constant column list, values are $n parameters
        inmate_id)
    return [dict(r) for r in rows]
