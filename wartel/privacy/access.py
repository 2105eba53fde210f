"""Every look at personal data leaves an access record in the audit log: who, which person, what, why.

One function, :func:`record_access`, called by both faces after a read that exposes personal or sensitive
data succeeded (a refused or failed read exposed nothing and records nothing). The record is an audit entry
``access.<what>`` whose subject is the person looked at: ``inmate`` (by id) or ``number`` (by its shreddable
reference, :mod:`wartel.privacy.numbers`, never the number). It goes to the log of the inmate's current
facility, or for a number to the viewer's own log (their facility's, their region's, or the national one),
so a security head finds it among the logs they may search. :func:`who_accessed` lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from audit import Actor, LogRef, append
from audit.search import EntryFilter, log_ids_of, search_entries
from wartel.errors import InvalidInput
from wartel.scope import Act, Scope

AccessKind = Literal[
    "contacts",
    "contact",
    "links",
    "flag_evidence",
    "inmate_record",
    "call_history",
    "export",
    "unmask",
    "playback",
]
SubjectType = Literal["inmate", "number", "flag"]
# Looks that need a stated purpose before anything is shown (issue 21): a number in clear, a recording.
REASON_REQUIRED: frozenset[str] = frozenset({"unmask", "playback"})
MAX_REASON = 500
ACCESS_PREFIX = "access."


def require_reason(what: AccessKind, reason: str | None) -> str | None:
    """The reason, trimmed; 422 ``access_reason_required`` when ``what`` needs one and none was given."""
    text = (reason or "").strip()
    if what in REASON_REQUIRED and not text:
        raise InvalidInput(
            "state why you need to see this (the reason is recorded)",
            code="access_reason_required",
            field="reason",
        )
    if len(text) > MAX_REASON:
        raise InvalidInput(
            f"the reason is longer than {MAX_REASON} characters",
            code="access_reason_too_long",
            field="reason",
        )
    return text or None


def _viewer_log(scope: Scope) -> LogRef:
    if scope.own_facility_id is not None:
        return LogRef.facility(scope.own_facility_id)
    if scope.own_region_id is not None:
        return LogRef.region(scope.own_region_id)
    return LogRef.national()


async def record_access(
    conn: asyncpg.Connection,
    scope: Scope,
    actor: Actor,
    *,
    what: AccessKind,
    subject_type: SubjectType,
    subject_id: str | int,
    facility_id: int | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append ``access.<what>`` about one person, in a short transaction of its own (or the caller's).

    ``facility_id`` is the facility whose log holds the record (the inmate's); without it, the viewer's log.
    """
    purpose = require_reason(what, reason)
    payload: dict[str, Any] = {"viewer_role": scope.role, **(detail or {})}
    if purpose:
        payload["purpose"] = purpose
    log = LogRef.facility(facility_id) if facility_id is not None else _viewer_log(scope)
    async with conn.transaction():
        await append(
            conn,
            log,
            action=f"{ACCESS_PREFIX}{what}",
            subject_type=subject_type,
            subject_id=str(subject_id),
            payload=payload,
            actor=actor,
        )


