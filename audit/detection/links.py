"""Link view: who else called or registered a number, or an inmate's numbers, across facilities.

Returned as nodes and edges the pages can draw. Legal-counsel numbers never appear as links: querying one
returns the number alone, marked ``legal_counsel``; they are left out of an inmate's graph. Inmates in
facilities outside the viewer's scope appear without id or name (their facility only), so a facility's
security staff see that a number reaches elsewhere without seeing who there. Such an inmate's node id is a
keyed hash (HMAC-SHA-256 with the service's secret) of the inmate id: stable, so one person shared by two
numbers is one node, but not invertible to the id without the secret (a multiplicative permutation was).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import asyncpg

_COUNSEL = "SELECT DISTINCT phone_e164 FROM contacts WHERE is_legal_counsel AND status = 'verified'"

_NUMBER_EDGES = """
SELECT x.inmate_id, x.num, x.kind, count(*) AS n, max(x.t) AS last_at, i.full_name, i.registration_no,
       i.current_facility_id AS facility_id, i.status
  FROM (SELECT c.inmate_id, c.dialled_e164 AS num, 'called' AS kind, c.started_at AS t
          FROM calls c WHERE c.dialled_e164 = ANY($1::text[]) AND c.started_at >= $2 AND c.inmate_id IS NOT NULL
        UNION ALL
        SELECT k.inmate_id, k.phone_e164, 'registered', k.created_at
          FROM contacts k WHERE k.phone_e164 = ANY($1::text[]) AND k.status IN ('pending', 'verified')) x
  JOIN inmates i ON i.id = x.inmate_id
 GROUP BY x.inmate_id, x.num, x.kind, i.full_name, i.registration_no, i.current_facility_id, i.status
"""


def redacted_inmate_key(redaction_key: bytes, inmate_id: int) -> str:
    """The node id of an inmate the viewer may not see: a keyed hash, the same for every query."""
    digest = hmac.new(redaction_key, f"link-view inmate {inmate_id}".encode(), hashlib.sha256).hexdigest()
    return f"inmate:x{digest[:24]}"


def _inmate_node(row: asyncpg.Record, visible: list[int] | None, redaction_key: bytes) -> dict[str, Any]:
    if visible is None or row["facility_id"] in visible:
        return {"id": f"inmate:{row['inmate_id']}", "type": "inmate", "inmate_id": row["inmate_id"],
                "label": row["full_name"], "registration_no": row["registration_no"],
                "facility_id": row["facility_id"], "status": row["status"]}
    return {"id": redacted_inmate_key(redaction_key, row["inmate_id"]), "type": "inmate", "redacted": True,
            "facility_id": row["facility_id"]}


async def _flag_counts(conn: asyncpg.Connection, subject_type: str, keys: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT subject_key, count(*) AS n FROM detection_flags WHERE subject_type = $1 AND subject_key = ANY($2::text[])"
        " AND status <> 'dismissed' GROUP BY subject_key", subject_type, keys)
    return {r["subject_key"]: r["n"] for r in rows}


async def number_links(conn: asyncpg.Connection, e164: str, *, visible_facility_ids: list[int] | None,
                       redaction_key: bytes, days: int = 180, now: datetime | None = None) -> dict[str, Any]:
    """The number, every inmate who called or registered it in ``days`` days, and their facilities."""
    counsel = {r["phone_e164"] for r in await conn.fetch(_COUNSEL)}
    root = {"id": f"number:{e164}", "type": "number", "label": e164, "root": True}
    if e164 in counsel:
        return {"nodes": [{**root, "legal_counsel": True}], "edges": [], "legal_counsel": True}
    since = (now or datetime.now().astimezone()) - timedelta(days=days)
    rows = await conn.fetch(_NUMBER_EDGES, [e164], since)
    nodes: dict[str, dict[str, Any]] = {root["id"]: root}
    edges = []
    for r in rows:
        node = _inmate_node(r, visible_facility_ids, redaction_key)
        nodes.setdefault(node["id"], node)
        edges.append({"source": node["id"], "target": root["id"], "kind": r["kind"], "count": r["n"],
                      "last_at": r["last_at"].isoformat()})
    root["flags"] = (await _flag_counts(conn, "number", [e164])).get(e164, 0)
    facilities = sorted({n["facility_id"] for n in nodes.values() if n["type"] == "inmate"})
    return {"nodes": list(nodes.values()), "edges": edges, "legal_counsel": False, "facility_ids": facilities,
            "inmates": sum(1 for n in nodes.values() if n["type"] == "inmate")}


async def inmate_links(conn: asyncpg.Connection, inmate_id: int, *, visible_facility_ids: list[int] | None,
                       redaction_key: bytes, days: int = 180, now: datetime | None = None) -> dict[str, Any]:
    """The inmate, the numbers they called or registered (not legal counsel), and every other inmate on them."""
    counsel = [r["phone_e164"] for r in await conn.fetch(_COUNSEL)]
    since = (now or datetime.now().astimezone()) - timedelta(days=days)
    nums = [r["num"] for r in await conn.fetch(
        """SELECT DISTINCT num FROM (
               SELECT dialled_e164 AS num FROM calls WHERE inmate_id = $1 AND started_at >= $2 AND dialled_e164 IS NOT NULL
               UNION SELECT phone_e164 FROM contacts WHERE inmate_id = $1 AND status IN ('pending', 'verified')) x
            WHERE num <> ALL($3::text[])""", inmate_id, since, counsel)]
    rows = await conn.fetch(_NUMBER_EDGES, nums, since)
    nodes: dict[str, dict[str, Any]] = {}
    edges = []
    flag_counts = await _flag_counts(conn, "number", nums)
    for num in nums:
        nodes[f"number:{num}"] = {"id": f"number:{num}", "type": "number", "label": num,
                                  "flags": flag_counts.get(num, 0)}
    for r in rows:
        node = _inmate_node(r, visible_facility_ids, redaction_key)
        if r["inmate_id"] == inmate_id:
            node["root"] = True
        nodes.setdefault(node["id"], node)
        edges.append({"source": node["id"], "target": f"number:{r['num']}", "kind": r["kind"], "count": r["n"],
                      "last_at": r["last_at"].isoformat()})
    shared = {e["target"] for e in edges if e["source"] != f"inmate:{inmate_id}"}
    for n in nodes.values():
        if n["type"] == "number":
            n["shared"] = n["id"] in shared
    return {"nodes": list(nodes.values()), "edges": edges, "legal_counsel_excluded": True}
