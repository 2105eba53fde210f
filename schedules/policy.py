"""Call rights policies: versioned settings per scope (national, region, facility) and risk level.

The most specific policy applies: a facility's own beats its region's, which beats the national default;
at one level a policy for the inmate's risk level beats the one for every level. Every change adds an
immutable version; bookings keep the (policy_id, version) they were made under.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from schedules.errors import NotFound, Unprocessable

Scope = Literal["national", "region", "facility"]
Allowance = Literal["family", "legal"]

POLICY_SETTINGS = ("period", "calls_allowed", "max_minutes", "min_lead_minutes", "max_days_ahead",
                   "cancel_cutoff_minutes", "no_show_consumes", "booth_kinds")


@dataclass(frozen=True)
class PolicySettings:
    period: Literal["week", "month"]
    calls_allowed: int
    max_minutes: int
    min_lead_minutes: int
    max_days_ahead: int
    cancel_cutoff_minutes: int
    no_show_consumes: bool
    booth_kinds: tuple[str, ...]


@dataclass(frozen=True)
class PolicyVersion:
    policy_id: int
    version: int
    scope: Scope
    region_id: int | None
    facility_id: int | None
    risk_level: str | None
    allowance: Allowance
    settings: PolicySettings
    note: str | None = None
    created_by: int | None = None
    created_at: Any = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["settings"]["booth_kinds"] = list(self.settings.booth_kinds)
        return out


_SELECT = """
SELECT p.policy_id, v.version, p.scope, p.scope_region_id, p.scope_facility_id, p.risk_level, p.allowance,
       v.period, v.calls_allowed, v.max_minutes, v.min_lead_minutes, v.max_days_ahead, v.cancel_cutoff_minutes,
       v.no_show_consumes, v.booth_kinds, v.note, v.created_by, v.created_at
  FROM call_policies p JOIN call_policy_versions v ON v.policy_id = p.policy_id