async def record_inmate_access(
    conn: asyncpg.Connection,
    scope: Scope,
    actor: Actor,
    inmate_id: int,
    *,
    what: AccessKind,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """:func:`record_access` for an inmate, in the log of the inmate's current facility."""
    facility_id = await conn.fetchval("SELECT current_facility_id FROM inmates WHERE id = $1", inmate_id)
    await record_access(
        conn,
        scope,
        actor,
        what=what,
        subject_type="inmate",
        subject_id=inmate_id,
        facility_id=facility_id,
        reason=reason,
        detail=detail,
    )


@dataclass(frozen=True)
class AccessRecord:
    recorded_at: datetime
    what: str
    actor_id: str | None
    actor_role: str | None
    actor_name: str | None
    purpose: str | None
    detail: dict[str, Any]


async def who_accessed(
    conn: asyncpg.Connection, scope: Scope, subject_type: SubjectType, subject_id: str, *, limit: int = 200
) -> list[AccessRecord]:
    """The access records about one person in the logs the caller may search, newest first."""
    scope.require(Act.AUDIT)
    logs = scope.visible_logs()
    log_ids = None if logs is None else await log_ids_of(conn, logs)
    rows = await search_entries(
        conn,
        log_ids,
        EntryFilter(subject_type=subject_type, subject_id=subject_id, action=ACCESS_PREFIX),
        limit=limit,
    )
    user_ids = [
        int(r["actor_id"]) for r in rows if r["actor_type"] == "user" and (r["actor_id"] or "").isdigit()
    ]
    names = {
        r["id"]: f"{r['full_name']} ({r['username']})"
        for r in await conn.fetch(
            "SELECT id, full_name, username FROM users WHERE id = ANY($1::bigint[])", user_ids
        )
    }
    out = []
    for r in rows:
        payload = r["payload"] if isinstance(r["payload"], dict) else _json(r["payload"])
        actor_id = r["actor_id"]
        out.append(
            AccessRecord(
                recorded_at=r["recorded_at"],
                what=r["action"].removeprefix(ACCESS_PREFIX),
                actor_id=actor_id,
                actor_role=r["actor_role"],
                actor_name=names.get(int(actor_id)) if actor_id and actor_id.isdigit() else None,
                purpose=payload.get("purpose"),
                detail={k: v for k, v in payload.items() if k not in ("purpose", "viewer_role")},
            )
        )
    return out


def _json(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class HeavyReader:
    actor_id: str
    actor_role: str | None
    actor_name: str | None
    subjects: int
    looks: int
    peer_median: float
    modified_z: float


async def unusual_readers(
    conn: asyncpg.Connection,
    scope: Scope,
    *,
    until: datetime | None = None,
    days: int = 7,
    min_subjects: int = 20,
    z_threshold: float = 3.5,
    min_peers: int = 3,
) -> list[HeavyReader]:
    """Users who read far more people's data than their peers in the logs the caller may search.

    Distinct people looked at per user over ``days`` days before ``until`` (default: the database's now), against every user with a recorded
    look there: flagged at a modified z (Iglewicz-Hoaglin, as the detection rules use) above ``z_threshold``
    and at least ``min_subjects`` people, when at least ``min_peers`` users are there to compare with. The MAD
    has a floor of 1 so that a quiet facility, where everyone reads about the same, does not flag the one
    who reads two more.
    """
    scope.require(Act.AUDIT)
    logs = scope.visible_logs()
    log_ids = None if logs is None else await log_ids_of(conn, logs)
    rows = await conn.fetch(
        "SELECT e.actor_id, max(e.actor_role) AS actor_role, count(DISTINCT (e.subject_type, e.subject_id)) AS subjects,"
        " count(*) AS looks FROM audit.entries e"
        " WHERE ($1::bigint[] IS NULL OR e.log_id = ANY($1)) AND starts_with(e.action, 'access.')"
        " AND e.actor_type = 'user' AND e.recorded_at >= coalesce($2::timestamptz, now()) - make_interval(days => $3)"
        " AND e.recorded_at < coalesce($2::timestamptz, now()) GROUP BY e.actor_id",
        log_ids,
        until,
        days,
    )
    if len(rows) < min_peers:
        return []
    counts = sorted(float(r["subjects"]) for r in rows)
    median = _median(counts)
    mad = max(_median(sorted(abs(c - median) for c in counts)), 1.0)
    heavy = [(r, 0.6745 * (r["subjects"] - median) / mad) for r in rows]
    heavy = [(r, z) for r, z in heavy if z > z_threshold and r["subjects"] >= min_subjects]
    ids = [int(r["actor_id"]) for r, _ in heavy if (r["actor_id"] or "").isdigit()]
    names = {
        u["id"]: f"{u['full_name']} ({u['username']})"
        for u in await conn.fetch(
            "SELECT id, full_name, username FROM users WHERE id = ANY($1::bigint[])", ids
        )
    }
    return [
        HeavyReader(
            actor_id=r["actor_id"],
            actor_role=r["actor_role"],
            actor_name=names.get(int(r["actor_id"])) if r["actor_id"].isdigit() else None,
            subjects=r["subjects"],
            looks=r["looks"],
            peer_median=median,
            modified_z=round(z, 2),
        )
        for r, z in sorted(heavy, key=lambda x: -x[1])
    ]


def _median(values: list[float]) -> float:
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2
