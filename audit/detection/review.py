"""Reviewing flags: open → acknowledged → confirmed | dismissed, assignments, notes, the ranked queue,
per-rule precision, and rule parameters per region. Every action is an audit record.

Scope is passed in as ``facility_ids`` / ``region_ids`` (``None`` = everything, for admins); the caller
(the HTTP layer) derives them from the principal. A flag is visible when its region is visible, or, for
facility-scoped staff, when one of its facilities is theirs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import asyncpg

from audit.detection import watchlist
from audit.detection.catalogue import BY_ID, get_rule
from audit.detection.errors import FlagNotFound, InvalidParameter, InvalidTransition, RuleNotFound
from audit.log import Actor, LogRef, append

Action = Literal["acknowledge", "confirm", "dismiss", "reopen"]

# Allowed transitions: action -> (from statuses, to status).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({"open"}), "acknowledged"),
    "confirm": (frozenset({"open", "acknowledged"}), "confirmed"),
    "dismiss": (frozenset({"open", "acknowledged"}), "dismissed"),
    "reopen": (frozenset({"confirmed", "dismissed"}), "open"),
}
_EVENT_KIND = {"acknowledge": "acknowledged", "confirm": "confirmed", "dismiss": "dismissed", "reopen": "reopened"}

_SCOPE = """(($1::bigint[] IS NULL AND $2::bigint[] IS NULL)
             OR fl.region_id = ANY($2::bigint[]) OR fl.facility_ids && $1::bigint[])"""


def _scoped(sql: str) -> str:
    """Splice the visibility condition ($1 facility ids, $2 region ids) into a query."""
    return sql.replace("/*scope*/", _SCOPE)


_GET = "SELECT fl.* FROM detection_flags fl WHERE fl.id = $3 AND /*scope*/"
_GET_LOCKED = _GET + " FOR UPDATE"


def _log(region_id: int | None) -> LogRef:
    return LogRef.region(region_id) if region_id is not None else LogRef.national()


async def get_flag(conn: asyncpg.Connection, flag_id: int, *, facility_ids: list[int] | None,
                   region_ids: list[int] | None, lock: bool = False) -> dict[str, Any]:
    sql = _scoped(_GET_LOCKED if lock else _GET)
    row = await conn.fetchrow(sql, facility_ids, region_ids, flag_id)
    if row is None:
        raise FlagNotFound(f"flag {flag_id} not found", field="flag_id")
    return dict(row)


async def flag_history(conn: asyncpg.Connection, flag_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(
        "SELECT event_id, kind, from_status, to_status, note, assigned_to, actor_id, at FROM detection_flag_events"
        " WHERE flag_id = $1 ORDER BY event_id", flag_id)]


async def transition(conn: asyncpg.Connection, flag_id: int, action: Action, *, user_id: int, actor: Actor,
                     facility_ids: list[int] | None, region_ids: list[int] | None, reason: str | None = None,
                     watch: dict[str, Any] | None = None) -> dict[str, Any]:
    """Move a flag along its review path, in the caller's transaction; the row lock serialises reviewers.

    ``watch`` (on confirm only): ``{"mode": "blocked"|"watched", "scope": ..., "scope_id": ...}`` puts the
    flag's number or prefix on the watchlist in the same step.
    """
    if action not in TRANSITIONS:
        raise InvalidParameter(f"unknown review action {action}", field="action")
    allowed, to_status = TRANSITIONS[action]
    if action in ("dismiss", "reopen") and not (reason and reason.strip()):
        raise InvalidParameter(f"a reason is required to {action} a flag", code="reason_required", field="reason")
    flag = await get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids, lock=True)
    if flag["status"] not in allowed:
        raise InvalidTransition(f"a {flag['status']} flag cannot be {to_status} ({action})", field="status",
                                current_status=flag["status"])
    entry_id = None
    if watch is not None:
        entry_id = await _watch_from_flag(conn, flag, watch, action, user_id=user_id, actor=actor)
    closing = to_status in ("confirmed", "dismissed")
    await conn.execute(
        """UPDATE detection_flags SET status = $2,
                  reviewed_by = CASE WHEN $3 THEN $4::bigint ELSE NULL END,
                  reviewed_at = CASE WHEN $3 THEN now() ELSE NULL END,
                  review_reason = CASE WHEN $3 OR $5::text IS NOT NULL THEN $5::text ELSE review_reason END
            WHERE id = $1""",
        flag_id, to_status, closing, user_id, reason)
    await conn.execute(
        "INSERT INTO detection_flag_events (flag_id, kind, from_status, to_status, note, actor_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)", flag_id, _EVENT_KIND[action], flag["status"], to_status, reason, user_id)
    await append(conn, _log(flag["region_id"]), action=f"detection.flag_{_EVENT_KIND[action]}",
                 subject_type="detection_flag", subject_id=flag_id,
                 payload={"rule_id": flag["rule_id"], "from": flag["status"], "to": to_status,
                          "has_reason": bool(reason), "watchlist_entry_id": entry_id}, actor=actor)
    out = await get_flag(conn, flag_id, facility_ids=None, region_ids=None)
    out["watchlist_entry_id"] = entry_id
    return out


async def _watch_from_flag(conn: asyncpg.Connection, flag: dict[str, Any], watch: dict[str, Any], action: str, *,
                           user_id: int, actor: Actor) -> int:
    rule = get_rule(flag["rule_id"])
    if action != "confirm":
        raise InvalidParameter("only confirming a flag can put its number on the watchlist", field="watchlist")
    if rule is None or not rule.fraud or flag["subject_type"] not in ("number", "prefix"):
        raise InvalidParameter("this flag's subject is not a number of a fraud pattern", code="flag_not_watchable",
                               field="watchlist")
    scope = watch.get("scope", "region")
    scope_id = watch.get("scope_id")
    if scope == "region":
        scope_id = flag["region_id"] if scope_id is None else scope_id
        if scope_id != flag["region_id"]:
            raise InvalidParameter("the watchlist scope must be the flag's own region", field="watchlist.scope_id")
    elif scope == "facility":
        if scope_id not in flag["facility_ids"]:
            raise InvalidParameter("the watchlist scope must be one of the flag's facilities",
                                   field="watchlist.scope_id")
    else:
        scope_id = 0
    return await watchlist.add_entry(
        conn, scope=scope, scope_id=scope_id, pattern_kind="prefix" if flag["subject_type"] == "prefix" else "number",
        pattern=flag["subject_key"], mode=watch.get("mode", "blocked"),
        reason=f"confirmed flag {flag['id']} ({flag['rule_id']})", user_id=user_id, actor=actor,
        source_flag_id=flag["id"])


async def assign(conn: asyncpg.Connection, flag_id: int, assignee_id: int | None, *, user_id: int, actor: Actor,
                 facility_ids: list[int] | None, region_ids: list[int] | None) -> dict[str, Any]:
    flag = await get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids, lock=True)
    await conn.execute("UPDATE detection_flags SET assigned_to = $2 WHERE id = $1", flag_id, assignee_id)
    await conn.execute(
        "INSERT INTO detection_flag_events (flag_id, kind, assigned_to, actor_id) VALUES ($1, 'assigned', $2, $3)",
        flag_id, assignee_id, user_id)
    await append(conn, _log(flag["region_id"]), action="detection.flag_assigned", subject_type="detection_flag",
                 subject_id=flag_id, payload={"assigned_to": assignee_id}, actor=actor)
    return await get_flag(conn, flag_id, facility_ids=None, region_ids=None)


async def add_note(conn: asyncpg.Connection, flag_id: int, note: str, *, user_id: int, actor: Actor,
                   facility_ids: list[int] | None, region_ids: list[int] | None) -> dict[str, Any]:
    if not note.strip():
        raise InvalidParameter("a note needs text", code="note_empty", field="note")
    flag = await get_flag(conn, flag_id, facility_ids=facility_ids, region_ids=region_ids, lock=True)
    row = await conn.fetchrow(
        "INSERT INTO detection_flag_events (flag_id, kind, note, actor_id) VALUES ($1, 'note', $2, $3)"
        " RETURNING event_id, kind, note, actor_id, at", flag_id, note, user_id)
    # The note's text stays in the flag's history; the audit record says that a note was added, not what.
    await append(conn, _log(flag["region_id"]), action="detection.flag_noted", subject_type="detection_flag",
                 subject_id=flag_id, payload={"event_id": row["event_id"]}, actor=actor)
    return dict(row)


async def list_flags(conn: asyncpg.Connection, *, facility_ids: list[int] | None, region_ids: list[int] | None,
                     status: str | None = None, rule_id: str | None = None, subject_type: str | None = None,
                     subject_key: str | None = None, assigned_to: int | None = None,
                     after: tuple[datetime, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Flags newest first (by last triggering record), keyset-paginated on (last_event_at, id)."""
    sql = _scoped("""SELECT fl.* FROM detection_flags fl WHERE /*scope*/
              AND ($3::text IS NULL OR fl.status = $3) AND ($4::text IS NULL OR fl.rule_id = $4)
              AND ($5::text IS NULL OR fl.subject_type = $5) AND ($6::text IS NULL OR fl.subject_key = $6)
              AND ($7::bigint IS NULL OR fl.assigned_to = $7)
              AND ($8::timestamptz IS NULL OR (fl.last_event_at, fl.id) < ($8, $9::bigint))
            ORDER BY fl.last_event_at DESC, fl.id DESC LIMIT $10""")
    rows = await conn.fetch(sql, facility_ids, region_ids, status, rule_id, subject_type, subject_key, assigned_to,
                            after[0] if after else None, after[1] if after else None, limit)
    return [dict(r) for r in rows]