"""


def policy_from_row(row: asyncpg.Record, *, risk_level_column: str = "risk_level") -> PolicyVersion:
    """A policy version from a row with the policy columns (``risk_level_column`` when a query renames it)."""
    return PolicyVersion(
        policy_id=row["policy_id"], version=row["version"], scope=row["scope"], region_id=row["scope_region_id"],
        facility_id=row["scope_facility_id"], risk_level=row[risk_level_column], allowance=row["allowance"],
        settings=PolicySettings(
            period=row["period"], calls_allowed=row["calls_allowed"], max_minutes=row["max_minutes"],
            min_lead_minutes=row["min_lead_minutes"], max_days_ahead=row["max_days_ahead"],
            cancel_cutoff_minutes=row["cancel_cutoff_minutes"], no_show_consumes=row["no_show_consumes"],
            booth_kinds=tuple(row["booth_kinds"])),
        note=row["note"], created_by=row["created_by"], created_at=row["created_at"])


async def resolve_policy(conn: asyncpg.Connection, facility_id: int, risk_level: str,
                         allowance: Allowance) -> PolicyVersion:
    """The current version of the policy that applies at ``facility_id`` to an inmate of ``risk_level``."""
    # applicable_policy (sql/0024) is the one home of "most specific wins"; the booking query uses it too.
    row = await conn.fetchrow(
        "SELECT p.* FROM facilities f CROSS JOIN LATERAL applicable_policy(f.id, f.region_id, $2, $3) p"
        " WHERE f.id = $1", facility_id, risk_level, allowance)
    if row is None:
        raise NotFound(f"no call policy applies at facility {facility_id}", code="policy_not_found")
    return policy_from_row(row)


async def policy_version(conn: asyncpg.Connection, policy_id: int, version: int) -> PolicyVersion:
    row = await conn.fetchrow(_SELECT + " WHERE p.policy_id = $1 AND v.version = $2", policy_id, version)
    if row is None:
        raise NotFound(f"policy {policy_id} version {version} not found", code="policy_not_found")
    return policy_from_row(row)


async def policy_history(conn: asyncpg.Connection, policy_id: int) -> list[PolicyVersion]:
    rows = await conn.fetch(_SELECT + " WHERE p.policy_id = $1 ORDER BY v.version", policy_id)
    if not rows:
        raise NotFound(f"policy {policy_id} not found", code="policy_not_found", field="policy_id")
    return [policy_from_row(r) for r in rows]


async def list_policies(conn: asyncpg.Connection, *, region_ids: list[int] | None,
                        facility_ids: list[int] | None) -> list[PolicyVersion]:
    """Current versions visible to a caller: national ones, those of ``region_ids`` and ``facility_ids``.

    ``None`` for both means everything (admin).
    """
    if region_ids is None and facility_ids is None:
        rows = await conn.fetch(_SELECT + " WHERE v.version = p.current_version ORDER BY p.policy_id")
    else:
        rows = await conn.fetch(
            _SELECT + """ WHERE v.version = p.current_version
              AND (p.scope = 'national' OR p.scope_region_id = ANY($1::bigint[])
                   OR p.scope_facility_id = ANY($2::bigint[]))
            ORDER BY p.policy_id""", region_ids or [], facility_ids or [])
    return [policy_from_row(r) for r in rows]


async def set_policy(conn: asyncpg.Connection, *, scope: Scope, region_id: int | None, facility_id: int | None,
                     risk_level: str | None, allowance: Allowance, settings: PolicySettings, note: str | None,
                     user_id: int, actor: Actor) -> PolicyVersion:
    """Create the policy for this key, or add a new version of it. Bookings already made keep theirs."""
    if scope == "national" and (region_id is not None or facility_id is not None):
        raise Unprocessable("a national policy names no region or facility", code="policy_scope_mismatch",
                            field="scope")
    if scope == "region" and (region_id is None or facility_id is not None):
        raise Unprocessable("a region policy names its region only", code="policy_scope_mismatch",
                            field="region_id")
    if scope == "facility" and (facility_id is None or region_id is not None):
        raise Unprocessable("a facility policy names its facility only", code="policy_scope_mismatch",
                            field="facility_id")
    if settings.min_lead_minutes > settings.max_days_ahead * 1440 and settings.max_days_ahead > 0:
        raise Unprocessable("the minimum lead time is longer than the booking window",
                            code="policy_window_empty", field="min_lead_minutes")
    # A new version serialises with the bookings it would judge (lock order, sql/0025): the facilities it
    # covers are locked first, so a booking reads either the old version and commits before this one, or
    # this one. Bookings already made keep their version (docs/booking.md).
    await conn.execute(
        """SELECT id FROM facilities
            WHERE $1 = 'national' OR ($1 = 'region' AND region_id = $2) OR ($1 = 'facility' AND id = $3)
            ORDER BY id FOR UPDATE""", scope, region_id, facility_id)
    policy_id, version = await conn.fetchrow(
        """INSERT INTO call_policies AS p (scope, scope_region_id, scope_facility_id, risk_level, allowance)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT ON CONSTRAINT call_policy_key_unique DO UPDATE SET current_version = p.current_version + 1
           RETURNING policy_id, current_version""",
        scope, region_id, facility_id, risk_level, allowance)
    await conn.execute(
        """INSERT INTO call_policy_versions (policy_id, version, period, calls_allowed, max_minutes,
               min_lead_minutes, max_days_ahead, cancel_cutoff_minutes, no_show_consumes, booth_kinds, note,
               created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        policy_id, version, settings.period, settings.calls_allowed, settings.max_minutes,
        settings.min_lead_minutes, settings.max_days_ahead, settings.cancel_cutoff_minutes,
        settings.no_show_consumes, sorted(set(settings.booth_kinds)), note, user_id)
    await append(conn, LogRef.of_scope(scope, facility_id if scope == "facility" else region_id),
                 action="policy.version_added",
                 subject_type="call_policy", subject_id=policy_id, actor=actor,
                 payload={"policy_id": policy_id, "version": version, "scope": scope, "region_id": region_id,
                          "facility_id": facility_id, "risk_level": risk_level, "allowance": allowance,
                          "settings": {k: getattr(settings, k) for k in POLICY_SETTINGS}})
    return await policy_version(conn, policy_id, version)


def sanctioned_limits(
    allowance: str,
    calls_allowed: int,
    max_minutes: int,
    *,
    suspended: bool | None,
    sanction_calls: int | None,
    sanction_minutes: int | None,
) -> tuple[bool, int, int]:
    """What the sanctions in force leave of a policy's allowance: ``(suspended, calls_allowed, max_minutes)``.

    The one home of how sanctions bind a policy, read by the booking and by the call-rights view alike: they
    bind family calls only (a legal-counsel call is a right no sanction takes away), and the stricter of the
    policy and the sanctions wins. How several sanctions combine among themselves is sql/0024's
    ``sanction_restriction``.
    """
    if allowance != "family":
        return False, calls_allowed, max_minutes
    calls = calls_allowed if sanction_calls is None else min(calls_allowed, sanction_calls)
    minutes = max_minutes if sanction_minutes is None else min(max_minutes, sanction_minutes)
    return bool(suspended), calls, minutes
