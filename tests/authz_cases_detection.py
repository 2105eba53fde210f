"""Authorisation cases for detection: flags, review actions, rule parameters, watchlist and link view.

Security staff, the regional office and admins review flags within their scope; officers never see them
(officer-integrity rules are about officers). Only the regional office and admins set rule parameters.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.authz import SAME, Case, World

REVIEWERS = frozenset({"security", "regional", "admin"})
POLICY = frozenset({"regional", "admin"})
_n = itertools.count(1)

CASES = [
    Case("GET", "/api/v1/detection/rules?region_id={region_id}", REVIEWERS),
    Case("PUT", "/api/v1/detection/rules/{rule_id}/params", POLICY,
         body={"region_id": "{region_id}", "params": {"min_inmates": 4}}),
    Case("GET", "/api/v1/flags?facility_id={facility_id}", REVIEWERS),
    Case("GET", "/api/v1/flags/queue?facility_id={facility_id}", REVIEWERS),
    Case("GET", "/api/v1/flags/precision?facility_id={facility_id}", REVIEWERS),
    Case("GET", "/api/v1/flags/{flag_id}", REVIEWERS),
    Case("POST", "/api/v1/flags/{flag_id}/acknowledge", REVIEWERS, body={}, fresh=("flag_id",)),
    Case("POST", "/api/v1/flags/{flag_id}/confirm", REVIEWERS, body={"reason": "terbukti"}, fresh=("flag_id",)),
    Case("POST", "/api/v1/flags/{flag_id}/dismiss", REVIEWERS, body={"reason": "keluarga"}, fresh=("flag_id",)),
    # The fresh flag is dismissed by the second maker (the query parameter is ignored by the endpoint).
    Case("POST", "/api/v1/flags/{flag_id}/reopen?closed={dismissed}", REVIEWERS, body={"reason": "bukti baru"},
         fresh=("flag_id", "dismissed")),
    Case("POST", "/api/v1/flags/{flag_id}/assign", REVIEWERS, body={"user_id": "{user_id}"}),
    Case("POST", "/api/v1/flags/{flag_id}/notes", REVIEWERS, body={"note": "diperiksa"}),
    Case("GET", "/api/v1/watchlist", REVIEWERS, foreign=SAME),
    Case("POST", "/api/v1/watchlist", REVIEWERS,
         body={"pattern": "{unique_phone}", "mode": "watched", "scope": "facility", "scope_id": "{facility_id}",
               "reason": "uji"}),
    Case("DELETE", "/api/v1/watchlist/{entry_id}", REVIEWERS, fresh=("entry_id",)),
    Case("POST", "/api/v1/links/number", REVIEWERS, body={"number": "{unique_phone}"}, foreign=SAME),
    Case("GET", "/api/v1/links/inmates/{inmate_id}", REVIEWERS),
]


async def _flag(world: World, scope: str, status: str = "open") -> int:
    s = world.scopes[scope]
    reviewer = world.scopes["own"].get("reviewer_id")
    return await world.factory.conn.fetchval(
        """INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,
                                        facility_ids, severity, weight, evidence, status, last_event_at, reviewed_by,
                                        reviewed_at, review_reason)
           VALUES ('shared_number', 1, $1, 'number', $2, now(), ARRAY[$3::bigint], 'high', 5, '{}', $4, now(),
                   CASE WHEN $4 IN ('confirmed', 'dismissed') THEN $5::bigint END,
                   CASE WHEN $4 IN ('confirmed', 'dismissed') THEN now() END,
                   CASE WHEN $4 = 'dismissed' THEN 'uji' END)
           RETURNING id""", s["region_id"], f"+62877{next(_n):08d}", s["facility_id"], status, reviewer)


async def _fresh_open(world: World, scope: str, principal: str) -> Any:
    flag_id = await _flag(world, scope)
    world.scopes[scope]["last_fresh_flag"] = flag_id
    return flag_id


async def _dismiss_last(world: World, scope: str, principal: str) -> Any:
    flag_id = world.scopes[scope]["last_fresh_flag"]
    await world.factory.conn.execute(
        "UPDATE detection_flags SET status = 'dismissed', reviewed_by = $2, reviewed_at = now(), review_reason = 'uji'"
        " WHERE id = $1", flag_id, world.scopes["own"]["reviewer_id"])
    return flag_id


async def _fresh_entry(world: World, scope: str, principal: str) -> Any:
    s = world.scopes[scope]
    return await world.factory.conn.fetchval(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('facility', $1, 'number', $2, 'blocked', 'uji') RETURNING id",
        s["facility_id"], f"+62878{next(_n):08d}")


async def extend_world(world: World) -> None:
    world.scopes["own"]["reviewer_id"] = world.user_ids["admin"]
    for scope in ("own", "foreign"):
        world.scopes[scope]["flag_id"] = await _flag(world, scope)
        world.scopes[scope]["rule_id"] = "shared_number"
    world.fresh_makers.update({"flag_id": _fresh_open, "dismissed": _dismiss_last, "entry_id": _fresh_entry})