async def queue(conn: asyncpg.Connection, *, facility_ids: list[int] | None, region_ids: list[int] | None,
                days: int = 30, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Subjects with open or acknowledged flags, ranked by composite score over ``days`` days.

    The score is the sum of the weights of the distinct rules that flagged the subject in the window
    (dismissed flags do not count; one rule counts once however many periods it flagged), so variety of
    suspicious activity outranks repetition of one pattern. Each weight is scaled by the rule's measured
    precision in the region, (confirmed + 1) / (reviewed + 1): a rule whose flags reviewers keep dismissing
    sinks, one without reviews keeps its weight.
    """
    sql = _scoped("""
        WITH visible AS (
            SELECT fl.* FROM detection_flags fl
             WHERE /*scope*/ AND fl.status <> 'dismissed'
               AND fl.last_event_at >= now() - make_interval(days => $3::int)),
        measured AS (
            SELECT region_id, rule_id, (count(*) FILTER (WHERE status = 'confirmed') + 1)::float8
                   / (count(*) FILTER (WHERE status IN ('confirmed', 'dismissed')) + 1) AS factor
              FROM detection_flags
             WHERE region_id IN (SELECT DISTINCT region_id FROM visible) AND status IN ('confirmed', 'dismissed')
             GROUP BY region_id, rule_id),
        per_rule AS (
            SELECT v.region_id, v.subject_type, v.subject_key, v.rule_id,
                   max(v.weight) * coalesce(min(m.factor), 1) AS weight, count(*) AS flags,
                   count(*) FILTER (WHERE v.status IN ('open', 'acknowledged')) AS pending,
                   max(v.last_event_at) AS last_event_at, array_agg(v.id ORDER BY v.last_event_at DESC) AS flag_ids,
                   max(CASE v.severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) AS sev
              FROM visible v
              LEFT JOIN measured m ON m.region_id IS NOT DISTINCT FROM v.region_id AND m.rule_id = v.rule_id
             GROUP BY v.region_id, v.subject_type, v.subject_key, v.rule_id)
        SELECT region_id, subject_type, subject_key, round(sum(weight)::numeric, 3)::float8 AS score, sum(flags)::int AS flags,
               sum(pending)::int AS pending, array_agg(rule_id ORDER BY weight DESC, rule_id) AS rules,
               max(last_event_at) AS last_event_at,
               (ARRAY['low', 'medium', 'high'])[max(sev)] AS max_severity,
               (SELECT array_agg(x ORDER BY x DESC) FROM unnest(array_agg(flag_ids[1])) x) AS latest_flag_ids
          FROM per_rule
         GROUP BY region_id, subject_type, subject_key
        HAVING sum(pending) > 0
         ORDER BY score DESC, max(last_event_at) DESC, subject_type, subject_key
         LIMIT $4 OFFSET $5""")
    return [dict(r) for r in await conn.fetch(sql, facility_ids, region_ids, days, limit, offset)]


async def precision(conn: asyncpg.Connection, *, facility_ids: list[int] | None,
                    region_ids: list[int] | None) -> list[dict[str, Any]]:
    """Measured precision per rule: confirmed ÷ reviewed (confirmed + dismissed)."""
    rows = {r["rule_id"]: r for r in await conn.fetch(_scoped(
        "SELECT rule_id, count(*) AS flags, count(*) FILTER (WHERE status = 'confirmed') AS confirmed,"
        " count(*) FILTER (WHERE status = 'dismissed') AS dismissed,"
        " count(*) FILTER (WHERE status IN ('open', 'acknowledged')) AS pending"
        " FROM detection_flags fl WHERE /*scope*/ GROUP BY rule_id"), facility_ids, region_ids)}
    out = []
    for rule_id, rule in BY_ID.items():
        r = rows.get(rule_id)
        confirmed, dismissed = (r["confirmed"], r["dismissed"]) if r else (0, 0)
        reviewed = confirmed + dismissed
        out.append({"rule_id": rule_id, "rule_version": rule.version, "flags": r["flags"] if r else 0,
                    "pending": r["pending"] if r else 0, "confirmed": confirmed, "dismissed": dismissed,
                    "reviewed": reviewed, "precision": round(confirmed / reviewed, 3) if reviewed else None})
    return out


def validate_params(rule_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Known keys only, each of its default's type (ints may stand for floats); lists of strings stay lists."""
    rule = get_rule(rule_id)
    if rule is None:
        raise RuleNotFound(f"no rule {rule_id}", field="rule_id")
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if key not in rule.defaults:
            raise InvalidParameter(f"{rule_id} has no parameter {key}", field=f"params.{key}")
        default = rule.defaults[key]
        ok = (isinstance(default, bool) and isinstance(value, bool)) or (
            isinstance(default, int) and not isinstance(default, bool) and isinstance(value, int)
            and not isinstance(value, bool)) or (
            isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(default, list) and isinstance(value, list) and all(isinstance(x, str) for x in value))
        if not ok:
            raise InvalidParameter(f"{key} must be of the same type as its default ({type(default).__name__})",
                                   field=f"params.{key}")
        if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 1_000_000:
            raise InvalidParameter(f"{key} must be between 0 and 1000000", field=f"params.{key}")
        if isinstance(value, list) and (len(value) > 50 or any(not 1 <= len(x) <= 16 for x in value)):
            raise InvalidParameter(f"{key}: at most 50 entries of 1 to 16 characters", field=f"params.{key}")
        clean[key] = value
    return clean


async def effective_params(conn: asyncpg.Connection, region_id: int) -> dict[str, dict[str, Any]]:
    rows = {r["rule_id"]: r for r in await conn.fetch(
        "SELECT rule_id, params, enabled FROM detection_rule_params WHERE region_id = $1", region_id)}
    out = {}
    for rule_id, rule in BY_ID.items():
        r = rows.get(rule_id)
        out[rule_id] = {"params": {**rule.defaults, **(r["params"] if r else {})},
                        "overrides": r["params"] if r else {}, "enabled": r["enabled"] if r else True}
    return out


async def set_params(conn: asyncpg.Connection, region_id: int, rule_id: str, params: dict[str, Any], enabled: bool,
                     *, user_id: int, actor: Actor) -> dict[str, Any]:
    clean = validate_params(rule_id, params)
    await conn.execute(
        """INSERT INTO detection_rule_params (region_id, rule_id, params, enabled, updated_by)
           VALUES ($1, $2, $3::text::jsonb, $4, $5)
           ON CONFLICT (region_id, rule_id) DO UPDATE
              SET params = EXCLUDED.params, enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by,
                  updated_at = now()""", region_id, rule_id, json.dumps(clean), enabled, user_id)
    await append(conn, LogRef.region(region_id), action="detection.rule_params_set", subject_type="detection_rule",
                 subject_id=rule_id, payload={"params": clean, "enabled": enabled}, actor=actor)
    return (await effective_params(conn, region_id))[rule_id]
