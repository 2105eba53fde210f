"""Reviewing a detection flag; confirming one may put its number on the watchlist and cancel its bookings."""

from __future__ import annotations

from typing import Any

import asyncpg

from audit import Actor
from audit.detection import review
from schedules.booking import cancel_bookings_to_blocked_number
from wartel.errors import NotFound
from wartel.scope import Act, Scope


async def get_flag(conn: asyncpg.Connection, scope: Scope, flag_id: int) -> dict[str, Any]:
    """A flag in view (404 ``flag_not_found`` otherwise)."""
    scope.require(Act.REVIEW)
    facility_ids, region_ids = scope.flag_scope()
    return await review.get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids)


async def review_flag(
    conn: asyncpg.Connection,
    scope: Scope,
    flag_id: int,
    action: review.Action,
    *,
    reason: str | None,
    actor: Actor,
    watch: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Acknowledge, confirm, dismiss or reopen a flag in view. Confirming with ``watch``
    (``{mode, scope, scope_id}``) also puts the flag's number on the watchlist in the same transaction, and a
    block cancels (and credits) the upcoming bookings to it. Returns the flag and the cancelled bookings."""
    scope.require(Act.REVIEW)
    if watch is not None:
        scope.require(Act.BLOCK)
        if watch.get("scope") == "national" and not scope.is_national:
            raise NotFound(
                "national watchlist is for admins", code="scope_not_found", field="watchlist.scope"
            )
    facility_ids, region_ids = scope.flag_scope()
    row = await review.transition(
        conn,
        flag_id,
        action,
        user_id=scope.user_id,
        actor=actor,
        facility_ids=facility_ids,
        region_ids=region_ids,
        reason=reason,
        watch=watch,
    )
    cancelled: list[dict[str, Any]] = []
    if watch is not None and row.get("watchlist_entry_id") is not None:
        cancelled = await cancel_bookings_to_blocked_number(
            conn, row["watchlist_entry_id"], actor=actor, user_id=scope.user_id
        )
    return row, cancelled
