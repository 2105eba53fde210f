"""Reviewing a detection flag; confirming one may put its number on the watchlist and cancel its bookings."""

from __future__ import annotations

from typing import Any

import asyncpg

from audit import Actor
from audit.detection import review
from schedules.booking import cancel_bookings_to_blocked_number
from wartel.errors import NotFound
from wartel.scope import ROLES, Act, Scope


async def get_flag(conn: asyncpg.Connection, scope: Scope, flag_id: int) -> dict[str, Any]:
    """A flag in view (404 ``flag_not_found`` otherwise)."""
    scope.require(Act.REVIEW)
    facility_ids, region_ids = scope.flag_scope()
    return await review.get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids)


async def list_flags(conn: asyncpg.Connection, scope: Scope, *, status: str | None = None,
                     rule_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Flags in view, newest first, by status (e.g. the reviewed ones) and rule."""
    scope.require(Act.REVIEW)
    facility_ids, region_ids = scope.flag_scope()
    return await review.list_flags(conn, facility_ids=facility_ids, region_ids=region_ids, status=status,
                                   rule_id=rule_id, limit=limit)


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


async def assign_flag(
    conn: asyncpg.Connection, scope: Scope, flag_id: int, assignee_id: int | None, *, actor: Actor
) -> dict[str, Any]:
    """Assign a flag in view to a reviewer who can see it (an active reviewer of its region or one of its
    facilities, or an admin); ``None`` unassigns. 404 ``assignee_not_found`` for anyone else."""
    scope.require(Act.REVIEW)
    facility_ids, region_ids = scope.flag_scope()
    flag = await review.get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids)
    if assignee_id is not None:
        assignee = await conn.fetchrow(
            "SELECT role, scope_facility_id, scope_region_id, active FROM users WHERE id = $1", assignee_id
        )
        fits = (
            assignee is not None
            and assignee["active"]
            and assignee["role"] in ROLES[Act.REVIEW]
            and (
                assignee["role"] == "admin"
                or assignee["scope_region_id"] == flag["region_id"]
                or assignee["scope_facility_id"] in flag["facility_ids"]
            )
        )
        if not fits:
            raise NotFound(
                "no reviewer with that id can see this flag", code="assignee_not_found", field="user_id"
            )
    return await review.assign(
        conn,
        flag_id,
        assignee_id,
        user_id=scope.user_id,
        actor=actor,
        facility_ids=facility_ids,
        region_ids=region_ids,
    )
