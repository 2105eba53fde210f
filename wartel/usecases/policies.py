"""Setting call-rights policies: who may set which level, the same on both faces."""

from __future__ import annotations

from typing import Literal

import asyncpg

from audit import Actor
from schedules import policy as rules
from wartel.errors import NotFound
from wartel.scope import Act, Scope


async def set_policy(
    conn: asyncpg.Connection,
    scope: Scope,
    *,
    level: Literal["national", "region", "facility"],
    region_id: int | None,
    facility_id: int | None,
    risk_level: str | None,
    allowance: Literal["family", "legal"],
    settings: rules.PolicySettings,
    note: str | None,
    actor: Actor,
) -> rules.PolicyVersion:
    """A new version of a policy: the regional office for its region and the region's facilities, only an
    admin for the national default (404 ``policy_scope_forbidden`` otherwise, as for anything out of view)."""
    scope.require(Act.SET_POLICY)
    if level == "national" and not scope.is_national:
        raise NotFound(
            "only the national office sets the national policy", code="policy_scope_forbidden", field="scope"
        )
    if region_id is not None:
        await scope.require_region(conn, region_id)
    if facility_id is not None:
        await scope.require_facility(conn, facility_id)
    return await rules.set_policy(
        conn,
        scope=level,
        region_id=region_id,
        facility_id=facility_id,
        risk_level=risk_level,
        allowance=allowance,
        settings=settings,
        note=note,
        user_id=scope.user_id,
        actor=actor,
    )
